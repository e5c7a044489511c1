// Agent, HTTPConnectionPool, RedirectAgent, proxies and web::get on a MemoryReactor: connection
// attempts are completed through the in-memory loopback (ConnectionCompleter), against the raw
// test server, and time is virtual.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/connection_completer.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/web/client.hpp"
#include "web/client_helpers.hpp"

namespace torsion::web {
namespace {

using torsion::testing::assertNoResult;
using torsion::testing::failureResultOf;
using torsion::testing::successResultOf;
using ResponsePtr = std::unique_ptr<Response>;
using test::RawAnswer;
using test::RawRequest;

class AgentMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    reactor.hosts["example.com"] = {"10.0.0.1"};
    reactor.hosts["other.test"] = {"10.0.0.2"};
    reactor.hosts["proxy.test"] = {"10.0.0.9"};
    server->handler = [](const RawRequest&, int, int) { return RawAnswer{test::ok("hello")}; };
    reactor.listenTCP(80, test::rawServerFactory(server),
                      TCPListenOptions{.interface = "10.0.0.1"});
  }

  // Completes every connection attempt and moves every byte until nothing moves.
  void settle() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      while (completer.pending() > 0 && completer.succeedOnce() != nullptr) moved = true;
      moved = completer.flush() || moved;
      if (!moved) return;
    }
    FAIL() << "the loopback did not settle";
  }

  std::string fetch(IAgent& agent, std::string url, std::string method = "GET") {
    auto d = agent.request(method, url);
    settle();
    auto body = readBody(successResultOf(d));
    settle();
    return successResultOf(body);
  }

  torsion::testing::MemoryReactor reactor;
  torsion::testing::ConnectionCompleter completer{reactor};
  std::shared_ptr<test::RawServerState> server = std::make_shared<test::RawServerState>();
};

TEST_F(AgentMemory, sendsHostAndOriginFormTargetAndConnectsWithTheOptions) {
  Agent agent(reactor, AgentOptions{.connectTimeout = Seconds(7)});
  auto d = agent.request("GET", "http://example.com/a/b?c#frag", {{"X-Test", "1"}});
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(reactor.tcpClients[0].host, "example.com");
  EXPECT_EQ(reactor.tcpClients[0].port, 80);
  EXPECT_EQ(reactor.tcpClients[0].timeout, Seconds(7));
  settle();
  ASSERT_EQ(server->requests.size(), 1u);
  EXPECT_EQ(server->requests[0].head, "GET /a/b?c HTTP/1.1\r\nHost: example.com\r\nX-Test: 1\r\n");
  ResponsePtr r = successResultOf(d);
  EXPECT_EQ(r->request.absoluteURI, "http://example.com/a/b?c");
  EXPECT_EQ(r->request.headers.getHeader("Host"), "example.com");
}

TEST_F(AgentMemory, callersHostFieldIsSentInsteadOfTheURLs) {
  Agent agent(reactor);
  fetch(agent, "http://example.com/");
  auto d = agent.request("GET", "http://example.com/", {{"Host", "virtual.test"}});
  settle();
  ASSERT_EQ(server->requests.size(), 2u);
  EXPECT_EQ(server->requests[1].field("Host"), "virtual.test");
  EXPECT_EQ(server->requests[1].head.find("example.com"), std::string::npos);
  successResultOf(d);
}

TEST_F(AgentMemory, keepAliveReusesOneConnectionForSequentialRequests) {
  Agent agent(reactor);
  EXPECT_EQ(fetch(agent, "http://example.com/1"), "hello");
  EXPECT_EQ(agent.pool()->cachedConnections(), 1u);
  EXPECT_EQ(fetch(agent, "http://example.com/2"), "hello");
  EXPECT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(server->connections, 1);
  ASSERT_EQ(server->requests.size(), 2u);
  EXPECT_EQ(server->requests[1].requestLine(), "GET /2 HTTP/1.1");
}

