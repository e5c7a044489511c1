// portforward: ProxyFactory/ProxyServer/ProxyClient between a client and a target, first on
// a MemoryReactor whose connections the ConnectionCompleter makes over the in-memory
// loopback, then over real TCP on 127.0.0.1.
#include "torsion/protocols/portforward.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "net/net_helpers.hpp"
#include "protocols/relay_helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/wire.hpp"
#include "torsion/testing/connection_completer.hpp"
#include "torsion/testing/log_capture.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/memory_reactor.hpp"

namespace torsion::protocols {
namespace {

using test::Firehose;
using test::Sink;
using testing::ConnectionCompleter;
using testing::IOPump;
using testing::LoopbackOptions;
using testing::MemoryReactor;

constexpr std::uint16_t kTargetPort = 6665;

// A forwarder built on a MemoryReactor, a target listening there, and clients connected to
// the forwarder through the loopback. The completer makes the forwarder's outgoing
// connections when the test says so.
class PortForward : public ::testing::Test {
 protected:
  PortForward() : completer(reactor) {}

  // The target's protocols come from makeTarget.
  void listenTarget() {
    reactor.listenTCP(kTargetPort, std::make_shared<Factory>([this]() -> std::unique_ptr<Protocol> {
                        return makeTarget();
                      }));
  }

  // A client connected to the forwarder; the forwarder asked for its outgoing connection.
  Sink* connectClient(std::unique_ptr<Protocol> client = std::make_unique<Sink>()) {
    Protocol* raw = client.get();
    clientPumps.push_back(
        std::make_unique<IOPump>(testing::connect(factory, std::move(client), options)));
    return dynamic_cast<Sink*>(raw);
  }
  IOPump& clientPump(std::size_t i = 0) { return *clientPumps.at(i); }
  ProxyServer* proxyServer(std::size_t i = 0) {
    return dynamic_cast<ProxyServer*>(clientPumps.at(i)->server());
  }
  // The target's end of the i-th outgoing connection.
  template <class T>
  T* target(std::size_t i = 0) {
    return dynamic_cast<T*>(completer.pumps().at(i)->server());
  }
  IOPump& targetPump(std::size_t i = 0) { return *completer.pumps().at(i); }

  // Pumps every connection until nothing moves (bounded).
  void flushAll() {
    for (int i = 0; i < 100000; ++i) {
      bool moved = completer.pump();
      for (auto& p : clientPumps) moved = p->pump() || moved;
      if (!moved) return;
    }
    FAIL() << "the connections never went quiet";
  }

