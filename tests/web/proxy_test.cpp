// ReverseProxyResource over real 127.0.0.1 TCP: a front Site proxies to an upstream Site.
#include "torsion/web/proxy.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "net/net_helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/network.hpp"
#include "torsion/web/server.hpp"

namespace torsion::web {
namespace {

using test::Collecting;
using test::spinUntil;

// Answers with what it saw: method, path, query, selected headers and the body.
class Mirror : public Resource {
 public:
  bool isLeaf() const override { return true; }
  RenderResult render(Request& r) override {
    std::string out = std::string(r.method()) + " " + std::string(r.uri()) + "\n";
    for (auto name : {"Host", "X-Forwarded-For", "X-Custom", "Connection", "Keep-Alive"}) {
      if (auto v = r.getHeader(name)) {
        out += std::string(name) + ": " + std::string(*v) + "\n";
      }
    }
    out += "body=" + r.content();
    r.setHeader("X-Upstream", "yes");
    r.setHeader("Keep-Alive", "timeout=5");
    return out;
  }
};

class ReverseProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream = std::make_shared<Site>(std::make_shared<Mirror>(), reactor);
    upstreamPort = net.listenTCP(0, upstream, {.interface = "127.0.0.1"});
  }
  void TearDown() override {
    if (frontPort) frontPort->stopListening();
    upstreamPort->stopListening();
    spinUntil(
        reactor, [] { return false; }, 3);
  }

  void front(std::shared_ptr<Resource> root) {
    frontPort = net.listenTCP(0, std::make_shared<Site>(root, reactor), {.interface = "127.0.0.1"});
  }

  // Sends `request` to the front and returns everything until the server closes.
  std::string fetch(const std::string& request) {
    auto client = std::make_shared<Collecting<>>();
    client->setup = [request](test::Record& rec) {
      rec.onMade = [request](test::Record& r) { r.transport->write(request); };
    };
    net.connectTCP("127.0.0.1", frontPort->getHost().port(), client);
    EXPECT_TRUE(
        spinUntil(reactor, [&] { return !client->built.empty() && client->built[0]->lost; }));
    return client->built.empty() ? "" : client->built[0]->received;
  }

  Reactor reactor{test::quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<Site> upstream;
  std::shared_ptr<IListeningPort> upstreamPort;
  std::shared_ptr<IListeningPort> frontPort;
};

TEST_F(ReverseProxy, forwardsPathQueryHeadersAndBodyAndRelaysTheResponse) {
  auto root = std::make_shared<Resource>();
  std::uint16_t port = upstreamPort->getHost().port();
  root->putChild("api", std::make_shared<ReverseProxyResource>(net, "127.0.0.1", port, "/v1"));
  front(root);
  std::string out = fetch(
      "POST /api/users/a%20b?id=3 HTTP/1.1\r\nHost: front.example\r\nX-Custom: kept\r\n"
      "Keep-Alive: 300\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n")) << out;
  EXPECT_NE(out.find("X-Upstream: yes\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Keep-Alive: timeout=5"), std::string::npos) << "hop-by-hop dropped";
  auto body = out.substr(out.find("\r\n\r\n") + 4);
  EXPECT_EQ(body,
            "POST /v1/users/a%20b?id=3\nHost: 127.0.0.1:" + std::to_string(port) +
                "\nX-Forwarded-For: 127.0.0.1\nX-Custom: kept\nConnection: close\nbody=hello");
}

TEST_F(ReverseProxy, anUnreachableUpstreamGives502) {
  auto dead = net.listenTCP(0, upstream, {.interface = "127.0.0.1"});
  std::uint16_t deadPort = dead->getHost().port();
  dead->stopListening();
  spinUntil(
      reactor, [] { return false; }, 2);
  front(std::make_shared<ReverseProxyResource>(net, "127.0.0.1", deadPort, ""));
  std::string out = fetch("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(out.starts_with("HTTP/1.1 502 Bad Gateway\r\n")) << out;
}

TEST_F(ReverseProxy, aLargeResponseArrivesWhole) {
  class Big : public Resource {
   public:
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request&) override { return std::string(3 << 20, 'z'); }
  };
  upstream = std::make_shared<Site>(std::make_shared<Big>(), reactor);
  auto bigPort = net.listenTCP(0, upstream, {.interface = "127.0.0.1"});
  front(std::make_shared<ReverseProxyResource>(net, "127.0.0.1", bigPort->getHost().port(), ""));
  std::string out = fetch("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  auto body = out.substr(out.find("\r\n\r\n") + 4);
  EXPECT_EQ(body.size(), std::size_t{3} << 20);
  EXPECT_EQ(body.find_first_not_of('z'), std::string::npos);
  bigPort->stopListening();
}

}  // namespace
}  // namespace torsion::web
