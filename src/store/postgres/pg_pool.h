// A bounded pool of PostgreSQL connections.
//
// INVARIANTS (under mutex_):
//  1. open_ counts idle, leased and being-opened connections; open_ <= max_size_.
//  2. A connection goes back to idle_ only when healthy and outside a transaction;
//     otherwise it is closed and its slot freed, so a broken connection is never reused.
// Connections are opened lazily, outside the lock, and checked (without a round trip) when
// taken from idle_, so a server restart costs no failed request once it is back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "store/postgres/pg_connection.h"

namespace tokend::store::postgres {

class ConnectionPool {
 public:
  // REQUIRES: max_size >= 1.
  ConnectionPool(ConnectionSettings settings, std::size_t max_size,
                 std::chrono::milliseconds acquire_timeout);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection on loan; returned to the pool (or closed if unfit) when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Waits up to the acquire timeout for a free slot. kUnavailable when the pool stays
  // exhausted that long or when a new connection cannot be opened. Thread-safe.
  Result<Lease> Acquire();

  const ConnectionSettings& settings() const { return settings_; }

 private:
  void Release(std::unique_ptr<Connection> conn);

  const ConnectionSettings settings_;
  const std::size_t max_size_;
  const std::chrono::milliseconds acquire_timeout_;

  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(mutex_)
  std::size_t open_ = 0;                           // GUARDED_BY(mutex_)
};

}  // namespace tokend::store::postgres
