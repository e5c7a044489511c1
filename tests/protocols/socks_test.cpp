// The SOCKS server: SOCKSv4/4a and SOCKSv5 requests over a StringTransport, with a fake
// connect function whose attempts the test completes or fails; names resolved through a
// MemoryReactor; and real clients' bytes over TCP on 127.0.0.1.
#include "torsion/protocols/socks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/net_helpers.hpp"
#include "protocols/relay_helpers.hpp"
#include "support/helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/wire.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::StringTransport;
using testing::StringTransportWithDisconnection;

// Bytes from numbers: b({0x05, 0x01, 0x00}).
std::string b(std::initializer_list<int> bytes) {
  std::string out;
  for (int v : bytes) out.push_back(static_cast<char>(v));
  return out;
}

// Connection attempts made through SocksServerOptions::connect, completed by the test.
class FakeDestinations {
 public:
  struct Attempt {
    std::string host;
    std::uint16_t port = 0;
    std::shared_ptr<Factory> factory;
    Deferred<Protocol*> result{nullptr};
    bool cancelled = false;
    std::unique_ptr<Protocol> protocol;
    std::unique_ptr<StringTransport> transport;
  };

  class Endpoint : public IStreamClientEndpoint {
   public:
    Endpoint(FakeDestinations& owner, std::string host, std::uint16_t port)
        : owner_(owner), host_(std::move(host)), port_(port) {}
    Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override {
      auto attempt = std::make_unique<Attempt>();
      attempt->host = host_;
      attempt->port = port_;
      attempt->factory = std::move(factory);
      attempt->result =
          Deferred<Protocol*>([a = attempt.get()](Deferred<Protocol*>&) { a->cancelled = true; });
      Deferred<Protocol*> d = attempt->result;
      owner_.attempts.push_back(std::move(attempt));
      return d;
    }

   private:
    FakeDestinations& owner_;
    std::string host_;
    std::uint16_t port_;
  };

  std::function<std::unique_ptr<IStreamClientEndpoint>(const std::string&, std::uint16_t)>
  connectFunction() {
    return [this](const std::string& host, std::uint16_t port) {
      return std::make_unique<Endpoint>(*this, host, port);
    };
  }

  // Completes attempt i: its protocol is built and connected to a StringTransport whose
  // local address is `bound` and whose peer is `destination`.
  RelayProtocol* succeed(std::size_t i, Address bound = Address::ip("10.9.8.7", 40000),
                         Address destination = Address::ip("192.0.2.1", 80)) {
    Attempt& a = *attempts.at(i);
    a.protocol = a.factory->buildProtocol(destination);
    a.transport = std::make_unique<StringTransport>(bound, destination);
    a.protocol->makeConnection(*a.transport);
    a.result.callback(a.protocol.get());
    return dynamic_cast<RelayProtocol*>(a.protocol.get());
  }
  void fail(std::size_t i, Failure reason) { attempts.at(i)->result.errback(std::move(reason)); }

  std::vector<std::unique_ptr<Attempt>> attempts;
};

// A SocksServer on a StringTransportWithDisconnection (so closing runs connectionLost).
class Socks : public ::testing::Test {
 protected:
  void start() {
    options.connect = destinations.connectFunction();
    options.log = [this](const SocksLogEntry& e) { log.push_back(e); };
    server = std::make_unique<SocksServer>(std::make_shared<SocksServerOptions>(options));
    transport.setPeer(Address::ip("127.0.0.1", 50000));
    transport.connect(*server);
  }
  // Feeds `data` whole, or one byte at a time.
  void feed(std::string_view data, bool byteByByte = false) {
    if (!byteByByte) {
      server->dataReceived(data);
      return;
    }
    for (char c : data) server->dataReceived(std::string_view(&c, 1));
  }
  std::string written() {
    std::string out = transport.value();
    transport.clear();
    return out;
  }

  SocksServerOptions options;
  FakeDestinations destinations;
  std::vector<SocksLogEntry> log;
  StringTransportWithDisconnection transport;
  std::unique_ptr<SocksServer> server;
};

// ---- SOCKSv4 ------------------------------------------------------------------------------

