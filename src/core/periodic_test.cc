#include "core/periodic.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace tokend::core {
namespace {

using std::chrono::milliseconds;

TEST(PeriodicThreadTest, CallsRepeatedlyUntilStopped) {
  std::atomic<int> calls{0};
  PeriodicThread thread(milliseconds{5}, [&] { ++calls; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (calls.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{1});
  }
  thread.Stop();
  const int stopped_at = calls.load();
  EXPECT_GE(stopped_at, 3);
  std::this_thread::sleep_for(milliseconds{30});
  EXPECT_EQ(calls.load(), stopped_at) << "no call after Stop returned";
  thread.Stop();  // idempotent
}

TEST(PeriodicThreadTest, StopDoesNotWaitForTheInterval) {
  std::atomic<int> calls{0};
  const auto started = std::chrono::steady_clock::now();
  {
    PeriodicThread thread(std::chrono::hours{1}, [&] { ++calls; });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds{5});
  EXPECT_EQ(calls.load(), 0) << "the first call comes one interval after the start";
}

}  // namespace
}  // namespace tokend::core