TEST_F(AgentMemory, poolKeepsAtMostMaxPersistentPerHost) {
  Agent agent(reactor);
  std::vector<Deferred<std::string>> bodies;
  for (int i = 0; i < 3; ++i) {
    bodies.push_back(agent.request("GET", "http://example.com/").addCallback([](ResponsePtr r) {
      return readBody(std::move(r));
    }));
  }
  settle();
  for (auto& b : bodies) EXPECT_EQ(successResultOf(b), "hello");
  EXPECT_EQ(server->connections, 3);
  EXPECT_EQ(agent.pool()->cachedConnections(), 2u);
  EXPECT_EQ(server->lost, 1);
}

TEST_F(AgentMemory, idleConnectionsCloseAfterTheCachedConnectionTimeout) {
  Agent agent(reactor);
  fetch(agent, "http://example.com/");
  reactor.advance(Seconds(239));
  settle();
  EXPECT_EQ(agent.pool()->cachedConnections(), 1u);
  reactor.advance(Seconds(1));
  settle();
  EXPECT_EQ(agent.pool()->cachedConnections(), 0u);
  EXPECT_EQ(server->lost, 1);
}

TEST_F(AgentMemory, idleConnectionClosedByTheServerLeavesThePool) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{test::ok("x"), true}; };
  Agent agent(reactor);
  fetch(agent, "http://example.com/");
  EXPECT_EQ(agent.pool()->cachedConnections(), 0u);
  EXPECT_EQ(fetch(agent, "http://example.com/"), "x");
  EXPECT_EQ(server->connections, 2);
}

TEST_F(AgentMemory, reusedConnectionClosedUnderTheRequestIsRetriedOnce) {
  // The server answers the first request on a connection and closes it when the second comes,
  // as a server whose idle timeout strikes just as the request arrives.
  server->handler = [](const RawRequest&, int, int n) {
    return n == 0 ? RawAnswer{test::ok("fresh")} : RawAnswer{"", true};
  };
  Agent agent(reactor);
  EXPECT_EQ(fetch(agent, "http://example.com/1"), "fresh");
  EXPECT_EQ(fetch(agent, "http://example.com/2"), "fresh");
  EXPECT_EQ(server->connections, 2);
  ASSERT_EQ(server->requests.size(), 3u);
  EXPECT_EQ(server->requests[2].requestLine(), "GET /2 HTTP/1.1");
}

TEST_F(AgentMemory, requestsWithABodyAreNotRetried) {
  server->handler = [](const RawRequest&, int, int n) {
    return n == 0 ? RawAnswer{test::ok("fresh")} : RawAnswer{"", true};
  };
  Agent agent(reactor);
  fetch(agent, "http://example.com/1");
  auto d = agent.request("POST", "http://example.com/2", {},
                         std::make_shared<StringBodyProducer>("data"));
  settle();
  failureResultOf<ResponseNeverReceived>(d);
  EXPECT_EQ(server->connections, 1);
}

TEST_F(AgentMemory, aFreshConnectionIsNotRetried) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{"", true}; };
  Agent agent(reactor);
  auto d = agent.request("GET", "http://example.com/");
  settle();
  failureResultOf<ResponseNeverReceived>(d);
  EXPECT_EQ(server->connections, 1);
}

TEST_F(AgentMemory, nonPersistentPoolSendsConnectionCloseAndKeepsNothing) {
  auto pool = HTTPConnectionPool::create(reactor, PoolOptions{.persistent = false});
  Agent agent(reactor, AgentOptions{.pool = pool});
  fetch(agent, "http://example.com/");
  EXPECT_TRUE(server->requests[0].hasField("Connection: close"));
  EXPECT_EQ(pool->cachedConnections(), 0u);
  EXPECT_EQ(server->lost, 1);
}

