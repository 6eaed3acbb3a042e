// A background thread that calls a function every `interval` until it is stopped: the loop of
// the activity flush, the external-change watch and the SQLite checkpoints.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace tokend::core {

class PeriodicThread {
 public:
  // Starts the thread; the first call comes one `interval` from now.
  PeriodicThread(std::chrono::milliseconds interval, std::function<void()> tick);
  // Stop().
  ~PeriodicThread();
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Wakes the thread at once and joins it, after the call in progress, if any, returns.
  // Idempotent; not to be called from `tick` or from two threads at once.
  void Stop();

 private:
  void Run();

  const std::chrono::milliseconds interval_;
  const std::function<void()> tick_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;     // last: starts once the members above exist
};

}  // namespace tokend::core
