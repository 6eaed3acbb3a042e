// The listener, the sessions and the thread pool (Boost.Beast + Asio, C++20 coroutines).
//
// Threading: one io_context per thread (a Worker), each run by exactly one thread; the
// listener deals accepted sockets to them in turn. A connection lives on one worker for its
// whole life, so its handlers never run concurrently and no strand (and no executor hop per
// operation) is needed. Handlers of Execution::kBlocking routes (store writes, password hashes)
// run on a separate pool of kBlockingThreads while their session waits: the I/O threads keep
// serving verifications, and up to kBlockingThreads writes at once can share one commit.
//
// Timeouts: a session arms its connection's deadline, in whole seconds of its worker's clock,
// before each read or write; once a second the worker cancels the pending I/O of connections
// whose deadline has passed (Watch). A timer per operation (beast::tcp_stream) cost a timer-heap
// insertion, a removal and a cancelled-handler dispatch for every read and write; the sweep
// costs nothing per request. With RequestParser below: /auth/verify +4-6% requests/s
// (docs/performance.md).
//
// Invariants:
//  1. A Connection is touched only by the thread of its worker (Stop() posts there).
//  2. A session reads one request, answers it and only then reads the next: pipelined
//     requests are answered in order and at most one response per connection is queued.
//  3. Once stopping_ is set, no connection starts reading a new request and every response
//     says "Connection: close".
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "http/env.h"

namespace tokend::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Limits, each with its reason.
// Request headers: 16 KiB holds a bearer token, a session cookie and every ordinary header
// many times over; bigger is an attack or a broken client (431).
constexpr std::uint32_t kHeaderLimit = 16 * 1024;
// Request bodies: the largest legitimate body (a multi-select delete of 1000 ids, about
// 24 KiB) with ample headroom; refused from Content-Length before buffering (413).
constexpr std::uint64_t kBodyLimit = 256 * 1024;
// Bytes buffered ahead of the parser: a header plus a body plus one read of pipelined data.
constexpr std::size_t kBufferLimit = kHeaderLimit + kBodyLimit + 64 * 1024;
// At shutdown, in-flight requests get this long to finish and flush before the threads stop.
constexpr auto kShutdownGrace = 10s;
// After a failed accept (e.g. out of file descriptors), wait before retrying instead of
// spinning.
constexpr auto kAcceptBackoff = 100ms;
// After refusing a request whose body may still be arriving, unread bytes are discarded for
// up to 2 s or 1 MiB before closing: closing with unread data makes the kernel send a reset,
// which can destroy the error response before the client reads it.
constexpr auto kLingerTime = 2s;
constexpr std::size_t kLingerBytes = 1024 * 1024;

// Threads of the blocking pool. Each mostly waits for a commit, so more than the cores pays:
// measured on 2 cores, token creation reached its best rate at 16. It also bounds the
// password hashes running at once (logins), each ~19 MiB of Argon2 memory.
constexpr int kBlockingThreads = 16;

// Bytes reserved for a serialized response: the /auth/verify answer with its headers is about
// 700 bytes; larger answers grow the string once and keep the capacity for the connection.
constexpr std::size_t kResponseReserve = 2048;

// The I/O thread's io_context and its clock for connection deadlines.
struct Worker {
  asio::io_context context{1};  // hint 1: run by one thread, so Asio may skip some locking
  // Whole seconds since the worker started, advanced by Watch.
  std::uint64_t seconds = 0;
};

struct Connection {
  static constexpr std::uint64_t kNoDeadline = std::numeric_limits<std::uint64_t>::max();

  Connection(tcp::socket s, Worker& w) : socket(std::move(s)), worker(w) {}

  // The pending read or write ends with operation_aborted once the worker's clock reaches
  // `deadline`: at least `timeout` from now, at most a second more.
  void Arm(std::chrono::seconds timeout) {
    deadline = worker.seconds + static_cast<std::uint64_t>(timeout.count()) + 1;
  }
  void Disarm() { deadline = kNoDeadline; }

  tcp::socket socket;
  Worker& worker;
  std::uint64_t deadline = kNoDeadline;
  bool idle = false;  // waiting for the next request
};

bool IsDisconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::operation_aborted || ec == bhttp::error::partial_message;
}

// Half-closes and discards what the client still sends (see kLingerTime).
asio::awaitable<void> Linger(Connection& connection) {
  beast::error_code ec;
  connection.socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  connection.Arm(kLingerTime);
  char discard[16 * 1024];
  std::size_t total = 0;
  while (total < kLingerBytes) {
    auto [read_ec, n] =
        co_await connection.socket.async_read_some(asio::buffer(discard), kUseTuple);
    if (read_ec) break;
    total += n;
  }
  connection.Disarm();
}