TEST_F(AgentMemory, closeCachedConnectionsFiresOnceTheyAreClosed) {
  auto pool = HTTPConnectionPool::create(reactor);
  Agent agent(reactor, AgentOptions{.pool = pool});
  fetch(agent, "http://example.com/");
  auto closed = pool->closeCachedConnections();
  settle();
  successResultOf(closed);
  EXPECT_EQ(server->lost, 1);
  successResultOf(pool->closeCachedConnections());  // nothing left: fires at once
}

TEST_F(AgentMemory, destroyingTheAgentClosesItsOwnPool) {
  {
    Agent agent(reactor);
    fetch(agent, "http://example.com/");
  }
  settle();
  EXPECT_EQ(server->lost, 1);
}

TEST_F(AgentMemory, otherSchemesAndBadRequestsFailAtOnce) {
  Agent agent(reactor);
  failureResultOf<SchemeNotSupported>(agent.request("GET", "ws://example.com/"));
  failureResultOf<SchemeNotSupported>(agent.request("GET", "ftp://example.com:21/"));
  failureResultOf<InvalidURL>(agent.request("GET", "example.com/x"));
  failureResultOf<InvalidURL>(agent.request("GET", "http://example.com/a b"));
  failureResultOf<std::invalid_argument>(agent.request("GE T", "http://example.com/"));
  failureResultOf<std::invalid_argument>(agent.request("CONNECT", "http://example.com/"));
  EXPECT_TRUE(reactor.tcpClients.empty());
}

TEST_F(AgentMemory, ipv6LiteralConnectsWithoutBracketsAndSendsThemInHost) {
  Agent agent(reactor);
  auto d = agent.request("GET", "http://[::1]:8080/");
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(reactor.tcpClients[0].host, "::1");
  EXPECT_EQ(reactor.tcpClients[0].port, 8080);
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(AgentMemory, cancellingWhileConnectingStopsTheAttempt) {
  Agent agent(reactor);
  auto d = agent.request("GET", "http://example.com/");
  d.cancel();
  failureResultOf<CancelledError>(d);
  ASSERT_EQ(reactor.connectors.size(), 1u);
  EXPECT_TRUE(reactor.connectors[0]->stoppedConnecting());
}

TEST_F(AgentMemory, cancellingBeforeTheResponseAbortsTheConnection) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  Agent agent(reactor);
  auto d = agent.request("GET", "http://example.com/");
  settle();
  ASSERT_EQ(server->requests.size(), 1u);
  d.cancel();
  failureResultOf<CancelledError>(d);
  settle();
  EXPECT_EQ(server->lost, 1);
  EXPECT_EQ(agent.pool()->cachedConnections(), 0u);
}

TEST_F(AgentMemory, addTimeoutGivesATotalTimeout) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  Agent agent(reactor);
  auto d = agent.request("GET", "http://example.com/").addTimeout(Seconds(5), reactor);
  settle();
  reactor.advance(Seconds(4.9));
  assertNoResult(d);
  reactor.advance(Seconds(0.1));
  failureResultOf<TimeoutError>(d);
  settle();
  EXPECT_EQ(server->lost, 1);
}

TEST_F(AgentMemory, connectionRefusedReachesTheCaller) {
  Agent agent(reactor);
  auto d = agent.request("GET", "http://example.com/");
  completer.failOnce(Failure(ConnectionRefusedError()));
  failureResultOf<ConnectionRefusedError>(d);
}

// ---- proxies -------------------------------------------------------------------------------

class AgentProxy : public AgentMemory {
 protected:
  void SetUp() override {
    AgentMemory::SetUp();
    proxy->handler = [](const RawRequest& r, int, int) {
      if (r.requestLine().rfind("CONNECT ", 0) == 0) {
        return RawAnswer{"HTTP/1.1 200 Connection established\r\n\r\n"};
      }
      return RawAnswer{test::ok("via proxy")};
    };
    reactor.listenTCP(3128, test::rawServerFactory(proxy),
                      TCPListenOptions{.interface = "10.0.0.9"});
  }
  std::shared_ptr<test::RawServerState> proxy = std::make_shared<test::RawServerState>();
};

