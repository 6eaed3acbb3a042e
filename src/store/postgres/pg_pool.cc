#include "store/postgres/pg_pool.h"

#include <string>
#include <utility>

namespace tokend::store::postgres {

ConnectionPool::ConnectionPool(ConnectionSettings settings, std::size_t max_size,
                               std::chrono::milliseconds acquire_timeout)
    : settings_(std::move(settings)), max_size_(max_size), acquire_timeout_(acquire_timeout) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)) {}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + acquire_timeout_;
  for (;;) {
    std::unique_ptr<Connection> conn;
    {
      std::unique_lock lock(mutex_);
      if (!available_.wait_until(lock, deadline,
                                 [&] { return !idle_.empty() || open_ < max_size_; })) {
        return tl::unexpected(core::Unavailable(
            "connection pool exhausted: all " + std::to_string(max_size_) +
            " connections busy for " + std::to_string(acquire_timeout_.count()) + " ms"));
      }
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        ++open_;
      }
    }
    if (conn) {
      if (conn->Healthy()) return Lease(this, std::move(conn));
      // Broken while idle (server restarted, connection killed): drop it and try again.
      conn.reset();
      std::lock_guard lock(mutex_);
      --open_;
      continue;
    }
    auto opened = Connection::Open(settings_);
    if (!opened) {
      {
        std::lock_guard lock(mutex_);
        --open_;
      }
      available_.notify_one();
      return tl::unexpected(std::move(opened.error()));
    }
    return Lease(this, std::move(*opened));
  }
}

void ConnectionPool::Release(std::unique_ptr<Connection> conn) {
  const bool reusable = conn->Idle() && conn->Healthy();
  if (!reusable) conn.reset();  // close outside the lock
  {
    std::lock_guard lock(mutex_);
    if (reusable) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  available_.notify_one();
}

}  // namespace tokend::store::postgres