// Parses one request straight into a Request that the session reuses for all requests of its
// connection, so header strings keep their capacity. Beast's request_parser<string_body> built
// a node per header (an allocation each) that had to be copied into the Request again.
// Header names are lower-cased, values kept as received. Construct one per request: Beast's
// parsers cannot be reset.
class RequestParser final : public bhttp::basic_parser<true> {
 public:
  // Clears what the previous request left in `request`, except the client address.
  RequestParser(Request& request, std::string& target) : request_(request), target_(target) {
    request_.method.clear();
    request_.body.clear();
    request_.path_params.clear();
    request_.request_id.clear();
    target_.clear();
    header_limit(kHeaderLimit);
    body_limit(kBodyLimit);
    // The whole request is usually in the buffer already: parse it in one put().
    eager(true);
  }

  unsigned version() const { return version_; }
  bhttp::verb method() const { return method_; }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view method_string,
                       beast::string_view target, int version, beast::error_code&) override {
    method_ = method;
    version_ = static_cast<unsigned>(version);
    request_.method.assign(method_string.data(), method_string.size());
    target_.assign(target.data(), target.size());
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = bhttp::error::bad_version;  // never called for a request parser
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    Fields& headers = request_.headers;
    if (used_ == headers.size()) headers.emplace_back();
    auto& [lower, text] = headers[used_++];
    lower.assign(name.data(), name.size());
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    text.assign(value.data(), value.size());
  }
  void on_header_impl(beast::error_code&) override { request_.headers.resize(used_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code&) override {
    // Bounded by kBodyLimit: the parser refuses a larger Content-Length before this.
    if (content_length) request_.body.reserve(static_cast<std::size_t>(*content_length));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& request_;
  std::string& target_;
  std::size_t used_ = 0;  // headers filled so far; the rest of request_.headers is stale
  bhttp::verb method_ = bhttp::verb::unknown;
  unsigned version_ = 11;
};

void AppendNumber(std::string& out, std::size_t value) {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

}  // namespace

// Writes the status line, the headers and the body of `response` into `out` (cleared first),
// HTTP/1.1 framing: Content-Length except for 1xx/204/304, "Connection: close" when the
// connection ends after this answer (and "keep-alive" for HTTP/1.0 clients that keep it). HEAD
// answers carry the GET answer's Content-Length without the body. Written by hand rather than
// with Beast's serializer: that was ~10% of the CPU of a cached /auth/verify, mostly generic
// buffer-sequence code and one allocation per header.
void SerializeResponse(const Response& response, unsigned version, bool keep_alive, bool head,
                       std::string& out) {
  out.clear();
  int status = response.status;
  if (status < 100 || status > 999) status = 500;
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  AppendNumber(out, static_cast<std::size_t>(status));
  out += ' ';
  std::string_view reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out += reason.empty() ? std::string_view("Unknown") : reason;
  out += "\r\n";
  out += response.header_lines();
  const bool bodiless = StatusHasNoBody(status);
  if (!bodiless) {
    out += "Content-Length: ";
    AppendNumber(out, response.body.size());
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!bodiless && !head) out += response.body;
}

namespace {

int ThreadCount(const ServerOptions& options) {
  int count =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  return count < 1 ? 1 : count;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Services s) : options(o), env(std::move(o), s) {
    int count = ThreadCount(options);
    workers.reserve(count);
    for (int i = 0; i < count; ++i) workers.push_back(std::make_unique<Worker>());
  }

  asio::awaitable<void> Listen();
  asio::awaitable<void> Serve(std::shared_ptr<Connection> connection, std::string client_ip);
  asio::awaitable<void> Session(Connection& connection, const std::string& client_ip);
  asio::awaitable<void> Watch(Worker& worker);
  void Forget(const std::shared_ptr<Connection>& connection);
  asio::io_context& main() { return workers.front()->context; }

  ServerOptions options;
  Env env;
  // Declared after env, which its handlers use, and joined before the workers stop, so no
  // handler runs once its session may be gone (Run, ~Server).
  asio::thread_pool blocking{kBlockingThreads};
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable changed;
  bool stop_requested = false;                        // GUARDED_BY(mutex)
  std::set<std::shared_ptr<Connection>> connections;  // GUARDED_BY(mutex)
  // Declared after the members above: destroying them destroys suspended sessions, which may
  // still refer to them.
  std::vector<std::unique_ptr<Worker>> workers;  // one per I/O thread; [0] also listens
  std::optional<tcp::acceptor> acceptor;         // on workers[0]
  std::uint16_t port = 0;
};

asio::awaitable<void> Server::Impl::Listen() {
  std::size_t next = 0;
  for (;;) {
    Worker& target = *workers[next];
    next = (next + 1) % workers.size();
    auto [ec, socket] = co_await acceptor->async_accept(target.context, kUseTuple);
    if (stopping) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer backoff(co_await asio::this_coro::executor, kAcceptBackoff);
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    beast::error_code ignored;
    // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs cost keep-alive clients ~40 ms
    // per request (DESIGN.md §7).
    socket.set_option(tcp::no_delay(true), ignored);
    auto endpoint = socket.remote_endpoint(ignored);
    std::string client_ip = ignored ? std::string() : endpoint.address().to_string();
    auto connection = std::make_shared<Connection>(std::move(socket), target);
    {
      std::lock_guard lock(mutex);
      if (stop_requested) break;
      connections.insert(connection);
    }
    auto executor = connection->socket.get_executor();
    asio::co_spawn(executor, Serve(std::move(connection), std::move(client_ip)), asio::detached);
  }
}

void Server::Impl::Forget(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex);
  connections.erase(connection);
  changed.notify_all();
}

