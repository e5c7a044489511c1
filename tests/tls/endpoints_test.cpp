// ssl: and tls: endpoint strings (files read, errors named), TLS over real 127.0.0.1 sockets
// with a Reactor, and torsion::web's Request::isSecure over TLS.
#include "torsion/net/endpoints.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "net/net_helpers.hpp"
#include "pki.hpp"
#include "tls_helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/tls/tls_endpoints.hpp"
#include "torsion/web/resource.hpp"
#include "torsion/web/server.hpp"

namespace torsion::tls::test {
namespace {

using torsion::test::quietOptions;
using torsion::test::spinUntil;

// Runs `f`, which must throw EndpointStringError; checks its part() and returns what().
template <class F>
std::string endpointError(F&& f, const std::string& part) {
  try {
    f();
  } catch (const EndpointStringError& e) {
    EXPECT_EQ(e.part(), part) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no EndpointStringError";
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct Files {
  TempDir dir;
  std::string key = dir.write("key.pem", pki().server.keyPEM);
  std::string cert = dir.write("cert.pem", pki().server.certPEM);
  std::string both = dir.write("server.pem", pki().server.keyPEM + pki().server.certPEM);
  std::string otherKey = dir.write("other-key.pem", pki().otherServer.keyPEM);
  std::string chain = dir.write("chain.pem", pki().ca.certPEM);
  std::string clientKey = dir.write("client-key.pem", pki().client.keyPEM);
  std::string clientCert = dir.write("client-cert.pem", pki().client.certPEM);
  std::string missing = (dir.path() / "missing.pem").string();
  TempDir cas;
  TempDir otherCas;
  Files() {
    cas.write("ca.pem", pki().ca.certPEM);
    otherCas.write("ca.pem", pki().otherCA.certPEM);
  }
};

TEST(TLSEndpointStrings, sslServerReadsItsFilesAndNamesTheOneThatIsWrong) {
  Files f;
  testing::MemoryReactor reactor;
  EXPECT_NE(
      dynamic_cast<SSL4ServerEndpoint*>(
          serverFromString(reactor, "ssl:0:privateKey=" + f.key + ":certKey=" + f.cert).get()),
      nullptr);
  // certKey defaults to privateKey: one file with both.
  EXPECT_NO_THROW(serverFromString(reactor, "ssl:443:privateKey=" + f.both));
  EXPECT_NO_THROW(serverFromString(reactor, "ssl:443:" + f.key + ":" + f.cert));
  EXPECT_NO_THROW(serverFromString(
      reactor, "ssl:443:privateKey=" + f.both + ":extraCertChain=" + f.chain + ":backlog=5"));

  auto m = endpointError([&] { serverFromString(reactor, "ssl:443"); }, "server.pem");
  EXPECT_TRUE(contains(m, "bad privateKey: cannot read private key file 'server.pem'")) << m;
  m = endpointError(
      [&] { serverFromString(reactor, "ssl:443:privateKey=" + f.missing + ":certKey=" + f.cert); },
      f.missing);
  EXPECT_TRUE(contains(m, "bad privateKey: cannot read private key file '" + f.missing + "'"));
  m = endpointError(
      [&] { serverFromString(reactor, "ssl:443:privateKey=" + f.key + ":certKey=" + f.missing); },
      f.missing);
  EXPECT_TRUE(contains(m, "bad certKey: cannot read certificate file")) << m;
  m = endpointError([&] { serverFromString(reactor, "ssl:443:privateKey=" + f.key); }, f.key);
  EXPECT_TRUE(contains(m, "bad privateKey: " + f.key + ": no PEM certificate")) << m;
  m = endpointError(
      [&] { serverFromString(reactor, "ssl:443:privateKey=" + f.otherKey + ":certKey=" + f.cert); },
      f.otherKey);
  EXPECT_TRUE(contains(m, "does not match the certificate from '" + f.cert + "'")) << m;
  m = endpointError(
      [&] {
        serverFromString(reactor, "ssl:443:privateKey=" + f.both + ":extraCertChain=" + f.missing);
      },
      f.missing);
  EXPECT_TRUE(contains(m, "bad extraCertChain")) << m;
}

TEST(TLSEndpointStrings, clientStringsReadCAsAndClientCertificates) {
  Files f;
  testing::MemoryReactor reactor;
  const std::string cas = f.cas.path().string();
  EXPECT_NE(dynamic_cast<TLSClientEndpoint*>(
                clientFromString(reactor, "ssl:host=127.0.0.1:port=443:caCertsDir=" + cas).get()),
            nullptr);
  EXPECT_NO_THROW(clientFromString(
      reactor, "ssl:localhost:443:certKey=" + f.clientCert + ":privateKey=" + f.clientKey));
  EXPECT_NO_THROW(clientFromString(reactor, "tls:localhost:443:trustRoots=" + cas));
  EXPECT_NO_THROW(clientFromString(reactor, "tls:host=localhost:port=443:certificate=" +
                                                f.clientCert + ":privateKey=" + f.clientKey));

  auto m = endpointError([&] { clientFromString(reactor, "ssl:h:443:caCertsDir=" + f.missing); },
                         f.missing);
  EXPECT_TRUE(contains(m, "bad caCertsDir: cannot read CA certificate directory")) << m;
  m = endpointError([&] { clientFromString(reactor, "tls:h:443:trustRoots=" + f.missing); },
                    f.missing);
  EXPECT_TRUE(contains(m, "bad trustRoots")) << m;
  m = endpointError([&] { clientFromString(reactor, "tls:h:443:certificate=" + f.clientCert); },
                    f.clientCert);
  EXPECT_TRUE(contains(m, "bad certificate: " + f.clientCert + ": no PEM private key")) << m;
  m = endpointError(
      [&] {
        clientFromString(reactor, "ssl:h:443:certKey=" + f.clientCert + ":privateKey=" + f.key);
      },
      f.key);
  EXPECT_TRUE(contains(m, "does not match")) << m;
}

// ---- over real sockets ------------------------------------------------------------------------

struct Seen {
  std::string received;
  bool made = false;
  bool lost = false;
  std::optional<Failure> reason;
};

class Observer : public Protocol {
 public:
  Observer(Seen& seen, bool echo) : seen_(seen), echo_(echo) {}
  void connectionMade() override { seen_.made = true; }
  void dataReceived(std::string_view data) override {
    seen_.received.append(data);
    if (echo_) transport->write(data);
  }
  void connectionLost(const Failure& reason) override {
    seen_.lost = true;
    seen_.reason = reason;
  }

 private:
  Seen& seen_;
  bool echo_;
};

std::shared_ptr<Factory> observing(Seen& seen, bool echo) {
  return std::make_shared<Factory>([&seen, echo]() -> std::unique_ptr<Protocol> {
    return std::make_unique<Observer>(seen, echo);
  });
}

TEST(TLSOverTCP, sslServerAndClientsEchoOverRealSockets) {
  Files f;
  Reactor reactor{quietOptions()};
  IReactorNet& net = network(reactor);
  Seen server;
  auto endpoint =
      serverFromString(net, "ssl:0:interface=127.0.0.1:privateKey=" + f.key + ":certKey=" + f.cert);
  auto port = testing::successResultOf(endpoint->listen(observing(server, true)));
  const std::string portText = std::to_string(port->getHost().port());

  for (const std::string& description :
       {"ssl:host=127.0.0.1:port=" + portText + ":caCertsDir=" + f.cas.path().string() +
            ":hostname=localhost",
        "tls:127.0.0.1:" + portText + ":trustRoots=" + f.cas.path().string()}) {
    SCOPED_TRACE(description);
    Seen client;
    Protocol* p = nullptr;
    clientFromString(net, description)
        ->connect(observing(client, false))
        .addCallback([&p](Protocol* connected) {
          p = connected;
          return connected;
        });
    ASSERT_TRUE(spinUntil(reactor, [&] { return p != nullptr || client.lost; }));
    ASSERT_NE(p, nullptr);
    EXPECT_NE(dynamic_cast<Observer*>(p), nullptr);  // the user's protocol, not the TLS layer
    p->transport->write("ping over TLS");
    ASSERT_TRUE(spinUntil(reactor, [&] { return client.received == "ping over TLS"; }));
    p->transport->loseConnection();
    ASSERT_TRUE(spinUntil(reactor, [&] { return client.lost; }));
    EXPECT_TRUE(client.reason->check<ConnectionDone>()) << messageOf(client.reason);
  }
  ASSERT_TRUE(spinUntil(reactor, [&] { return server.lost; }));

  // A client that trusts another CA refuses the server, with the reason in its connectionLost.
  Seen refused;
  clientFromString(net, "tls:127.0.0.1:" + portText + ":trustRoots=" + f.otherCas.path().string())
      ->connect(observing(refused, false));
  ASSERT_TRUE(spinUntil(reactor, [&] { return refused.lost; }));
  EXPECT_TRUE(refused.reason->check<CertificateVerifyError>()) << messageOf(refused.reason);
  auto stopped = port->stopListening();
  ASSERT_TRUE(spinUntil(reactor, [&] { return stopped.called(); }));
}

// ---- torsion::web over TLS ----------------------------------------------------------------------

class WhereAmI : public web::Resource {
 public:
  bool isLeaf() const override { return true; }
  web::RenderResult renderGET(web::Request& request) override {
    return std::string(request.isSecure() ? "secure " : "plain ") + request.prePathURL();
  }
};

std::string fetch(std::shared_ptr<Factory> site, bool tls, testing::Clock& clock) {
  auto client = std::make_unique<Recorder>(
      "GET /here HTTP/1.1\r\nHost: example.test\r\n"
      "Connection: close\r\n\r\n");
  Recorder* c = client.get();
  testing::LoopbackOptions options;
  options.clock = &clock;
  if (tls) {
    auto pair = connectTLS(serverContext(), site->buildProtocol(options.clientAddress),
                           clientContext(), std::move(client), options);
    pair.pump.flush();
    return c->received;
  }
  auto pump =
      testing::connect(site->buildProtocol(options.clientAddress), std::move(client), options);
  pump.flush();
  return c->received;
}

TEST(TLSWeb, requestIsSecureAndBuildsHttpsURLsOnlyOverTLS) {
  testing::Clock clock;
  auto site = std::make_shared<web::Site>(std::make_shared<WhereAmI>(), clock);
  const std::string overTLS = fetch(site, true, clock);
  EXPECT_TRUE(contains(overTLS, "HTTP/1.1 200")) << overTLS;
  EXPECT_TRUE(contains(overTLS, "secure https://example.test/")) << overTLS;
  const std::string plain = fetch(site, false, clock);
  EXPECT_TRUE(contains(plain, "plain http://example.test/")) << plain;
}

}  // namespace
}  // namespace torsion::tls::test