TEST_F(AgentProxy, forwardModeSendsAbsoluteFormTargetsToTheProxy) {
  Agent agent(reactor, AgentOptions{.proxy = "http://proxy.test:3128",
                                    .proxyMode = ProxyMode::Forward,
                                    .proxyHeaders = {{"Proxy-Authorization", "Basic eDp5"}}});
  EXPECT_EQ(fetch(agent, "http://example.com:8000/x?y"), "via proxy");
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(reactor.tcpClients[0].host, "proxy.test");
  EXPECT_EQ(reactor.tcpClients[0].port, 3128);
  ASSERT_EQ(proxy->requests.size(), 1u);
  EXPECT_EQ(proxy->requests[0].requestLine(), "GET http://example.com:8000/x?y HTTP/1.1");
  EXPECT_EQ(proxy->requests[0].field("Host"), "example.com:8000");
  EXPECT_EQ(proxy->requests[0].field("Proxy-Authorization"), "Basic eDp5");
  EXPECT_EQ(server->connections, 0);
}

TEST_F(AgentProxy, httpsGoesThroughATunnelEvenInForwardMode) {
  // A forwarding proxy would see the request in clear: https:// always asks for CONNECT.
  Agent agent(reactor,
              AgentOptions{.proxy = "http://proxy.test:3128", .proxyMode = ProxyMode::Forward});
  // The tunnel opens, then closes under the TLS handshake (the raw server speaks no TLS).
  proxy->handler = [](const RawRequest&, int, int) {
    return RawAnswer{"HTTP/1.1 200 Connection established\r\n\r\n", true};
  };
  auto d = agent.request("GET", "https://example.com/secret");
  settle();
  ASSERT_GE(proxy->requests.size(), 1u);
  EXPECT_EQ(proxy->requests[0].requestLine(), "CONNECT example.com:443 HTTP/1.1");
  for (const auto& r : proxy->requests) {
    EXPECT_EQ(r.requestLine().find("secret"), std::string::npos) << r.requestLine();
  }
  const Failure f = failureResultOf(d);
  EXPECT_NE(f.describe().find("TLS handshake failed"), std::string::npos) << f.describe();
}

TEST_F(AgentProxy, tunnelModeOpensOneConnectTunnelAndReusesIt) {
  Agent agent(reactor, AgentOptions{.proxy = "http://proxy.test:3128",
                                    .proxyHeaders = {{"Proxy-Authorization", "Basic eDp5"}}});
  EXPECT_EQ(fetch(agent, "http://example.com/a"), "via proxy");
  EXPECT_EQ(fetch(agent, "http://example.com/b"), "via proxy");
  ASSERT_EQ(proxy->requests.size(), 3u);
  EXPECT_EQ(proxy->requests[0].head,
            "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\nProxy-Authorization: "
            "Basic eDp5\r\n");
  // Inside the tunnel: origin-form, and no proxy credentials.
  EXPECT_EQ(proxy->requests[1].head, "GET /a HTTP/1.1\r\nHost: example.com\r\n");
  EXPECT_EQ(proxy->requests[2].requestLine(), "GET /b HTTP/1.1");
  EXPECT_EQ(proxy->connections, 1);
}

TEST_F(AgentProxy, tunnelsAreKeptPerDestination) {
  Agent agent(reactor, AgentOptions{.proxy = "http://proxy.test:3128"});
  fetch(agent, "http://example.com/");
  fetch(agent, "http://other.test/");
  EXPECT_EQ(proxy->connections, 2);
  EXPECT_EQ(proxy->requests[2].requestLine(), "CONNECT other.test:80 HTTP/1.1");
}