TEST_F(Socks, v4ConnectIsGrantedWithTheDestinationsAddressAndThenRelays) {
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1}) + "alice" + b({0}));
  EXPECT_EQ(server->state(), SocksServer::State::connecting);
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "192.0.2.1");
  EXPECT_EQ(destinations.attempts[0]->port, 80);
  EXPECT_EQ(written(), "");
  RelayProtocol* outgoing =
      destinations.succeed(0, Address::ip("10.9.8.7", 40000), Address::ip("192.0.2.1", 80));
  // 00 5A, then the destination's port and address, as Twisted answers.
  EXPECT_EQ(written(), b({0, 90, 0, 80, 192, 0, 2, 1}));
  EXPECT_EQ(server->state(), SocksServer::State::relaying);
  feed("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(destinations.attempts[0]->transport->value(), "GET / HTTP/1.0\r\n\r\n");
  outgoing->dataReceived("HTTP/1.0 200 OK\r\n");
  EXPECT_EQ(written(), "HTTP/1.0 200 OK\r\n");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_TRUE(log[0].granted);
  EXPECT_EQ(log[0].version, 4);
  EXPECT_EQ(log[0].user, "alice");
  EXPECT_EQ(log[0].command, "CONNECT");
}

TEST_F(Socks, v4RequestArrivingOneByteAtATimeIsParsed) {
  start();
  feed(b({4, 1, 0x1F, 0x90, 127, 0, 0, 1}) + "someone" + b({0}), true);
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "127.0.0.1");
  EXPECT_EQ(destinations.attempts[0]->port, 8080);
}

TEST_F(Socks, v4aConnectsToTheHostNameAfterTheUserIdEvenByteByByte) {
  start();
  feed(b({4, 1, 0, 80, 0, 0, 0, 1}) + "user" + b({0}) + "example.com" + b({0}), true);
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "example.com");
  EXPECT_EQ(destinations.attempts[0]->port, 80);
}

TEST_F(Socks, v4aWithAnEmptyUserIdAndNoHostYetWaits) {
  start();
  feed(b({4, 1, 0, 80, 0, 0, 0, 9, 0}) + "exam");
  EXPECT_EQ(server->state(), SocksServer::State::v4Request);
  EXPECT_TRUE(destinations.attempts.empty());
  feed("ple.org" + b({0}));
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "example.org");
}