  MemoryReactor reactor;
  ConnectionCompleter completer;
  std::shared_ptr<ProxyFactory> factory =
      std::make_shared<ProxyFactory>(reactor, "127.0.0.1", kTargetPort);
  std::function<std::unique_ptr<Protocol>()> makeTarget = [] { return std::make_unique<Sink>(); };
  LoopbackOptions options;
  std::vector<std::unique_ptr<IOPump>> clientPumps;
};

TEST_F(PortForward, connectsToTheTargetForEachClient) {
  listenTarget();
  connectClient();
  connectClient();
  ASSERT_EQ(reactor.tcpClients.size(), 2u);
  EXPECT_EQ(reactor.tcpClients[0].host, "127.0.0.1");
  EXPECT_EQ(reactor.tcpClients[0].port, kTargetPort);
  EXPECT_TRUE(proxyServer(0)->connecting());
  EXPECT_EQ(proxyServer(0)->factory, factory.get());
}

TEST_F(PortForward, relaysBytesBothWaysInOrder) {
  listenTarget();
  Sink* client = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  auto* target = this->target<Sink>();
  ASSERT_NE(target, nullptr);
  client->transport->write("GET / ");
  target->transport->write("200 ");
  client->transport->write("HTTP/1.0\r\n");
  target->transport->write("OK");
  flushAll();
  EXPECT_EQ(target->received, "GET / HTTP/1.0\r\n");
  EXPECT_EQ(client->received, "200 OK");
  EXPECT_FALSE(proxyServer()->connecting());
}

TEST_F(PortForward, theClientIsNotReadUntilTheTargetIsConnectedAndNothingIsLost) {
  listenTarget();
  Sink* client = connectClient();
  EXPECT_TRUE(clientPump().serverTransport().readPaused());
  client->transport->write("sent early");
  flushAll();
  EXPECT_EQ(proxyServer()->pendingBytes(), 0u);  // not even read yet
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  EXPECT_FALSE(clientPump().serverTransport().readPaused());
  EXPECT_EQ(target<Sink>()->received, "sent early");
}

TEST_F(PortForward, byteByByteDeliveryKeepsOrder) {
  options.readSize = 1;
  listenTarget();
  Sink* client = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  std::string sent;
  for (int i = 0; i < 200; ++i) sent += static_cast<char>('A' + i % 50);
  client->transport->write(sent);
  flushAll();
  EXPECT_EQ(target<Sink>()->received, sent);
}

TEST_F(PortForward, largeTransfersBothWaysArriveWhole) {
  static constexpr std::size_t kSize = 3 * 1024 * 1024 + 11;
  makeTarget = [] { return std::make_unique<Firehose>(kSize, false); };
  listenTarget();
  connectClient(std::make_unique<Firehose>(kSize, false));
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  auto* client = dynamic_cast<Firehose*>(clientPump().client());
  auto* target = this->target<Firehose>();
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(client->received.size(), kSize);
  EXPECT_EQ(target->received.size(), kSize);
  EXPECT_TRUE(Firehose::matches(client->received));
  EXPECT_TRUE(Firehose::matches(target->received));
}

TEST_F(PortForward, aHalfCloseFromTheClientReachesTheTargetWhichMayStillAnswer) {
  listenTarget();
  Sink* client = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  auto* target = this->target<Sink>();
  client->transport->write("question");
  client->transport->loseWriteConnection();
  flushAll();
  EXPECT_EQ(target->received, "question");
  EXPECT_TRUE(target->readLost);
  EXPECT_FALSE(target->lost);
  target->transport->write("answer after your end of file");
  target->transport->loseConnection();
  flushAll();
  EXPECT_EQ(client->received, "answer after your end of file");
  EXPECT_TRUE(client->readLost);
  EXPECT_TRUE(target->lost);
  // Both directions of the client's connection are shut: the forwarder closed it.
  EXPECT_TRUE(clientPump().serverTransport().disconnected());
  EXPECT_TRUE(targetPump().clientTransport().disconnected());
}

TEST_F(PortForward, aHalfCloseFromTheTargetReachesTheClientWhichMayStillSend) {
  listenTarget();
  Sink* client = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  auto* target = this->target<Sink>();
  target->transport->write("banner");
  target->transport->loseWriteConnection();
  flushAll();
  EXPECT_EQ(client->received, "banner");
  EXPECT_TRUE(client->readLost);
  EXPECT_FALSE(client->lost);
  client->transport->write("still talking");
  flushAll();
  EXPECT_EQ(target->received, "still talking");
  client->transport->loseConnection();
  flushAll();
  EXPECT_TRUE(target->readLost);
  EXPECT_TRUE(clientPump().serverTransport().disconnected());
  EXPECT_TRUE(targetPump().clientTransport().disconnected());
}

TEST_F(PortForward, theTargetClosingClosesTheClientAfterItsBytes) {
  listenTarget();
  makeTarget = [] {
    auto s = std::make_unique<Sink>();
    s->closeOnEndOfFile = true;
    return s;
  };
  Sink* client = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  auto* target = this->target<Sink>();
  target->transport->write(std::string(200000, 'x'));
  target->transport->loseConnection();
  flushAll();
  EXPECT_EQ(client->received.size(), 200000u);
  EXPECT_TRUE(client->readLost);
}

TEST_F(PortForward, theClientClosingClosesTheTarget) {
  listenTarget();
  Sink* client = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  client->transport->write("bye");
  client->transport->abortConnection();
  flushAll();
  auto* target = this->target<Sink>();
  EXPECT_TRUE(target->readLost || target->lost);
  EXPECT_TRUE(targetPump().clientTransport().disconnected());
}

TEST_F(PortForward, anUnreachableTargetClosesTheClientLogsAtInfoAndTheNextClientIsServed) {
  testing::LogCapture log;
  listenTarget();
  Sink* refused = connectClient();
  ASSERT_TRUE(completer.failOnce(Failure(ConnectionRefusedError())));
  flushAll();
  // The forwarder closed the connection cleanly: the client reads end of file.
  EXPECT_TRUE(refused->readLost);
  EXPECT_TRUE(clientPump(0).serverTransport().disconnected());
  ASSERT_TRUE(log.contains("Could not connect to the target"));
  for (const LogEvent& e : log.events()) EXPECT_LT(e.level, LogLevel::error);

  Sink* next = connectClient();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  next->transport->write("hello");
  flushAll();
  EXPECT_EQ(target<Sink>()->received, "hello");
  EXPECT_FALSE(next->lost);
}

// (A client that merely closes is not noticed while its connection is paused, here as with
// Twisted; the forwarder's connection can still be lost, by a reset, a timeout policy or the
// reactor's shutdown.)
TEST_F(PortForward, aConnectionLostWhileConnectingStopsTheAttempt) {
  listenTarget();
  Sink* client = connectClient();
  clientPump().serverTransport().abortConnection();
  flushAll();
  EXPECT_TRUE(client->lost);
  ASSERT_EQ(reactor.connectors.size(), 1u);
  EXPECT_TRUE(reactor.connectors[0]->stoppedConnecting());
  EXPECT_TRUE(clientPump().serverTransport().disconnected());
}

TEST_F(PortForward, aClientThatStopsReadingPausesTheTarget) {
  makeTarget = [] { return std::make_unique<Firehose>(16 * 1024 * 1024); };
  listenTarget();
  Sink* client = connectClient();
  clientPump().clientTransport().pauseProducing();
  ASSERT_NE(completer.succeedOnce(), nullptr);
  flushAll();
  auto* target = this->target<Firehose>();
  // The forwarder's outgoing transport stopped reading, which stopped the target.
  EXPECT_TRUE(targetPump().clientTransport().readPaused());
  EXPECT_TRUE(targetPump().serverTransport().producerPaused());
  EXPECT_LT(target->sent(), 1024u * 1024);
  EXPECT_LE(clientPump().serverTransport().bufferedBytes(), 2u * 64 * 1024);
  clientPump().clientTransport().resumeProducing();
  flushAll();
  EXPECT_EQ(client->received.size(), 16u * 1024 * 1024);
  EXPECT_TRUE(Firehose::matches(client->received));
}

TEST_F(PortForward, aTargetThatStopsReadingPausesTheClient) {
  listenTarget();
  connectClient(std::make_unique<Firehose>(16 * 1024 * 1024));
  ASSERT_NE(completer.succeedOnce(), nullptr);
  targetPump().serverTransport().pauseProducing();  // the target reads nothing
  flushAll();
  EXPECT_TRUE(clientPump().serverTransport().readPaused());
  EXPECT_TRUE(clientPump().clientTransport().producerPaused());
  EXPECT_LE(targetPump().clientTransport().bufferedBytes(), 2u * 64 * 1024);
  targetPump().serverTransport().resumeProducing();
  flushAll();
  EXPECT_EQ(target<Sink>()->received.size(), 16u * 1024 * 1024);
}

TEST_F(PortForward, forwardsToAnyClientEndpoint) {
  factory = std::make_shared<ProxyFactory>(
      std::make_shared<UNIXClientEndpoint>(reactor, "/run/target.sock"));
  reactor.listenUNIX("/run/target.sock", std::make_shared<Factory>([] {
                       return std::unique_ptr<Protocol>(std::make_unique<Sink>());
                     }));
  Sink* client = connectClient();
  ASSERT_EQ(reactor.unixClients.size(), 1u);
  ASSERT_NE(completer.succeedOnce(), nullptr);
  client->transport->write("over a unix socket");
  flushAll();
  EXPECT_EQ(target<Sink>()->received, "over a unix socket");
}

// ---- real TCP on 127.0.0.1 ---------------------------------------------------------------

class PortForwardTcp : public ::testing::Test {
 protected:
  Reactor reactor;
  IReactorNet& net = network(reactor);
};

TEST_F(PortForwardTcp, relaysAnEchoOverLoopbackTcp) {
  auto echo =
      net.listenTCP(0, Factory::forProtocol<Echo>(), TCPListenOptions{.interface = "127.0.0.1"});
  auto proxy =
      net.listenTCP(0, std::make_shared<ProxyFactory>(net, "127.0.0.1", echo->getHost().port()),
                    TCPListenOptions{.interface = "127.0.0.1"});
  auto clientFactory = std::make_shared<ClientFactory>([] {
    return std::unique_ptr<Protocol>(std::make_unique<Firehose>(2 * 1024 * 1024 + 5, false));
  });
  Firehose* client = nullptr;
  TCP4ClientEndpoint endpoint(net, "127.0.0.1", proxy->getHost().port());
  endpoint.connect(clientFactory)
      .addCallbacks([&](Protocol* p) { client = dynamic_cast<Firehose*>(p); },
                    [](const Failure& f) { ADD_FAILURE() << f.getErrorMessage(); });
  ASSERT_TRUE(test::spinUntil(reactor, [&] {
    return client != nullptr && client->received.size() == 2u * 1024 * 1024 + 5;
  }));
  EXPECT_TRUE(Firehose::matches(client->received));
  client->transport->loseConnection();
  proxy->stopListening();
  echo->stopListening();
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
}

TEST_F(PortForwardTcp, aHalfCloseCrossesTheForwarderAndTheAnswerComesBack) {
  std::shared_ptr<test::Record> targetRecord;
  auto target = net.listenTCP(0, std::make_shared<Factory>([&]() -> std::unique_ptr<Protocol> {
                                auto p = std::make_unique<test::HalfCloser>();
                                targetRecord = p->rec;
                                return p;
                              }),
                              TCPListenOptions{.interface = "127.0.0.1"});
  auto proxy =
      net.listenTCP(0, std::make_shared<ProxyFactory>(net, "127.0.0.1", target->getHost().port()),
                    TCPListenOptions{.interface = "127.0.0.1"});
  auto clientProtocol = std::make_unique<test::HalfCloser>();
  std::shared_ptr<test::Record> client = clientProtocol->rec;
  client->readLost = true;  // quiet: it only listens after its own end of file
  client->onMade = [](test::Record& r) {
    r.transport->write("question");
    r.transport->loseWriteConnection();
  };
  TCP4ClientEndpoint endpoint(net, "127.0.0.1", proxy->getHost().port());
  connectProtocol(endpoint, std::move(clientProtocol));
  ASSERT_TRUE(test::spinUntil(reactor, [&] { return client->lost; }));
  EXPECT_EQ(targetRecord->received, "question");
  EXPECT_EQ(client->received, "reply after your EOF");
  EXPECT_TRUE(client->writeLost);
  EXPECT_TRUE(client->reason->check<ConnectionDone>());
  proxy->stopListening();
  target->stopListening();
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
}

TEST_F(PortForwardTcp, aRefusedTargetClosesTheClientAndTheListenerGoesOn) {
  // A port nothing listens on: one that was just closed.
  std::uint16_t deadPort = 0;
  {
    auto p =
        net.listenTCP(0, Factory::forProtocol<Echo>(), TCPListenOptions{.interface = "127.0.0.1"});
    deadPort = p->getHost().port();
    p->stopListening();
  }
  auto factory = std::make_shared<ProxyFactory>(net, "127.0.0.1", deadPort);
  auto proxy = net.listenTCP(0, factory, TCPListenOptions{.interface = "127.0.0.1"});
  TCP4ClientEndpoint endpoint(net, "127.0.0.1", proxy->getHost().port());
  for (int round = 0; round < 2; ++round) {
    bool lost = false;
    auto clientFactory = std::make_shared<ClientFactory>([&]() -> std::unique_ptr<Protocol> {
      auto s = std::make_unique<test::Recorder>();
      s->rec->onLost = [&](test::Record&) { lost = true; };
      return s;
    });
    bool connected = false;
    endpoint.connect(clientFactory)
        .addCallbacks([&](Protocol*) { connected = true; },
                      [](const Failure& f) { ADD_FAILURE() << f.getErrorMessage(); });
    ASSERT_TRUE(test::spinUntil(reactor, [&] { return lost; })) << "round " << round;
    EXPECT_TRUE(connected);
  }
  EXPECT_TRUE(proxy->listening());
  proxy->stopListening();
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
}

}  // namespace
}  // namespace torsion::protocols