TEST_F(AgentProxy, refusedTunnelIsProxyConnectErrorWithTheStatus) {
  proxy->handler = [](const RawRequest&, int, int) {
    return RawAnswer{"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"};
  };
  Agent agent(reactor, AgentOptions{.proxy = "http://proxy.test:3128"});
  auto d = agent.request("GET", "http://example.com/");
  settle();
  Failure f = failureResultOf<ProxyConnectError>(d);
  EXPECT_EQ(f.value<ProxyConnectError>()->code(), 407);
  EXPECT_EQ(proxy->lost, 1);
}

TEST_F(AgentProxy, silentProxyTimesOutTheTunnel) {
  proxy->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  Agent agent(reactor,
              AgentOptions{.connectTimeout = Seconds(3), .proxy = "http://proxy.test:3128"});
  auto d = agent.request("GET", "http://example.com/");
  settle();
  assertNoResult(d);
  reactor.advance(Seconds(3));
  failureResultOf<ConnectTimeoutError>(d);
  settle();
  EXPECT_EQ(proxy->lost, 1);
}

TEST_F(AgentProxy, tunnelEndpointHandsTheBytesAfterTheAnswerToTheProtocol) {
  proxy->handler = [](const RawRequest&, int, int) {
    return RawAnswer{"HTTP/1.1 200 OK\r\n\r\nbanner from the target"};
  };
  auto proxyEndpoint = std::make_shared<TCP4ClientEndpoint>(reactor, "proxy.test", 3128);
  HTTPTunnelEndpoint endpoint(reactor, proxyEndpoint, "[2001:db8::1]:22");
  auto d = endpoint.connect(Factory::forProtocol<torsion::testing::AccumulatingProtocol>());
  settle();
  auto* p = dynamic_cast<torsion::testing::AccumulatingProtocol*>(successResultOf(d));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->data, "banner from the target");
  EXPECT_EQ(proxy->requests[0].requestLine(), "CONNECT [2001:db8::1]:22 HTTP/1.1");
  p->transport->write("through the tunnel\r\n\r\n");
  settle();
  ASSERT_EQ(proxy->requests.size(), 2u);
  EXPECT_EQ(proxy->requests[1].head, "through the tunnel\r\n");
}

TEST_F(AgentProxy, cancellingATunnelBeingOpenedDropsTheProxyConnection) {
  proxy->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  Agent agent(reactor, AgentOptions{.proxy = "http://proxy.test:3128"});
  auto d = agent.request("GET", "http://example.com/");
  settle();
  d.cancel();
  failureResultOf<CancelledError>(d);
  settle();
  EXPECT_EQ(proxy->lost, 1);
}

// ---- redirects -----------------------------------------------------------------------------

class Redirects : public AgentMemory {
 protected:
  // path -> answer, "" = 200 with the path as the body.
  void routes(std::map<std::string, std::string> table) {
    server->handler = [table = std::move(table)](const RawRequest& r, int, int) {
      const std::string line = r.requestLine();
      const std::string path =
          line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
      auto it = table.find(path);
      if (it == table.end()) return RawAnswer{test::ok(path)};
      return RawAnswer{it->second};
    };
  }
  static std::string redirect(int code, std::string_view location) {
    return "HTTP/1.1 " + std::to_string(code) + " Moved\r\nLocation: " + std::string(location) +
           "\r\nContent-Length: 6\r\n\r\nmoved!";
  }

  Agent agent{reactor};
};

TEST_F(Redirects, followsA302ForGetOnTheSameConnection) {
  routes({{"/a", redirect(302, "/b")}});
  RedirectAgent redirecting(agent);
  auto d = redirecting.request("GET", "http://example.com/a");
  settle();
  ResponsePtr r = successResultOf(d);
  EXPECT_EQ(r->code, 200);
  EXPECT_EQ(r->request.absoluteURI, "http://example.com/b");
  ASSERT_TRUE(r->previousResponse);
  EXPECT_EQ(r->previousResponse->code, 302);
  EXPECT_EQ(r->previousResponse->request.absoluteURI, "http://example.com/a");
  auto body = readBody(std::move(r));
  settle();
  EXPECT_EQ(successResultOf(body), "/b");
  EXPECT_EQ(server->connections, 1);
}

