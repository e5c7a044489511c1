// ConnectionCompleter: the attempts a MemoryReactor recorded, completed over the loopback.
#include "torsion/testing/connection_completer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::testing {
namespace {

using torsion::test::Boom;

// Builds AccumulatingProtocols (keeping pointers to them) and records what the connector says.
class RecordingClientFactory : public ClientFactory {
 public:
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
    builtFor.push_back(addr);
    if (refuse) return nullptr;
    auto p = std::make_unique<AccumulatingProtocol>();
    p->factory = this;
    built.push_back(p.get());
    return p;
  }
  void clientConnectionFailed(IConnector& connector, const Failure& reason) override {
    failed = reason;
    failedState = connector.state();
  }
  void clientConnectionLost(IConnector& connector, const Failure& reason) override {
    lost = reason;
    lostState = connector.state();
    protocolClosedFirst = !built.empty() && built.back()->closed;
  }
  bool refuse = false;
  std::vector<Address> builtFor;
  std::vector<AccumulatingProtocol*> built;
  std::optional<Failure> failed;
  std::optional<Failure> lost;
  IConnector::State failedState = IConnector::State::connecting;
  IConnector::State lostState = IConnector::State::connecting;
  bool protocolClosedFirst = false;
};

// A server factory keeping pointers to the protocols it built.
class ServerFactory : public Factory {
 public:
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
    peers.push_back(addr);
    auto p = std::make_unique<AccumulatingProtocol>();
    built.push_back(p.get());
    return p;
  }
  std::vector<Address> peers;
  std::vector<AccumulatingProtocol*> built;
};

TEST(ConnectionCompleter, connectsTheOldestAttemptToTheListenerItNames) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  auto client = std::make_shared<RecordingClientFactory>();
  reactor.listenTCP(8080, server);
  auto connector = reactor.connectTCP("127.0.0.1", 8080, client);
  ConnectionCompleter completer(reactor);
  EXPECT_EQ(completer.pending(), 1u);

  IOPump* pump = completer.succeedOnce();
  ASSERT_NE(pump, nullptr);
  EXPECT_EQ(completer.pending(), 0u);
  EXPECT_EQ(connector->state(), IConnector::State::connected);
  ASSERT_EQ(server->built.size(), 1u);
  ASSERT_EQ(client->built.size(), 1u);
  EXPECT_TRUE(server->built[0]->made);
  EXPECT_TRUE(client->built[0]->made);
  EXPECT_EQ(client->builtFor.at(0), Address::ip("127.0.0.1", 8080));
  EXPECT_EQ(server->peers.at(0), Address::ip("127.0.0.1", 50000));
  EXPECT_EQ(client->built[0]->transport->getPeer(), Address::ip("127.0.0.1", 8080));
  EXPECT_EQ(server->built[0]->transport->getPeer(), Address::ip("127.0.0.1", 50000));

  client->built[0]->transport->write("hello");
  completer.flush();
  EXPECT_EQ(server->built[0]->data, "hello");
  EXPECT_EQ(completer.succeedOnce(), nullptr);  // nothing left
}

TEST(ConnectionCompleter, leavesAttemptsThatNameNoListener) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  auto client = std::make_shared<RecordingClientFactory>();
  reactor.listenTCP(80, server, {.interface = "10.0.0.1"});
  auto stopped = reactor.listenTCP(81, server);
  stopped->stopListening();
  reactor.connectTCP("10.0.0.2", 80, client);         // another host
  reactor.connectTCP("127.0.0.1", 81, client);        // stopped
  reactor.connectTCP("unknown.example", 80, client);  // not resolvable here
  ConnectionCompleter completer(reactor);
  EXPECT_EQ(completer.succeedOnce(), nullptr);
  EXPECT_EQ(completer.pending(), 3u);
  EXPECT_TRUE(client->built.empty());

  reactor.connectTCP("10.0.0.1", 80, client);
  ASSERT_NE(completer.succeedOnce(), nullptr);
  EXPECT_EQ(reactor.connectors[3]->state(), IConnector::State::connected);
  EXPECT_EQ(completer.pending(), 3u);
}

TEST(ConnectionCompleter, connectsUnixAttemptsToTheListenerOnThatPath) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  auto client = std::make_shared<RecordingClientFactory>();
  reactor.listenUNIX("/run/a.sock", server);
  reactor.connectUNIX("/run/b.sock", client);
  reactor.connectUNIX("/run/a.sock", client);
  ConnectionCompleter completer(reactor);
  IOPump* pump = completer.succeedOnce();
  ASSERT_NE(pump, nullptr);
  EXPECT_EQ(reactor.connectors[0]->state(), IConnector::State::connecting);
  EXPECT_EQ(reactor.connectors[1]->state(), IConnector::State::connected);
  EXPECT_EQ(server->peers.at(0), Address::unix(""));
  EXPECT_EQ(client->built.at(0)->transport->getPeer(), Address::unix("/run/a.sock"));
}