asio::awaitable<void> Server::Impl::Serve(std::shared_ptr<Connection> connection,
                                          std::string client_ip) {
  try {
    co_await Session(*connection, client_ip);
  } catch (const std::exception& e) {
    spdlog::error("connection from {} failed: {}", client_ip, e.what());
  }
  beast::error_code ignored;
  connection->socket.shutdown(tcp::socket::shutdown_send, ignored);
  connection->socket.close(ignored);
  Forget(connection);
}

asio::awaitable<void> Server::Impl::Watch(Worker& worker) {
  asio::steady_timer tick(worker.context);
  for (;;) {
    tick.expires_after(1s);
    auto [ec] = co_await tick.async_wait(kUseTuple);
    if (ec) co_return;
    ++worker.seconds;
    std::lock_guard lock(mutex);
    for (const auto& connection : connections) {
      if (&connection->worker != &worker || connection->deadline > worker.seconds) continue;
      connection->Disarm();
      beast::error_code ignored;
      connection->socket.cancel(ignored);
    }
  }
}

asio::awaitable<void> Server::Impl::Session(Connection& connection, const std::string& client_ip) {
  tcp::socket& socket = connection.socket;
  // Reused for every request of the connection: their capacity is allocated once.
  beast::flat_buffer buffer(kBufferLimit);
  std::string out;
  out.reserve(kResponseReserve);
  std::string target;
  Request request;
  request.client_ip = client_ip;
  std::optional<RequestParser> parser;
  bool first = true;
  for (;;) {
    connection.idle = true;
    if (stopping) co_return;
    if (buffer.size() == 0) {
      // Wait for the next request's first byte: the idle (keep-alive) limit applies.
      connection.Arm(first ? options.request_timeout : options.idle_timeout);
      auto [ec, n] = co_await socket.async_read_some(buffer.prepare(4096), kUseTuple);
      if (ec) co_return;
      buffer.commit(n);
    }
    connection.idle = false;
    first = false;

    connection.Arm(options.request_timeout);
    parser.emplace(request, target);
    beast::error_code ec;
    std::size_t used = parser->put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == bhttp::error::need_more) ec = {};
    if (!ec && !parser->is_done()) {
      if (!parser->is_header_done()) {
        std::size_t n = 0;
        std::tie(ec, n) = co_await bhttp::async_read_header(socket, buffer, *parser, kUseTuple);
      }
      if (!ec && !parser->is_done()) {
        if (EqualsIgnoreCase(request.Header("expect"), "100-continue")) {
          bhttp::response<bhttp::empty_body> go_on(bhttp::status::continue_, 11);
          auto [write_ec, written] = co_await bhttp::async_write(socket, go_on, kUseTuple);
          if (write_ec) co_return;
        }
        std::size_t n = 0;
        std::tie(ec, n) = co_await bhttp::async_read(socket, buffer, *parser, kUseTuple);
      }
    }
    connection.Disarm();
    if (ec) {
      if (IsDisconnect(ec)) co_return;
      int status = 400;
      std::string_view detail = "The request is malformed.";
      if (ec == bhttp::error::header_limit) {
        status = 431;
        detail = "The request header is too large.";
      } else if (ec == bhttp::error::body_limit) {
        status = 413;
        detail = "The request body is too large.";
      }
      Request rejected;
      rejected.client_ip = client_ip;
      if (parser->is_header_done()) {  // e.g. a body too large: log what was asked for
        rejected.method = request.method;
        if (!ParseTarget(target, rejected)) {
          rejected.path.clear();
          rejected.segments.clear();
        }
      }
      Response response = env.Reject(rejected, status, detail);
      SerializeResponse(response, 11, false, false, out);
      connection.Arm(options.write_timeout);
      auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(out), kUseTuple);
      if (!write_ec) co_await Linger(connection);
      co_return;  // the rest of the stream cannot be trusted
    }

    Response response;
    bool keep_alive = parser->keep_alive();
    if (auto parsed = ParseTarget(target, request); !parsed) {
      response = env.Reject(request, 400, parsed.error().public_message);
      keep_alive = false;
    } else if (const RouteMatch match = env.router().Match(request);
               match.kind == RouteMatch::Kind::kFound &&
               match.route->execution == Execution::kBlocking) {
      response = co_await asio::co_spawn(
          blocking, [&]() -> asio::awaitable<Response> { co_return env.Handle(request, match); },
          asio::use_awaitable);
    } else {
      response = env.Handle(request, match);
    }
    if (stopping) keep_alive = false;
    bool head = parser->method() == bhttp::verb::head;
    SerializeResponse(response, parser->version(), keep_alive, head, out);
    connection.Arm(options.write_timeout);
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(out), kUseTuple);
    connection.Disarm();
    if (write_ec || !keep_alive) co_return;
  }
}

