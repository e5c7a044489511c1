// The HTTP client over real TCP on 127.0.0.1, against the raw test server and a small CONNECT
// proxy built on RelayProtocol: keep-alive, a server closing pooled connections, redirects,
// timeouts, cancellation, uploads, tunnels. Every wait is a bounded reactor loop.
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/relay.hpp"
#include "torsion/web/client.hpp"
#include "web/client_helpers.hpp"

namespace torsion::web {
namespace {

using test::Eventually;
using test::RawAnswer;
using test::RawRequest;
using test::spinUntil;
using ResponsePtr = std::unique_ptr<Response>;

// ---- a CONNECT proxy for the tests -------------------------------------------------------------

struct ProxyLog {
  std::vector<std::string> connects;  // request lines
  bool refuse = false;
};

// Reads "CONNECT host:port HTTP/1.1 ... CRLF CRLF", connects to host:port, answers 200 and
// splices the two connections (RelayProtocol does the relaying, with backpressure).
class TestConnectProxy final : public protocols::RelayProtocol {
 public:
  TestConnectProxy(IReactorNet& net, std::shared_ptr<ProxyLog> log)
      : net_(net), log_(std::move(log)) {}

  void dataReceived(std::string_view data) override {
    if (handshakeDone_) {
      RelayProtocol::dataReceived(data);
      return;
    }
    head_.append(data);
    const auto end = head_.find("\r\n\r\n");
    if (end == std::string::npos) return;
    handshakeDone_ = true;
    const std::string line = head_.substr(0, head_.find("\r\n"));
    log_->connects.push_back(line);
    if (log_->refuse) {
      transport->write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      transport->loseConnection();
      return;
    }
    const std::string authority = line.substr(8, line.rfind(' ') - 8);
    const auto colon = authority.rfind(':');
    const std::string host = authority.substr(0, colon);
    const auto port = static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1)));
    awaitPeer();
    const std::string rest = head_.substr(end + 4);
    if (!rest.empty()) RelayProtocol::dataReceived(rest);
    TCP4ClientEndpoint endpoint(net_, host, port);
    endpoint.connect(Factory::forProtocol<protocols::RelayProtocol>())
        .addCallbacks(
            [self = this, alive = alive_](Protocol* p) {
              if (!*alive) {
                p->transport->loseConnection();
                return;
              }
              self->transport->write("HTTP/1.1 200 Connection established\r\n\r\n");
              RelayProtocol::splice(*self, *static_cast<protocols::RelayProtocol*>(p));
            },
            [self = this, alive = alive_](const Failure&) {
              if (!*alive) return;
              self->transport->write("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
              self->transport->loseConnection();
            });
  }

  void connectionLost(const Failure& reason) override {
    *alive_ = false;
    RelayProtocol::connectionLost(reason);
  }

 private:
  IReactorNet& net_;
  std::shared_ptr<ProxyLog> log_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::string head_;
  bool handshakeDone_ = false;
};

class ClientTcp : public ::testing::Test {
 protected:
  void SetUp() override {
    server->handler = [](const RawRequest&, int, int) { return RawAnswer{test::ok("hello")}; };
    port = net.listenTCP(0, test::rawServerFactory(server),
                         TCPListenOptions{.interface = "127.0.0.1"});
  }
  void TearDown() override {
    port->stopListening();
    if (proxyPort) proxyPort->stopListening();
    for (int i = 0; i < 10; ++i) reactor.iterate(Seconds(0.005));
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port->getHost().port()) + std::string(path);
  }

  // The body of `method url`, through `agent`.
  std::string fetch(IAgent& agent, const std::string& u) {
    Eventually<std::string> body(
        agent.request("GET", u).addCallback([](ResponsePtr r) { return readBody(std::move(r)); }));
    EXPECT_TRUE(spinUntil(reactor, [&] { return body.fired(); }));
    if (!body.ok()) {
      ADD_FAILURE() << (body.fired() ? body.failure().describe() : "no result");
      return {};
    }
    return body.value();
  }

  std::string startProxy() {
    proxyPort = net.listenTCP(0, std::make_shared<Factory>([this]() -> std::unique_ptr<Protocol> {
                                return std::make_unique<TestConnectProxy>(net, proxyLog);
                              }),
                              TCPListenOptions{.interface = "127.0.0.1"});
    return "http://127.0.0.1:" + std::to_string(proxyPort->getHost().port());
  }

  Reactor reactor;
  IReactorNet& net = network(reactor);
  std::shared_ptr<test::RawServerState> server = std::make_shared<test::RawServerState>();
  std::shared_ptr<IListeningPort> port;
  std::shared_ptr<ProxyLog> proxyLog = std::make_shared<ProxyLog>();
  std::shared_ptr<IListeningPort> proxyPort;
};