TEST_F(Socks, v4RefusedDestinationIsAnswered91AndClosed) {
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1, 0}));
  destinations.fail(0, Failure(ConnectionRefusedError()));
  EXPECT_EQ(written(), b({0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_EQ(server->state(), SocksServer::State::done);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_FALSE(log[0].granted);
}

TEST_F(Socks, v4BindIsAnswered91) {
  start();
  feed(b({4, 2, 0, 80, 192, 0, 2, 1, 0}));
  EXPECT_EQ(written(), b({0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_TRUE(destinations.attempts.empty());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].command, "BIND");
}

TEST_F(Socks, v4UserIdPastTheLimitIsRejectedWithoutWaitingForItsEnd) {
  options.maxUserIdLength = 16;
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1}) + std::string(16, 'u'));
  EXPECT_EQ(server->state(), SocksServer::State::v4Request);
  feed("u");
  EXPECT_EQ(written(), b({0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(transport.disconnecting());
  // What keeps coming is ignored, not kept.
  feed(std::string(100000, 'x'));
  EXPECT_EQ(server->bufferedBytes(), 0u);
  EXPECT_EQ(server->pendingBytes(), 0u);
}

TEST_F(Socks, v4aHostNamePastTheLimitIsRejected) {
  options.maxHostnameLength = 10;
  start();
  feed(b({4, 1, 0, 80, 0, 0, 0, 1, 0}) + std::string(11, 'h'));
  EXPECT_EQ(written(), b({0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(destinations.attempts.empty());
}

TEST_F(Socks, garbageForeverNeverGrowsTheBuffer) {
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1}));
  for (int i = 0; i < 1000 && !transport.disconnecting(); ++i) {
    feed(std::string(1, 'g'));
    EXPECT_LE(server->bufferedBytes(), 8u + options.maxUserIdLength + 1);
  }
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(Socks, v4IsRejectedWhenCredentialsAreRequired) {
  options.credentials = {{"alice", "secret"}};
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1}) + "alice" + b({0}));
  EXPECT_EQ(written(), b({0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(destinations.attempts.empty());
}

TEST_F(Socks, v4IsRejectedWhenNotAllowed) {
  options.allowVersion4 = false;
  start();
  feed(b({4}));
  EXPECT_EQ(written(), b({0, 91, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(Socks, bytesSentAfterTheRequestWaitForTheDestinationWithReadingPaused) {
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1, 0}) + "early data");
  EXPECT_EQ(transport.producerState(), StringTransport::kPaused);
  EXPECT_EQ(server->pendingBytes(), 10u);
  destinations.succeed(0);
  EXPECT_EQ(destinations.attempts[0]->transport->value(), "early data");
  EXPECT_EQ(transport.producerState(), StringTransport::kProducing);
}

// ---- SOCKSv5 ------------------------------------------------------------------------------

TEST_F(Socks, v5NoAuthenticationConnectToIPv4RepliesWithTheBoundAddress) {
  start();
  feed(b({5, 1, 0}));
  EXPECT_EQ(written(), b({5, 0}));
  feed(b({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}));
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "192.0.2.1");
  EXPECT_EQ(destinations.attempts[0]->port, 80);
  destinations.succeed(0, Address::ip("10.9.8.7", 0x9C40), Address::ip("192.0.2.1", 80));
  EXPECT_EQ(written(), b({5, 0, 0, 1, 10, 9, 8, 7, 0x9C, 0x40}));
  feed("ping");
  EXPECT_EQ(destinations.attempts[0]->transport->value(), "ping");
}

TEST_F(Socks, v5ConnectToADomainName) {
  start();
  feed(b({5, 2, 2, 0}) + b({5, 1, 0, 3, 11}) + "example.com" + b({1, 0xBB}));
  EXPECT_EQ(written(), b({5, 0}));
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "example.com");
  EXPECT_EQ(destinations.attempts[0]->port, 443);
}

TEST_F(Socks, v5ConnectToIPv6RepliesWithAnIPv6BoundAddress) {
  start();
  feed(b({5, 1, 0}));
  written();
  feed(b({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22}));
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "2001:db8::1");
  EXPECT_EQ(destinations.attempts[0]->port, 22);
  destinations.succeed(0, Address::ip("2001:db8::2", 1234), Address::ip("2001:db8::1", 22));
  EXPECT_EQ(written(), b({5, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                          0, 0, 0, 0, 0,    0,    0,    0,    2, 0x04, 0xD2}));
}

TEST_F(Socks, v5UsernameAndPasswordAreCheckedBeforeTheRequest) {
  options.credentials = {{"alice", "secret"}};
  start();
  feed(b({5, 2, 0, 2}));
  EXPECT_EQ(written(), b({5, 2}));
  EXPECT_EQ(server->state(), SocksServer::State::v5Auth);
  feed(b({1, 5}) + "alice" + b({6}) + "secret");
  EXPECT_EQ(written(), b({1, 0}));
  feed(b({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}));
  ASSERT_EQ(destinations.attempts.size(), 1u);
  destinations.succeed(0);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].user, "alice");
}

TEST_F(Socks, v5WrongPasswordIsAnsweredAndClosed) {
  options.credentials = {{"alice", "secret"}};
  start();
  feed(b({5, 1, 2}) + b({1, 5}) + "alice" + b({6}) + "secreT");
  EXPECT_EQ(written(), b({5, 2, 1, 1}));
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_EQ(server->state(), SocksServer::State::done);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "authentication failed");
}

TEST_F(Socks, v5UnknownUserAndShorterPasswordAreRefused) {
  options.credentials = {{"alice", "secret"}};
  start();
  feed(b({5, 1, 2}) + b({1, 3}) + "bob" + b({6}) + "secret");
  EXPECT_EQ(written(), b({5, 2, 1, 1}));
  StringTransportWithDisconnection other;
  SocksServer second(std::make_shared<SocksServerOptions>(options));
  other.connect(second);
  second.dataReceived(b({5, 1, 2}) + b({1, 5}) + "alice" + b({3}) + "sec");
  EXPECT_EQ(other.value(), b({5, 2, 1, 1}));
}

TEST_F(Socks, v5PasswordCheckCallbackIsUsed) {
  std::vector<std::string> asked;
  options.checkPassword = [&](std::string_view user, std::string_view password) {
    asked.push_back(std::string(user) + ":" + std::string(password));
    return password == "letmein";
  };
  start();
  feed(b({5, 1, 2}) + b({1, 3}) + "bob" + b({7}) + "letmein");
  EXPECT_EQ(written(), b({5, 2, 1, 0}));
  EXPECT_EQ(asked, std::vector<std::string>{"bob:letmein"});
}

