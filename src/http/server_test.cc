// The server over real loopback sockets: keep-alive, pipelining, limits, malformed input and
// graceful shutdown. (The handlers themselves are tested without sockets in handlers_test.cc.)
#include "http/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <cctype>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/env.h"
#include "http/http_test_fixture.h"

namespace tokend::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

struct RawResponse {
  std::string head;  // status line and headers, through the blank line
  std::string body;  // Content-Length bytes (none when the head has no Content-Length)
};

// One response read off a keep-alive connection, leaving the connection at the next one.
RawResponse ReadResponse(tcp::socket& socket) {
  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n\r\n");
  RawResponse response;
  response.head.assign(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  response.head.resize(response.head.find("\r\n\r\n") + 4);
  buffer.consume(response.head.size());
  const auto at = response.head.find("Content-Length: ");
  const std::size_t length =
      at == std::string::npos ? 0 : std::stoul(response.head.substr(at + 16));
  if (buffer.size() < length) {
    asio::read(socket, buffer, asio::transfer_exactly(length - buffer.size()));
  }
  response.body.assign(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
  return response;
}

class ServerTest : public HttpTest {
 protected:
  void SetUp() override {
    HttpTest::SetUp();
    if (HasFatalFailure()) return;
    ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<Server>(options, MakeServices());
    auto started = server_->Start();
    ASSERT_TRUE(started) << Describe(started.error());
    ASSERT_NE(server_->port(), 0);
    runner_ = std::thread([this] {
      server_->Run([this] { stopping_called_ = true; });
      returned_ = true;
    });
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (runner_.joinable()) runner_.join();
    server_.reset();
  }

  tcp::socket Connect() {
    tcp::socket socket(io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    // A hung server must fail the test, not hang it.
    timeval timeout{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return socket;
  }

  // Everything the server sends until it closes the connection (or 5 s pass).
  static std::string ReadAll(tcp::socket& socket) {
    std::string out;
    char buffer[8192];
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = socket.read_some(asio::buffer(buffer), ec);
      out.append(buffer, n);
      if (ec) break;
    }
    return out;
  }

  std::string Exchange(const std::string& raw) {
    tcp::socket socket = Connect();
    asio::write(socket, asio::buffer(raw));
    return ReadAll(socket);
  }

  asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread runner_;
  std::atomic<bool> stopping_called_{false};
  std::atomic<bool> returned_{false};
};

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  std::string reply = Exchange(
      "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /api/v1/nothing HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  auto ok = reply.find("HTTP/1.1 200");
  auto missing = reply.find("HTTP/1.1 404");
  auto ready = reply.find("HTTP/1.1 200", missing);
  ASSERT_NE(ok, std::string::npos) << reply;
  ASSERT_NE(missing, std::string::npos) << reply;
  ASSERT_NE(ready, std::string::npos) << reply;
  EXPECT_LT(ok, missing);
  EXPECT_THAT(reply, HasSubstr("X-Content-Type-Options: nosniff"));
}

TEST_F(ServerTest, OversizedHeaderIs431AndCloses) {
  std::string reply = Exchange(
      "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 431")) << reply.substr(0, 200);
}

TEST_F(ServerTest, OversizedBodyIsRefusedFromContentLengthBeforeItIsSent) {
  // Only the header is sent: the answer must not wait for the 300 KB body.
  std::string reply = Exchange(
      "POST /api/v1/tokens HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: 300000\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply.substr(0, 200);
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  std::string chunk = std::string(64 * 1024, 'x');
  std::string raw =
      "POST /api/v1/tokens HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) raw += "10000\r\n" + chunk + "\r\n";
  tcp::socket socket = Connect();
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(raw), ec);  // the server may close before all is sent
  std::string reply = ReadAll(socket);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply.substr(0, 200);
}

TEST_F(ServerTest, MalformedRequestsAre400AndClose) {
  for (const char* raw : {"NONSENSE\r\n\r\n", "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
                          "GET http://evil/x HTTP/1.1\r\nHost: t\r\n\r\n",
                          "GET /a/../b HTTP/1.1\r\nHost: t\r\n\r\n"}) {
    std::string reply = Exchange(raw);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << raw << " -> " << reply.substr(0, 100);
  }
  // The server is still there.
  EXPECT_TRUE(Exchange("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 200"));
}

TEST_F(ServerTest, HeadAnswersWithTheLengthButNoBody) {
  std::string get = Exchange("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  std::string head = Exchange("HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_THAT(head, HasSubstr("Content-Length: 15"));
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
  EXPECT_TRUE(get.ends_with(R"({"status":"ok"})")) << get;
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndRunReturns) {
  tcp::socket idle = Connect();
  asio::write(idle, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")));
  char buffer[1024];
  ASSERT_GT(idle.read_some(asio::buffer(buffer)), 0u);  // answered; now idle, kept alive
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  runner_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(returned_);
  EXPECT_TRUE(stopping_called_);
  boost::system::error_code ec;
  idle.read_some(asio::buffer(buffer), ec);
  EXPECT_TRUE(ec) << "the idle connection should have been closed";
}

TEST_F(ServerTest, KeepAliveConnectionServesManyRequestsWithFreshIdsAndBodies) {
  // Buffers and the request object are reused per connection: nothing may leak from one
  // answer into the next (a longer body followed by a shorter one, headers, ids).
  tcp::socket socket = Connect();
  std::string first_id;
  for (const char* path : {"/api/v1/nothing-here", "/healthz", "/api/v1/nothing-here"}) {
    std::string raw = std::string("GET ") + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
    asio::write(socket, asio::buffer(raw));
    auto [head, body] = ReadResponse(socket);
    const auto length_at = head.find("Content-Length: ");
    ASSERT_NE(length_at, std::string::npos) << head;
    EXPECT_EQ(body.size(), std::stoul(head.substr(length_at + 16))) << head;
    EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
    auto id = head.find("X-Request-Id: ");
    ASSERT_NE(id, std::string::npos) << head;
    std::string request_id = head.substr(id + 14, 16);
    EXPECT_NE(request_id, first_id);
    first_id = request_id;
  }
}

// Held by BlockUntilReleased until a test sets it.
std::atomic<bool> release_blocked{false};
std::atomic<bool> blocked_started{false};
std::atomic<bool> blocked_finished{false};

Response BlockUntilReleased(const Env&, Request&) {
  blocked_started = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!release_blocked && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Response response;
  response.status = 200;
  response.body = "released";
  blocked_finished = true;
  return response;
}

// A handler stuck in a long write (or a password hash) runs on the blocking pool: the only
// I/O thread goes on answering other requests meanwhile.
TEST_F(HttpTest, BlockingRoutesLeaveTheIoThreadFree) {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  Server server(options, MakeServices());
  server.AddRoute("POST", "/test/block", BlockUntilReleased);  // kBlocking by its method
  ASSERT_TRUE(server.Start());
  std::thread runner([&] { server.Run(); });

  asio::io_context io;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), server.port());
  tcp::socket blocked(io);
  blocked.connect(endpoint);
  asio::write(blocked, asio::buffer(std::string(
                           "POST /test/block HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!blocked_started && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(blocked_started);

  // Were the handler on the I/O thread, this answer would wait for it (up to its 10 s).
  tcp::socket other(io);
  other.connect(endpoint);
  asio::write(other, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")));
  asio::streambuf answer;
  boost::system::error_code ec;
  asio::read_until(other, answer, "\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_FALSE(blocked_finished) << "/healthz was answered only after the blocking handler";
  std::string status_line(asio::buffers_begin(answer.data()), asio::buffers_end(answer.data()));
  EXPECT_THAT(status_line, HasSubstr("HTTP/1.1 200"));

  release_blocked = true;
  asio::streambuf released;
  asio::read_until(blocked, released, "released", ec);
  ASSERT_FALSE(ec) << ec.message();
  server.Stop();
  runner.join();
}

// A server of the test's own options and routes, serving on a thread until destroyed.
class RunningServer {
 public:
  RunningServer(HttpTest& test, ServerOptions options,
                std::vector<std::pair<std::string, Handler>> get_routes = {})
      : server_(options, test.MakeServices()) {
    for (auto& [path, handler] : get_routes) server_.AddRoute("GET", path, handler);
    auto started = server_.Start();
    EXPECT_TRUE(started);
    runner_ = std::thread([this] { server_.Run(); });
  }
  ~RunningServer() {
    server_.Stop();
    runner_.join();
  }
  tcp::endpoint endpoint() const {
    return tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_.port());
  }

 private:
  Server server_;
  std::thread runner_;
};

ServerOptions LoopbackOptions() {
  ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  return options;
}

// Seconds until the server closes `socket` (reads and discards what it sends), or 10.
double SecondsUntilClosed(tcp::socket& socket) {
  const auto start = std::chrono::steady_clock::now();
  timeval timeout{10, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[4096];
  boost::system::error_code ec;
  while (!ec) socket.read_some(asio::buffer(buffer), ec);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(HttpTest, IncompleteRequestIsCutOffAtTheRequestTimeout) {
  ServerOptions options = LoopbackOptions();
  options.request_timeout = std::chrono::seconds(1);
  RunningServer server(*this, options);
  asio::io_context io;
  tcp::socket slow(io);
  slow.connect(server.endpoint());
  asio::write(slow, asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: t\r\n")));
  const double seconds = SecondsUntilClosed(slow);
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 3.5) << "a slow-loris client kept its connection";
}

TEST_F(HttpTest, IdleConnectionIsClosedAtTheIdleTimeoutButActiveOneIsKept) {
  ServerOptions options = LoopbackOptions();
  options.idle_timeout = std::chrono::seconds(1);
  RunningServer server(*this, options);
  asio::io_context io;
  const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

  // Requests every 0.4 s for 3 s: each one re-arms the deadline, so the connection stays.
  tcp::socket active(io);
  active.connect(server.endpoint());
  for (int i = 0; i < 8; ++i) {
    asio::write(active, asio::buffer(healthz));
    asio::streambuf answer;
    boost::system::error_code ec;
    asio::read_until(active, answer, "\r\n\r\n", ec);
    ASSERT_FALSE(ec) << "request " << i << ": " << ec.message();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }

  const double seconds = SecondsUntilClosed(active);
  EXPECT_GE(seconds, 0.5);
  EXPECT_LT(seconds, 3.5) << "an idle keep-alive connection was not closed";
}

// Echoes the request's headers and body, to show what the session's reused Request holds.
Response EchoRequest(const Env&, Request& request) {
  Response response;
  for (const auto& [name, value] : request.headers) response.body += name + "=" + value + ";";
  response.body += "body=" + request.body;
  return response;
}

TEST_F(HttpTest, ReusedRequestCarriesNothingIntoTheNextRequestOfAConnection) {
  RunningServer server(*this, LoopbackOptions(), {{"/test/echo", EchoRequest}});
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(server.endpoint());
  auto exchange = [&](const std::string& raw) {
    asio::write(socket, asio::buffer(raw));
    return ReadResponse(socket).body;
  };
  EXPECT_EQ(exchange("GET /test/echo HTTP/1.1\r\nHost: t\r\nX-Long-Name: a value longer than "
                     "any short string\r\nAUTHORIZATION: Bearer x\r\nContent-Length: 3\r\n\r\nxyz"),
            "host=t;x-long-name=a value longer than any short string;authorization=Bearer x;"
            "content-length=3;body=xyz");
  EXPECT_EQ(exchange("GET /test/echo HTTP/1.1\r\nHost: u\r\n\r\n"), "host=u;body=");
  EXPECT_EQ(exchange("GET /test/echo HTTP/1.1\r\nHost: v\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"),
            "host=v;transfer-encoding=chunked;body=abc");
}

TEST(SerializeResponseTest, FramesBodyAndConnection) {
  Response response;
  response.status = 200;
  response.Set("Content-Type", "application/json");
  response.body = R"({"a":1})";
  std::string out;
  SerializeResponse(response, 11, true, false, out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
            R"({"a":1})");
  SerializeResponse(response, 11, false, true, out);  // HEAD, closing: no body
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            "Connection: close\r\n\r\n");
  SerializeResponse(response, 10, true, false, out);
  EXPECT_THAT(out, ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(out, HasSubstr("Connection: keep-alive\r\n"));
}

TEST(SerializeResponseTest, NoContentHasNoLengthAndHandlerFramingHeadersAreIgnored) {
  Response response;
  response.status = 204;
  response.Add("X-Auth-User-Id", "u1");
  response.Add("Content-Length", "99");
  response.Add("Connection", "upgrade");
  std::string out;
  SerializeResponse(response, 11, true, false, out);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nX-Auth-User-Id: u1\r\n\r\n");
}

TEST(SerializeResponseTest, HeaderWithLineBreakIsDroppedNotSent) {
  Response response;
  response.status = 200;
  response.Add("Location", "/a\r\nSet-Cookie: stolen=1");
  response.Add("X-Ok", "yes");
  std::string out;
  SerializeResponse(response, 11, true, false, out);
  EXPECT_EQ(out.find("stolen"), std::string::npos) << out;
  EXPECT_THAT(out, HasSubstr("X-Ok: yes\r\n"));
}

TEST(RequestIdTest, UniqueAcrossThreadsAndBase62) {
  constexpr int kPerThread = 20000;
  std::vector<std::string> a, b;
  std::thread other([&] {
    for (int i = 0; i < kPerThread; ++i) b.push_back(NewRequestId());
  });
  for (int i = 0; i < kPerThread; ++i) a.push_back(NewRequestId());
  other.join();
  std::set<std::string> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 2u * kPerThread);
  for (const std::string& id : all) {
    ASSERT_EQ(id.size(), 16u) << id;
    for (char c : id) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
  }
}

}  // namespace
}  // namespace tokend::http