TEST_F(ClientTcp, getReturnsTheBody) {
  Eventually<std::string> page(get(net, url("/")));
  ASSERT_TRUE(spinUntil(reactor, [&] { return page.fired(); }));
  ASSERT_TRUE(page.ok()) << page.failure().describe();
  EXPECT_EQ(page.value(), "hello");
}

TEST_F(ClientTcp, twoRequestsGoOnOneKeptAliveConnection) {
  Agent agent(net);
  EXPECT_EQ(fetch(agent, url("/1")), "hello");
  EXPECT_EQ(fetch(agent, url("/2")), "hello");
  EXPECT_EQ(server->connections, 1);
  ASSERT_EQ(server->requests.size(), 2u);
  EXPECT_EQ(server->requests[1].requestLine(), "GET /2 HTTP/1.1");
}

TEST_F(ClientTcp, pooledConnectionClosedByTheServerUnderTheRequestIsRetried) {
  // The second request on a connection finds it closed by the server, as when a server's idle
  // timeout strikes just as the request arrives: the pool retries on a new connection.
  server->handler = [](const RawRequest&, int, int n) {
    return n == 0 ? RawAnswer{test::ok("fresh")} : RawAnswer{"", true};
  };
  Agent agent(net);
  EXPECT_EQ(fetch(agent, url("/1")), "fresh");
  EXPECT_EQ(fetch(agent, url("/2")), "fresh");
  EXPECT_EQ(server->connections, 2);
  EXPECT_EQ(server->requests.size(), 3u);
}

TEST_F(ClientTcp, pooledConnectionClosedByTheServerWhileIdleIsReplaced) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{test::ok("x"), true}; };
  Agent agent(net);
  EXPECT_EQ(fetch(agent, url("/1")), "x");
  ASSERT_TRUE(spinUntil(reactor, [&] { return agent.pool()->cachedConnections() == 0; }));
  EXPECT_EQ(fetch(agent, url("/2")), "x");
  EXPECT_EQ(server->connections, 2);
}

TEST_F(ClientTcp, redirectsAreFollowedOnTheSameConnection) {
  server->handler = [](const RawRequest& r, int, int) {
    if (r.requestLine() == "GET /a HTTP/1.1") {
      return RawAnswer{"HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 3\r\n\r\n..."};
    }
    return RawAnswer{test::ok("at b")};
  };
  Agent agent(net);
  RedirectAgent redirecting(agent);
  EXPECT_EQ(fetch(redirecting, url("/a")), "at b");
  EXPECT_EQ(server->connections, 1);
  Eventually<std::string> page(get(net, url("/a")));
  ASSERT_TRUE(spinUntil(reactor, [&] { return page.fired(); }));
  EXPECT_EQ(page.value(), "at b");
}

TEST_F(ClientTcp, getFailsWithTheStatusOfAnError) {
  server->handler = [](const RawRequest&, int, int) {
    return RawAnswer{"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"};
  };
  Eventually<std::string> page(get(net, url("/")));
  ASSERT_TRUE(spinUntil(reactor, [&] { return page.fired(); }));
  ASSERT_FALSE(page.ok());
  const auto* e = page.failure().value<HTTPError>();
  ASSERT_NE(e, nullptr) << page.failure().describe();
  EXPECT_EQ(e->code(), 503);
  EXPECT_EQ(e->body(), "busy");
}

TEST_F(ClientTcp, timeoutAbortsASilentServer) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  Eventually<std::string> page(get(net, url("/"), RequestOptions{.timeout = Seconds(0.1)}));
  ASSERT_TRUE(spinUntil(reactor, [&] { return page.fired(); }));
  EXPECT_TRUE(page.failure().check<TimeoutError>()) << page.failure().describe();
  EXPECT_TRUE(spinUntil(reactor, [&] { return server->lost == 1; }));
}