TEST_F(Socks, v5NoAuthenticationIsNotOfferedWhenCredentialsAreConfigured) {
  options.credentials = {{"alice", "secret"}};
  start();
  feed(b({5, 1, 0}));
  EXPECT_EQ(written(), b({5, 0xFF}));
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(Socks, v5ClientWithoutAnAcceptableMethodIsAnsweredFF) {
  start();
  feed(b({5, 2, 1, 2}));  // GSSAPI and username/password, while none is configured
  EXPECT_EQ(written(), b({5, 0xFF}));
  EXPECT_TRUE(transport.disconnecting());
  StringTransportWithDisconnection other;
  SocksServer none(std::make_shared<SocksServerOptions>(options));
  other.connect(none);
  none.dataReceived(b({5, 0}));  // no methods at all
  EXPECT_EQ(other.value(), b({5, 0xFF}));
}

TEST_F(Socks, v5BindAndUdpAssociateAreAnswered07) {
  for (int command : {2, 3, 9}) {
    StringTransportWithDisconnection t;
    options.connect = destinations.connectFunction();
    SocksServer s(std::make_shared<SocksServerOptions>(options));
    t.connect(s);
    s.dataReceived(b({5, 1, 0}) + b({5, command, 0, 1, 192, 0, 2, 1, 0, 80}));
    EXPECT_EQ(t.value(), b({5, 0}) + b({5, 7, 0, 1, 0, 0, 0, 0, 0, 0})) << command;
    EXPECT_TRUE(t.disconnecting());
  }
  EXPECT_TRUE(destinations.attempts.empty());
}

TEST_F(Socks, v5UnknownAddressTypeIsAnswered08) {
  start();
  feed(b({5, 1, 0}) + b({5, 1, 0, 2, 1, 2, 3, 4}));
  EXPECT_EQ(written(), b({5, 0}) + b({5, 8, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(Socks, v5HostNameWithControlBytesIsNotLookedUp) {
  start();
  feed(b({5, 1, 0}) + b({5, 1, 0, 3, 5}) + "a" + b({0}) + "bcd" + b({0, 80}));
  EXPECT_EQ(written(), b({5, 0}) + b({5, 4, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(destinations.attempts.empty());
}

TEST_F(Socks, v5FailuresAreAnsweredWithTheirReplyCodes) {
  struct Case {
    Failure reason;
    int code;
  };
  const std::vector<Case> cases = {
      {Failure(ConnectionRefusedError()), 5},
      {Failure(DNSLookupError("no such name")), 4},
      {Failure(ConnectTimeoutError()), 4},
      {Failure(ConnectionFailed("connecting failed", ENETUNREACH)), 3},
      {Failure(ConnectionFailed("connecting failed", EHOSTUNREACH)), 4},
      {Failure(ConnectionFailed("Network is unreachable (no errno given)")), 1},
      {Failure(ConnectionFailed("something else", EACCES)), 1},
      {Failure(test::Boom()), 1},
  };
  for (const Case& c : cases) {
    FakeDestinations fake;
    options.connect = fake.connectFunction();
    StringTransportWithDisconnection t;
    SocksServer s(std::make_shared<SocksServerOptions>(options));
    t.connect(s);
    s.dataReceived(b({5, 1, 0}) + b({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}));
    fake.fail(0, c.reason);
    EXPECT_EQ(t.value(), b({5, 0}) + b({5, c.code, 0, 1, 0, 0, 0, 0, 0, 0}))
        << c.reason.getErrorMessage();
    EXPECT_TRUE(t.disconnecting());
  }
}

TEST_F(Socks, v5WholeConversationWithAuthenticationOneByteAtATime) {
  options.credentials = {{"u", "p"}};
  start();
  feed(b({5, 1, 2}) + b({1, 1}) + "u" + b({1}) + "p" + b({5, 1, 0, 3, 4}) + "host" + b({0, 25}) +
           "EHLO",
       true);
  EXPECT_EQ(written(), b({5, 2, 1, 0}));
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_EQ(destinations.attempts[0]->host, "host");
  EXPECT_EQ(destinations.attempts[0]->port, 25);
  destinations.succeed(0);
  EXPECT_EQ(destinations.attempts[0]->transport->value(), "EHLO");
}

TEST_F(Socks, v5GreetingRequestAndDataInOneReadAreAllHandled) {
  start();
  feed(b({5, 1, 0}) + b({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}) + "payload");
  EXPECT_EQ(written(), b({5, 0}));
  destinations.succeed(0);
  EXPECT_EQ(destinations.attempts[0]->transport->value(), "payload");
}

// ---- both versions ------------------------------------------------------------------------

TEST_F(Socks, anUnknownVersionIsClosedWithoutAnswer) {
  start();
  feed("GET / HTTP/1.1\r\n");
  EXPECT_EQ(written(), "");
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_EQ(server->bufferedBytes(), 0u);
}

TEST_F(Socks, endOfFileBeforeTheRequestIsWholeCloses) {
  start();
  feed(b({5, 1}));
  server->readConnectionLost();
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_TRUE(destinations.attempts.empty());
}

TEST_F(Socks, endOfFileAfterTheRequestIsPassedOnOnceConnected) {
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1, 0}) + "last");
  server->readConnectionLost();
  EXPECT_FALSE(transport.disconnecting());
  destinations.succeed(0);
  EXPECT_EQ(destinations.attempts[0]->transport->value(), "last");
  EXPECT_TRUE(destinations.attempts[0]->transport->writeConnectionLost());
}

TEST_F(Socks, aClientLeavingWhileConnectingCancelsTheAttempt) {
  start();
  feed(b({4, 1, 0, 80, 192, 0, 2, 1, 0}));
  transport.loseConnection();
  ASSERT_EQ(destinations.attempts.size(), 1u);
  EXPECT_TRUE(destinations.attempts[0]->cancelled);
  EXPECT_EQ(written(), "");
}

TEST_F(Socks, theDestinationClosingClosesTheClientAfterItsBytes) {
  start();
  feed(b({5, 1, 0}) + b({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}));
  RelayProtocol* outgoing = destinations.succeed(0);
  written();
  outgoing->dataReceived("bye");
  outgoing->connectionLost(Failure(ConnectionDone()));
  EXPECT_EQ(written(), "bye");
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(Socks, aConnectFunctionThatThrowsIsAGeneralFailure) {
  options.connect = [](const std::string&,
                       std::uint16_t) -> std::unique_ptr<IStreamClientEndpoint> {
    throw std::runtime_error("no way there");
  };
  options.log = [this](const SocksLogEntry& e) { log.push_back(e); };
  StringTransportWithDisconnection t;
  SocksServer s(std::make_shared<SocksServerOptions>(options));
  t.connect(s);
  s.dataReceived(b({5, 1, 0}) + b({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}));
  EXPECT_EQ(t.value(), b({5, 0}) + b({5, 1, 0, 1, 0, 0, 0, 0, 0, 0}));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].outcome, "no way there");
}

TEST_F(Socks, theLogGetsOneLinePerRequest) {
  std::ostringstream out;
  options.connect = destinations.connectFunction();
  options.log = socksLogWriter(out);
  auto shared = std::make_shared<SocksServerOptions>(options);
  StringTransportWithDisconnection t1;
  t1.setPeer(Address::ip("127.0.0.1", 50000));
  SocksServer s1(shared);
  t1.connect(s1);
  s1.dataReceived(b({4, 1, 0, 80, 0, 0, 0, 1}) + "bob" + b({0}) + "example.com" + b({0}));
  destinations.succeed(0, Address::ip("10.0.0.2", 5000), Address::ip("192.0.2.7", 80));
  StringTransportWithDisconnection t2;
  t2.setPeer(Address::ip("::1", 50001));
  SocksServer s2(shared);
  t2.connect(s2);
  s2.dataReceived(b({5, 1, 0}) + b({5, 2, 0, 1, 192, 0, 2, 1, 0, 80}));
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  EXPECT_NE(
      text.find("\t127.0.0.1:50000 v4 CONNECT example.com:80 user=bob granted (192.0.2.7:80)\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("\t[::1]:50001 v5 BIND BIND is not supported\n"), std::string::npos) << text;
}

TEST(SocksFactory, buildsServersSharingItsOptionsAndNeedsAConnectFunction) {
  EXPECT_THROW(SocksFactory(SocksServerOptions{}), std::invalid_argument);
  testing::MemoryReactor reactor;
  auto factory = std::make_shared<SocksFactory>(reactor, SocksServerOptions{});
  auto p = factory->buildProtocol(Address::ip("127.0.0.1", 1));
  ASSERT_NE(dynamic_cast<SocksServer*>(p.get()), nullptr);
  EXPECT_EQ(p->factory, factory.get());
}

// ---- names resolved by the default endpoint, on a MemoryReactor ---------------------------

TEST(SocksResolving, v4aAndV5NamesAreResolvedThroughTheReactor) {
  testing::MemoryReactor reactor;
  reactor.hosts["www.example.test"] = {"198.51.100.7"};
  auto factory = std::make_shared<SocksFactory>(reactor, SocksServerOptions{});
  StringTransportWithDisconnection t;
  auto p = factory->buildProtocol(Address::ip("127.0.0.1", 1));
  t.connect(*p);
  p->dataReceived(b({4, 1, 0, 80, 0, 0, 0, 1, 0}) + "www.example.test" + b({0}));
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(reactor.tcpClients[0].host, "198.51.100.7");
  EXPECT_EQ(reactor.tcpClients[0].port, 80);
  ASSERT_FALSE(reactor.resolutions.empty());
  EXPECT_EQ(reactor.resolutions[0].host, "www.example.test");

  StringTransportWithDisconnection t2;
  auto unknown = factory->buildProtocol(Address::ip("127.0.0.1", 2));
  t2.connect(*unknown);
  unknown->dataReceived(b({5, 1, 0}) + b({5, 1, 0, 3, 12}) + "nowhere.test" + b({0, 80}));
  EXPECT_EQ(t2.value(), b({5, 0}) + b({5, 4, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(t2.disconnecting());
  t.loseConnection();
}

// ---- real TCP on 127.0.0.1 ---------------------------------------------------------------

class SocksTcp : public ::testing::Test {
 protected:
  // A client that sends `request` and records what comes back.
  std::shared_ptr<test::Record> connectClient(std::uint16_t port, std::string request) {
    auto protocol = std::make_unique<test::Recorder>();
    std::shared_ptr<test::Record> rec = protocol->rec;
    rec->onMade = [request](test::Record& r) { r.transport->write(request); };
    endpoints.push_back(std::make_unique<TCP4ClientEndpoint>(net, "127.0.0.1", port));
    connectProtocol(*endpoints.back(), std::move(protocol));
    return rec;
  }

  Reactor reactor;
  IReactorNet& net = network(reactor);
  std::vector<std::unique_ptr<TCP4ClientEndpoint>> endpoints;
};

TEST_F(SocksTcp, v5ConnectRelaysToAnEchoServer) {
  auto echo =
      net.listenTCP(0, Factory::forProtocol<Echo>(), TCPListenOptions{.interface = "127.0.0.1"});
  auto socks = net.listenTCP(0, std::make_shared<SocksFactory>(net, SocksServerOptions{}),
                             TCPListenOptions{.interface = "127.0.0.1"});
  const std::uint16_t echoPort = echo->getHost().port();
  auto client = connectClient(
      socks->getHost().port(),
      b({5, 1, 0}) + b({5, 1, 0, 1, 127, 0, 0, 1, echoPort >> 8, echoPort & 0xFF}) + "hello");
  ASSERT_TRUE(test::spinUntil(reactor, [&] { return client->received.size() >= 2 + 10 + 5; }));
  EXPECT_EQ(client->received.substr(0, 2), b({5, 0}));
  EXPECT_EQ(client->received.substr(2, 4), b({5, 0, 0, 1}));
  EXPECT_EQ(client->received.substr(6, 4), b({127, 0, 0, 1}));
  EXPECT_EQ(client->received.substr(12), "hello");
  client->transport->loseConnection();
  socks->stopListening();
  echo->stopListening();
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
}

TEST_F(SocksTcp, refusedDestinationsGetTheirFailureCodes) {
  std::uint16_t deadPort = 0;
  {
    auto p =
        net.listenTCP(0, Factory::forProtocol<Echo>(), TCPListenOptions{.interface = "127.0.0.1"});
    deadPort = p->getHost().port();
    p->stopListening();
  }
  auto socks = net.listenTCP(0, std::make_shared<SocksFactory>(net, SocksServerOptions{}),
                             TCPListenOptions{.interface = "127.0.0.1"});
  const int hi = deadPort >> 8;
  const int lo = deadPort & 0xFF;
  auto v5 =
      connectClient(socks->getHost().port(), b({5, 1, 0}) + b({5, 1, 0, 1, 127, 0, 0, 1, hi, lo}));
  auto v4 = connectClient(socks->getHost().port(), b({4, 1, hi, lo, 127, 0, 0, 1, 0}));
  ASSERT_TRUE(test::spinUntil(reactor, [&] { return v5->lost && v4->lost; }));
  EXPECT_EQ(v5->received, b({5, 0}) + b({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(v4->received, b({0, 91, 0, 0, 0, 0, 0, 0}));
  socks->stopListening();
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
}

}  // namespace
}  // namespace torsion::protocols