TEST(ConnectionCompleter, theClientFactoryHearsTheEndAfterTheProtocol) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  auto client = std::make_shared<RecordingClientFactory>();
  reactor.listenTCP(25, server);
  auto connector = reactor.connectTCP("127.0.0.1", 25, client);
  ConnectionCompleter completer(reactor);
  IOPump* pump = completer.succeedOnce();
  ASSERT_NE(pump, nullptr);
  server->built[0]->transport->loseConnection();
  pump->flush();
  ASSERT_TRUE(client->lost.has_value());
  EXPECT_TRUE(client->lost->check<ConnectionDone>());
  EXPECT_TRUE(client->protocolClosedFirst);
  EXPECT_EQ(client->lostState, IConnector::State::disconnected);
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
}

TEST(ConnectionCompleter, failOnceReportsTheReasonToTheFactory) {
  MemoryReactor reactor;
  auto client = std::make_shared<RecordingClientFactory>();
  auto connector = reactor.connectTCP("127.0.0.1", 1, client);
  ConnectionCompleter completer(reactor);
  EXPECT_TRUE(completer.failOnce(Failure(ConnectionRefusedError())));
  ASSERT_TRUE(client->failed.has_value());
  EXPECT_TRUE(client->failed->check<ConnectionRefusedError>());
  EXPECT_EQ(client->failedState, IConnector::State::disconnected);
  EXPECT_EQ(completer.pending(), 0u);
  EXPECT_FALSE(completer.failOnce(Failure(ConnectionRefusedError())));
}

TEST(ConnectionCompleter, aRetryThroughTheSameConnectorIsANewAttempt) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  auto client = std::make_shared<RecordingClientFactory>();
  auto connector = reactor.connectTCP("127.0.0.1", 9000, client);
  ConnectionCompleter completer(reactor);
  completer.failOnce(Failure(ConnectionRefusedError()));
  reactor.listenTCP(9000, server);
  connector->connect();  // as ReconnectingClientFactory retries
  EXPECT_EQ(completer.pending(), 1u);
  ASSERT_NE(completer.succeedOnce(), nullptr);
  EXPECT_EQ(connector->state(), IConnector::State::connected);
}

TEST(ConnectionCompleter, aClientFactoryRefusingFailsTheAttempt) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  auto client = std::make_shared<RecordingClientFactory>();
  client->refuse = true;
  reactor.listenTCP(80, server);
  auto connector = reactor.connectTCP("127.0.0.1", 80, client);
  ConnectionCompleter completer(reactor);
  EXPECT_EQ(completer.succeedOnce(), nullptr);
  ASSERT_TRUE(client->failed.has_value());
  EXPECT_TRUE(client->failed->check<ConnectError>());
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
  EXPECT_TRUE(server->built.empty());
}

TEST(ConnectionCompleter, aServerFactoryThrowingRefusesTheConnection) {
  class Throwing : public Factory {
   public:
    std::unique_ptr<Protocol> buildProtocol(const Address&) override { throw Boom(); }
  };
  MemoryReactor reactor;
  auto client = std::make_shared<RecordingClientFactory>();
  reactor.listenTCP(80, std::make_shared<Throwing>());
  reactor.connectTCP("127.0.0.1", 80, client);
  ConnectionCompleter completer(reactor);
  ASSERT_NE(completer.succeedOnce(), nullptr);
  EXPECT_TRUE(client->built.at(0)->made);
  ASSERT_TRUE(client->lost.has_value());
  EXPECT_TRUE(client->lost->check<ConnectionDone>());
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(ConnectionCompleter, usesTheBindAddressAsTheClientsAddress) {
  MemoryReactor reactor;
  auto server = std::make_shared<ServerFactory>();
  reactor.listenTCP(80, server, {.interface = "::"});
  reactor.connectTCP("::1", 80, std::make_shared<RecordingClientFactory>(),
                     {.bindAddress = Address::ip("::1", 4444)});
  reactor.connectTCP("::1", 80, std::make_shared<RecordingClientFactory>());
  ConnectionCompleter completer(reactor);
  ASSERT_NE(completer.succeedOnce(), nullptr);
  ASSERT_NE(completer.succeedOnce(), nullptr);
  EXPECT_EQ(server->peers.at(0), Address::ip("::1", 4444));
  EXPECT_EQ(server->peers.at(1), Address::ip("::1", 50000));
  EXPECT_EQ(completer.pumps().size(), 2u);
}

}  // namespace
}  // namespace torsion::testing