TEST_F(ClientTcp, cancellingTheRequestDropsTheConnection) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  Agent agent(net);
  Deferred<ResponsePtr> d = agent.request("GET", url("/"));
  Eventually<ResponsePtr> result(d);
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->requests.size() == 1; }));
  d.cancel();
  ASSERT_TRUE(result.fired());
  EXPECT_TRUE(result.failure().check<CancelledError>());
  EXPECT_TRUE(spinUntil(reactor, [&] { return server->lost == 1; }));
  EXPECT_EQ(agent.pool()->cachedConnections(), 0u);
}

TEST_F(ClientTcp, refusedConnectionIsConnectionRefusedError) {
  const std::string dead = url("/");
  port->stopListening();
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.005));
  Agent agent(net);
  Eventually<ResponsePtr> r(agent.request("GET", dead));
  ASSERT_TRUE(spinUntil(reactor, [&] { return r.fired(); }));
  EXPECT_TRUE(r.failure().check<ConnectionRefusedError>()) << r.failure().describe();
}

TEST_F(ClientTcp, fileBodyIsUploadedWithItsLength) {
  server->handler = [](const RawRequest& r, int, int) {
    return RawAnswer{test::ok(std::to_string(r.body.size()) + ":" + r.field("Content-Length"))};
  };
  std::string big(1 << 20, 'z');
  big[12345] = 'a';
  auto body = std::make_shared<FileBodyProducer>(reactor, std::make_unique<std::istringstream>(big),
                                                 16 * 1024);
  Agent agent(net);
  Eventually<std::string> answer(
      agent.request("PUT", url("/up"), {}, body).addCallback([](ResponsePtr r) {
        return readBody(std::move(r));
      }));
  ASSERT_TRUE(spinUntil(reactor, [&] { return answer.fired(); }));
  ASSERT_TRUE(answer.ok()) << answer.failure().describe();
  EXPECT_EQ(answer.value(), "1048576:1048576");
  EXPECT_EQ(server->requests[0].body, big);
}

TEST_F(ClientTcp, largeResponseBodyArrivesWholeThroughAPausingReceiver) {
  const std::string big(4 << 20, 'q');
  server->handler = [&big](const RawRequest&, int, int) { return RawAnswer{test::ok(big)}; };
  Agent agent(net);
  Eventually<ResponsePtr> r(agent.request("GET", url("/big")));
  ASSERT_TRUE(spinUntil(reactor, [&] { return r.fired(); }));
  ASSERT_TRUE(r.ok());
  auto log = std::make_shared<test::BodyLog>();
  // Pause after every read and resume on the next turn of the loop: the body still arrives
  // whole, at the receiver's pace.
  log->onData = [this](test::BodyLog& l) {
    l.producer->pauseProducing();
    reactor.callLater(Seconds(0), [&l] {
      if (l.producer != nullptr) l.producer->resumeProducing();
    });
  };
  r.value()->deliverBody(std::make_unique<test::RecordingReceiver>(log));
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return log->end.has_value(); }, 4000));
  EXPECT_TRUE(log->end->check<ResponseDone>()) << log->end->describe();
  EXPECT_EQ(log->data.size(), big.size());
  EXPECT_GT(log->reads, 1);
}

TEST_F(ClientTcp, connectProxyTunnelCarriesRequestsAndIsReused) {
  Agent agent(net, AgentOptions{.proxy = startProxy()});
  EXPECT_EQ(fetch(agent, url("/1")), "hello");
  EXPECT_EQ(fetch(agent, url("/2")), "hello");
  ASSERT_EQ(proxyLog->connects.size(), 1u);
  EXPECT_EQ(proxyLog->connects[0],
            "CONNECT 127.0.0.1:" + std::to_string(port->getHost().port()) + " HTTP/1.1");
  EXPECT_EQ(server->connections, 1);
  EXPECT_EQ(server->requests.size(), 2u);
}

TEST_F(ClientTcp, refusingProxyFailsTheRequestWithItsStatus) {
  proxyLog->refuse = true;
  Agent agent(net, AgentOptions{.proxy = startProxy()});
  Eventually<ResponsePtr> r(agent.request("GET", url("/")));
  ASSERT_TRUE(spinUntil(reactor, [&] { return r.fired(); }));
  const auto* e = r.failure().value<ProxyConnectError>();
  ASSERT_NE(e, nullptr) << r.failure().describe();
  EXPECT_EQ(e->code(), 403);
  EXPECT_EQ(server->connections, 0);
}

}  // namespace
}  // namespace torsion::web