TEST_F(Redirects, eachHopResolvesAgainstTheURLItRedirects) {
  routes({{"/x/a", redirect(301, "/y/b")}, {"/y/b", redirect(307, "c")}});
  RedirectAgent redirecting(agent);
  EXPECT_EQ(fetch(redirecting, "http://example.com/x/a"), "/y/c");
}

TEST_F(Redirects, redirectToAnotherOriginDropsCredentials) {
  auto other = std::make_shared<test::RawServerState>();
  other->handler = [](const RawRequest&, int, int) { return RawAnswer{test::ok("other")}; };
  reactor.listenTCP(80, test::rawServerFactory(other), TCPListenOptions{.interface = "10.0.0.2"});
  routes({{"/same", redirect(302, "/there")}, {"/there", redirect(302, "http://other.test/")}});
  RedirectAgent redirecting(agent);
  auto d = redirecting.request("GET", "http://example.com/same",
                               {{"Authorization", "Bearer t"}, {"Cookie", "a=b"}, {"X-Keep", "1"}});
  settle();
  auto body = readBody(successResultOf(d));
  settle();
  EXPECT_EQ(successResultOf(body), "other");
  ASSERT_EQ(server->requests.size(), 2u);
  EXPECT_EQ(server->requests[1].field("Authorization"), "Bearer t");  // same origin: kept
  ASSERT_EQ(other->requests.size(), 1u);
  EXPECT_EQ(other->requests[0].field("Authorization"), "");
  EXPECT_EQ(other->requests[0].field("Cookie"), "");
  EXPECT_EQ(other->requests[0].field("X-Keep"), "1");
  EXPECT_EQ(other->requests[0].field("Host"), "other.test");
}

TEST_F(Redirects, postIsNotRepeatedOn301) {
  routes({{"/form", redirect(301, "/elsewhere")}});
  RedirectAgent redirecting(agent);
  auto d = redirecting.request("POST", "http://example.com/form", {},
                               std::make_shared<StringBodyProducer>("x=1"));
  settle();
  Failure f = failureResultOf<ResponseFailed>(d);
  const auto* e = f.value<ResponseFailed>();
  EXPECT_TRUE(e->hasReason<PageRedirect>());
  ASSERT_TRUE(e->response());
  EXPECT_EQ(e->response()->code, 301);
  EXPECT_EQ(server->requests.size(), 1u);
}

TEST_F(Redirects, seeOtherTurnsPostIntoGetWithoutBody) {
  routes({{"/form", redirect(303, "/done")}});
  RedirectAgent redirecting(agent);
  auto d = redirecting.request("POST", "http://example.com/form", {},
                               std::make_shared<StringBodyProducer>("x=1"));
  settle();
  EXPECT_EQ(successResultOf(d)->code, 200);
  ASSERT_EQ(server->requests.size(), 2u);
  EXPECT_EQ(server->requests[0].body, "x=1");
  EXPECT_EQ(server->requests[1].requestLine(), "GET /done HTTP/1.1");
  EXPECT_EQ(server->requests[1].field("Content-Length"), "");
}

TEST_F(Redirects, browserLikeTurnsPostInto302GetButKeeps307) {
  routes({{"/a", redirect(302, "/b")}, {"/c", redirect(307, "/d")}});
  BrowserLikeRedirectAgent redirecting(agent);
  auto post = [&](std::string url) {
    return redirecting.request("POST", url, {}, std::make_shared<StringBodyProducer>("x"));
  };
  auto d = post("http://example.com/a");
  settle();
  EXPECT_EQ(successResultOf(d)->request.method, "GET");
  auto refused = post("http://example.com/c");
  settle();
  EXPECT_TRUE(
      failureResultOf<ResponseFailed>(refused).value<ResponseFailed>()->hasReason<PageRedirect>());
}