Server::Server(ServerOptions options, Services services)
    : impl_(std::make_unique<Impl>(std::move(options), services)) {}

Server::~Server() {
  Stop();
  impl_->blocking.join();
  for (auto& worker : impl_->workers) worker->context.stop();
  // Streams must not outlive the io_context: drop the registry's references while it lives.
  std::lock_guard lock(impl_->mutex);
  impl_->connections.clear();
}

void Server::AddRoute(std::string method, std::string pattern, Handler handler,
                      Execution execution) {
  impl_->env.AddRoute(std::move(method), std::move(pattern), handler, execution);
}

core::Result<void> Server::Start() {
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(impl_->options.address, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, impl_->options.port);
  } else {  // a host name such as "localhost": its first address
    tcp::resolver resolver(impl_->main());
    auto results = resolver.resolve(impl_->options.address, std::to_string(impl_->options.port),
                                    tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return tl::unexpected(core::InvalidArgument("Cannot resolve the listen address " +
                                                  impl_->options.address + "."));
    }
    endpoint = results.begin()->endpoint();
  }
  auto& acceptor = impl_->acceptor.emplace(impl_->main());
  std::string where = impl_->options.address + ":" + std::to_string(impl_->options.port);
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return tl::unexpected(core::Unavailable("cannot open a socket: " + ec.message()));
  }
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    core::Error error = core::Unavailable("cannot bind " + where + ": " + ec.message());
    error.public_message = "Cannot listen on " + where + ": " + ec.message();
    return tl::unexpected(std::move(error));
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return tl::unexpected(core::Unavailable("cannot listen on " + where + ": " + ec.message()));
  }
  impl_->port = acceptor.local_endpoint(ec).port();
  asio::co_spawn(acceptor.get_executor(), impl_->Listen(), asio::detached);
  for (auto& worker : impl_->workers) {
    asio::co_spawn(worker->context, impl_->Watch(*worker), asio::detached);
  }
  return core::Ok();
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::Run(std::function<void()> on_stopping) {
  Impl& impl = *impl_;
  asio::signal_set signals(impl.main(), SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", signal);
    Stop();
  });
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  for (auto& worker : impl.workers) work.push_back(asio::make_work_guard(worker->context));
  std::vector<std::thread> threads;
  threads.reserve(impl.workers.size());
  for (auto& worker : impl.workers) {
    threads.emplace_back([&ioc = worker->context] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("I/O thread: unhandled exception: {}", e.what());
        }
      }
    });
  }

  {
    std::unique_lock lock(impl.mutex);
    impl.changed.wait(lock, [&] { return impl.stop_requested; });
    // In-flight requests finish; idle connections were closed by Stop().
    impl.changed.wait_for(lock, kShutdownGrace, [&] { return impl.connections.empty(); });
    if (!impl.connections.empty()) {
      spdlog::warn("{} connections still open after {} s; closing them", impl.connections.size(),
                   kShutdownGrace.count());
    }
  }
  // Handlers still running finish and hand their answers to the I/O threads, still running.
  impl.blocking.join();
  if (on_stopping) on_stopping();
  work.clear();
  for (auto& worker : impl.workers) worker->context.stop();
  for (std::thread& thread : threads) thread.join();
}

void Server::Stop() {
  Impl& impl = *impl_;
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.stop_requested) return;
    impl.stop_requested = true;
    impl.stopping = true;
    open.assign(impl.connections.begin(), impl.connections.end());
    impl.changed.notify_all();
  }
  if (impl.acceptor) {
    asio::post(impl.acceptor->get_executor(), [&impl] {
      beast::error_code ignored;
      impl.acceptor->close(ignored);
    });
  }
  for (auto& connection : open) {
    asio::post(connection->socket.get_executor(), [connection] {
      beast::error_code ignored;
      if (connection->idle) connection->socket.cancel(ignored);
    });
  }
}

}  // namespace tokend::http
