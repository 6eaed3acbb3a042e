// The listener, the sessions and the thread pool (Boost.Beast + Asio, C++20 coroutines).
//
// Invariants:
//  1. Every connection runs on its own strand; its Connection is touched only there.
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
#include <chrono>
#include <condition_variable>
#include <csignal>
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
// One request must arrive completely within 30 s of its first byte: slow-loris clients would
// otherwise hold connections (and file descriptors) for ever.
constexpr auto kReadTimeout = 30s;
// An idle keep-alive connection is closed after 60 s: longer than typical client pools
// (nginx upstream keepalive_timeout 60 s, Node's agent 5 s) so they close first, short enough
// to shed abandoned connections.
constexpr auto kIdleTimeout = 60s;
// A client that does not take its response within 30 s is gone or hostile.
constexpr auto kWriteTimeout = 30s;
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

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool idle = false;  // waiting for the next request; only touched on the strand
};

bool IsDisconnect(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::operation_aborted || ec == beast::error::timeout ||
         ec == bhttp::error::partial_message;
}

// Half-closes and discards what the client still sends (see kLingerTime).
asio::awaitable<void> Linger(beast::tcp_stream& stream) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  stream.expires_after(kLingerTime);
  char discard[16 * 1024];
  std::size_t total = 0;
  while (total < kLingerBytes) {
    auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(discard), kUseTuple);
    if (read_ec) break;
    total += n;
  }
}

Request ToRequest(bhttp::request<bhttp::string_body>& message) {
  Request request;
  request.method = std::string(message.method_string());
  request.headers.reserve(16);
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    request.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request.body = std::move(message.body());
  return request;
}

bhttp::response<bhttp::string_body> ToBeast(Response&& response, unsigned version, bool keep_alive,
                                            bool head) {
  bhttp::response<bhttp::string_body> message(static_cast<bhttp::status>(response.status), version);
  for (auto& [name, value] : response.headers) message.insert(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  // HEAD: the GET answer's headers, Content-Length included, without the body (204 and 304
  // never carry a Content-Length).
  if (head && message.result() != bhttp::status::no_content &&
      message.result() != bhttp::status::not_modified) {
    auto length = message.body().size();
    message.body().clear();
    message.content_length(length);
  }
  return message;
}

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, Services s) : options(o), env(std::move(o), s) {}

  asio::awaitable<void> Listen();
  asio::awaitable<void> Serve(std::shared_ptr<Connection> connection, std::string client_ip);
  asio::awaitable<void> Session(Connection& connection, const std::string& client_ip);
  void Forget(const std::shared_ptr<Connection>& connection);

  ServerOptions options;
  Env env;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::condition_variable changed;
  bool stop_requested = false;                        // GUARDED_BY(mutex)
  std::set<std::shared_ptr<Connection>> connections;  // GUARDED_BY(mutex)
  // Declared after the members above: destroying it destroys suspended sessions, which may
  // still refer to them.
  asio::io_context ioc;
  std::optional<tcp::acceptor> acceptor;  // on its own strand
  std::uint16_t port = 0;
};

asio::awaitable<void> Server::Impl::Listen() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::make_strand(ioc), kUseTuple);
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
    auto connection = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mutex);
      if (stop_requested) break;
      connections.insert(connection);
    }
    auto executor = connection->stream.get_executor();
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
  connection->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  connection->stream.socket().close(ignored);
  Forget(connection);
}

asio::awaitable<void> Server::Impl::Session(Connection& connection, const std::string& client_ip) {
  beast::tcp_stream& stream = connection.stream;
  beast::flat_buffer buffer(kBufferLimit);
  bool first = true;
  for (;;) {
    connection.idle = true;
    if (stopping) co_return;
    if (buffer.size() == 0) {
      // Wait for the next request's first byte: the idle (keep-alive) limit applies.
      stream.expires_after(first ? kReadTimeout : kIdleTimeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      if (ec) co_return;
      buffer.commit(n);
    }
    connection.idle = false;
    first = false;

    stream.expires_after(kReadTimeout);
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kUseTuple);
    if (!ec && !parser.is_done()) {
      auto expect = parser.get()[bhttp::field::expect];
      if (EqualsIgnoreCase(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on(bhttp::status::continue_, 11);
        auto [write_ec, written] = co_await bhttp::async_write(stream, go_on, kUseTuple);
        if (write_ec) co_return;
      }
      std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, kUseTuple);
    }
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
      if (parser.is_header_done()) {  // e.g. a body too large: log what was asked for
        rejected.method = std::string(parser.get().method_string());
        if (!ParseTarget(parser.get().target(), rejected)) {
          rejected.path.clear();
          rejected.segments.clear();
        }
      }
      Response response = env.Reject(rejected, status, detail);
      auto message = ToBeast(std::move(response), 11, false, false);
      auto [write_ec, written] = co_await bhttp::async_write(stream, message, kUseTuple);
      if (!write_ec) co_await Linger(stream);
      co_return;  // the rest of the stream cannot be trusted
    }

    auto message = parser.release();
    Request request = ToRequest(message);
    request.client_ip = client_ip;
    Response response;
    bool keep_alive = message.keep_alive();
    if (auto target = ParseTarget(message.target(), request); !target) {
      response = env.Reject(request, 400, target.error().public_message);
      keep_alive = false;
    } else {
      response = env.Handle(request);
    }
    if (stopping) keep_alive = false;
    bool head = message.method() == bhttp::verb::head;
    auto reply = ToBeast(std::move(response), message.version(), keep_alive, head);
    stream.expires_after(kWriteTimeout);
    auto [write_ec, written] = co_await bhttp::async_write(stream, reply, kUseTuple);
    if (write_ec || !keep_alive) co_return;
  }
}

Server::Server(ServerOptions options, Services services)
    : impl_(std::make_unique<Impl>(std::move(options), services)) {}

Server::~Server() {
  Stop();
  impl_->ioc.stop();
  // Streams must not outlive the io_context: drop the registry's references while it lives.
  std::lock_guard lock(impl_->mutex);
  impl_->connections.clear();
}

core::Result<void> Server::Start() {
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(impl_->options.address, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, impl_->options.port);
  } else {  // a host name such as "localhost": its first address
    tcp::resolver resolver(impl_->ioc);
    auto results = resolver.resolve(impl_->options.address, std::to_string(impl_->options.port),
                                    tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return tl::unexpected(core::InvalidArgument("Cannot resolve the listen address " +
                                                  impl_->options.address + "."));
    }
    endpoint = results.begin()->endpoint();
  }
  auto& acceptor = impl_->acceptor.emplace(asio::make_strand(impl_->ioc));
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
  return core::Ok();
}

std::uint16_t Server::port() const { return impl_->port; }

void Server::Run(std::function<void()> on_stopping) {
  Impl& impl = *impl_;
  asio::signal_set signals(impl.ioc, SIGINT, SIGTERM);
  signals.async_wait([this](const beast::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", signal);
    Stop();
  });
  auto work = asio::make_work_guard(impl.ioc);
  int count = impl.options.threads > 0 ? impl.options.threads
                                       : static_cast<int>(std::thread::hardware_concurrency());
  if (count < 1) count = 1;
  std::vector<std::thread> threads;
  threads.reserve(count);
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&impl] {
      for (;;) {
        try {
          impl.ioc.run();
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
  if (on_stopping) on_stopping();
  work.reset();
  impl.ioc.stop();
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
    asio::post(connection->stream.get_executor(), [connection] {
      if (connection->idle) connection->stream.cancel();
    });
  }
}

}  // namespace tokend::http
