// The HTTP client over TLS against a Site over TLS, in one process over 127.0.0.1: https://
// requests through Agent (kept-alive connection, the server seeing a secure request), and the
// certificate checks that must fail a request (untrusted CA, wrong host name).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "net/net_helpers.hpp"
#include "tls/pki.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/network.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/tls/errors.hpp"
#include "torsion/tls/tls_protocol.hpp"
#include "torsion/web/client.hpp"
#include "torsion/web/server.hpp"

namespace torsion::tls {
namespace {

using torsion::test::spinUntil;

// Says which connection (the client's port) and whether the request came over TLS.
class WhoAsks : public web::Resource {
 public:
  bool isLeaf() const override { return true; }
  web::RenderResult renderGET(web::Request& request) override {
    return std::to_string(request.getClientAddress().port()) +
           (request.isSecure() ? " secure " : " plain ") + request.prePathURL();
  }
};

class HttpsAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    auto site = std::make_shared<web::Site>(std::make_shared<WhoAsks>(), reactor);
    auto tls =
        std::make_shared<TLSMemoryBIOFactory>(test::serverOptions(test::pki().server), false, site);
    port = net.listenTCP(0, tls, {.interface = "127.0.0.1"});
    base = "https://127.0.0.1:" + std::to_string(port->getHost().port());
  }
  void TearDown() override { port->stopListening(); }

  // A GET through `agent`, run to its end: the body, or the failure.
  Deferred<std::string> fetch(web::Agent& agent, const std::string& url) {
    auto d = agent.request("GET", url).addCallback([](std::unique_ptr<web::Response> r) {
      return web::readBody(std::move(r));
    });
    EXPECT_TRUE(spinUntil(reactor, [&] { return d.hasResult(); }));
    return d;
  }

  // The CertificateVerifyError inside a failed request, or null.
  static const CertificateVerifyError* verifyError(const Failure& f) {
    if (const auto* direct = f.value<CertificateVerifyError>()) return direct;
    if (const auto* wrapper = f.value<web::WrapperError>()) {
      for (const Failure& reason : wrapper->reasons()) {
        if (const auto* e = reason.value<CertificateVerifyError>()) return e;
      }
    }
    return nullptr;
  }

  Reactor reactor{torsion::test::quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<IListeningPort> port;
  std::string base;
};

TEST_F(HttpsAgent, getsAPageOverTlsAndKeepsTheConnection) {
  web::Agent agent(net, {.tlsOptions = [](const web::URL& u) {
                     EXPECT_EQ(u.host, "127.0.0.1");
                     return test::clientOptions("127.0.0.1");
                   }});
  const std::string first = testing::successResultOf(fetch(agent, base + "/a"));
  // The root is the leaf: prepath is empty, so prePathURL is the site's https:// root.
  EXPECT_NE(first.find(" secure " + base + "/"), std::string::npos) << first;
  const std::string second = testing::successResultOf(fetch(agent, base + "/b"));
  // The same client port: the pool kept the TLS connection.
  EXPECT_EQ(first.substr(0, first.find(' ')), second.substr(0, second.find(' ')));
  EXPECT_EQ(agent.pool()->cachedConnections(), 1u);
}

TEST_F(HttpsAgent, aServerSignedByAnUntrustedCAFailsTheRequest) {
  // The default options trust the platform's CAs, which did not sign the test server.
  web::Agent agent(net);
  auto d = fetch(agent, base + "/");
  const Failure f = testing::failureResultOf(d);
  const auto* e = verifyError(f);
  ASSERT_NE(e, nullptr) << f.describe();
  EXPECT_NE(std::string(e->what()).find("certificate verify failed"), std::string::npos);
}

TEST_F(HttpsAgent, aCertificateForAnotherHostFailsTheRequest) {
  web::Agent agent(
      net, {.tlsOptions = [](const web::URL&) { return test::clientOptions("example.com"); }});
  auto d = fetch(agent, base + "/");
  const Failure f = testing::failureResultOf(d);
  const auto* e = verifyError(f);
  ASSERT_NE(e, nullptr) << f.describe();
  EXPECT_NE(std::string(e->what()).find("example.com"), std::string::npos) << e->what();
}

TEST_F(HttpsAgent, plainHttpToTheSameServerIsNotAnswered) {
  web::Agent agent(net);
  auto d = fetch(agent, "http://127.0.0.1:" + std::to_string(port->getHost().port()) + "/");
  testing::failureResultOf(d);
}

}  // namespace
}  // namespace torsion::tls