TEST_F(Redirects, loopsEndWithInfiniteRedirection) {
  routes({{"/loop", redirect(302, "/loop")}});
  RedirectAgent redirecting(agent, 3);
  auto d = redirecting.request("GET", "http://example.com/loop");
  settle();
  Failure f = failureResultOf<ResponseFailed>(d);
  EXPECT_TRUE(f.value<ResponseFailed>()->hasReason<InfiniteRedirection>());
  EXPECT_EQ(server->requests.size(), 4u);
}

TEST_F(Redirects, redirectWithoutLocationFails) {
  routes({{"/a", "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"}});
  RedirectAgent redirecting(agent);
  auto d = redirecting.request("GET", "http://example.com/a");
  settle();
  EXPECT_TRUE(failureResultOf<ResponseFailed>(d)
                  .value<ResponseFailed>()
                  ->hasReason<RedirectWithNoLocation>());
}

// ---- web::get / web::post ---------------------------------------------------------------------

TEST_F(Redirects, getFollowsRedirectsAndReturnsTheBody) {
  routes({{"/a", redirect(302, "/b")}});
  auto d = get(reactor, "http://example.com/a");
  settle();
  EXPECT_EQ(successResultOf(d), "/b");
}

TEST_F(Redirects, getFailsOnAnErrorStatusWithTheBody) {
  routes({{"/missing", "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"}});
  auto d = get(reactor, "http://example.com/missing");
  settle();
  Failure f = failureResultOf<HTTPError>(d);
  EXPECT_EQ(f.value<HTTPError>()->code(), 404);
  EXPECT_EQ(f.value<HTTPError>()->message(), "Not Found");
  EXPECT_EQ(f.value<HTTPError>()->body(), "nope");
}

TEST_F(Redirects, getAcceptsABodyDelimitedByTheEndOfTheConnection) {
  server->handler = [](const RawRequest&, int, int) {
    return RawAnswer{"HTTP/1.0 200 OK\r\n\r\nuntil close", true};
  };
  auto d = get(reactor, "http://example.com/");
  settle();
  EXPECT_EQ(successResultOf(d), "until close");
}

TEST_F(Redirects, getTimesOut) {
  server->handler = [](const RawRequest&, int, int) { return RawAnswer{"", false, true}; };
  auto d = get(reactor, "http://example.com/", RequestOptions{.timeout = Seconds(2)});
  settle();
  reactor.advance(Seconds(2));
  failureResultOf<TimeoutError>(d);
  settle();
  EXPECT_EQ(server->lost, 1);
}

TEST_F(Redirects, getRefusesABodyOverTheMaximum) {
  auto d = get(reactor, "http://example.com/", RequestOptions{.maxBodySize = 3});
  settle();
  failureResultOf<BodyTooLarge>(d);
}

TEST_F(Redirects, getCanUseAGivenAgentAndItsPool) {
  routes({});
  auto d1 = get(reactor, "http://example.com/1", RequestOptions{.agent = &agent});
  settle();
  auto d2 = get(reactor, "http://example.com/2", RequestOptions{.agent = &agent});
  settle();
  EXPECT_EQ(successResultOf(d1), "/1");
  EXPECT_EQ(successResultOf(d2), "/2");
  EXPECT_EQ(server->connections, 1);
}

TEST_F(Redirects, postSendsTheBodyAndItsType) {
  routes({});
  auto d = post(reactor, "http://example.com/api", "{\"a\":1}", "application/json");
  settle();
  EXPECT_EQ(successResultOf(d), "/api");
  ASSERT_EQ(server->requests.size(), 1u);
  EXPECT_EQ(server->requests[0].field("Content-Type"), "application/json");
  EXPECT_EQ(server->requests[0].body, "{\"a\":1}");
  EXPECT_TRUE(server->requests[0].hasField("Connection: close"));
}

}  // namespace
}  // namespace torsion::web
