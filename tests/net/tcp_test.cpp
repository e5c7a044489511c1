// TCP over 127.0.0.1 on a real reactor: connecting, reading, writing, closing, errors.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_helpers.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::test {
namespace {

struct Tcp : ::testing::Test {
  Reactor reactor{quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<Collecting<>> server = std::make_shared<Collecting<>>();
  std::shared_ptr<Collecting<>> client = std::make_shared<Collecting<>>();
  std::shared_ptr<IListeningPort> port;

  void listen() {
    port = net.listenTCP(0, server, TCPListenOptions{.backlog = 50, .interface = "127.0.0.1"});
  }
  std::shared_ptr<IConnector> connect() {
    return net.connectTCP("127.0.0.1", port->getHost().port(), client);
  }
  // Listens, connects, and waits for both ends.
  void pair() {
    listen();
    connect();
    ASSERT_TRUE(spinUntil(reactor, [&] {
      return client->built.size() == 1 && client->built[0]->made && server->built.size() == 1 &&
             server->built[0]->made;
    }));
  }
  Record& s() { return *server->built.at(0); }
  Record& c() { return *client->built.at(0); }
};

TEST_F(Tcp, listensOnAnEphemeralPortAndReportsIt) {
  listen();
  const Address host = port->getHost();
  EXPECT_EQ(host.family(), Address::Family::ipv4);
  EXPECT_EQ(host.host(), "127.0.0.1");
  EXPECT_NE(host.port(), 0);
  EXPECT_TRUE(port->listening());
  EXPECT_EQ(server->started, 1);
}

TEST_F(Tcp, bytesFlowBothWays) {
  pair();
  c().transport->write("hello");
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "hello"; }));
  const std::string_view parts[] = {"wor", "", "ld"};
  s().transport->writeSequence(parts);
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().received == "world"; }));
}

TEST_F(Tcp, hostAndPeerAddressesMatchAcrossTheConnection) {
  pair();
  EXPECT_EQ(c().transport->getPeer(), s().transport->getHost());
  EXPECT_EQ(s().transport->getPeer(), c().transport->getHost());
  EXPECT_EQ(s().transport->getHost().port(), port->getHost().port());
}

TEST_F(Tcp, loseConnectionFlushesEverythingWrittenBeforeIt) {
  pair();
  std::string big(8 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  s().transport->write(big);
  s().transport->write("tail");
  s().transport->loseConnection();
  EXPECT_TRUE(s().transport->disconnecting());
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost && s().lost; }));
  EXPECT_EQ(c().received.size(), big.size() + 4);
  EXPECT_TRUE(c().received == big + "tail");
  EXPECT_TRUE(c().reason->check<ConnectionDone>());
  EXPECT_TRUE(s().reason->check<ConnectionDone>());
  ASSERT_TRUE(client->lostReason.has_value());
  EXPECT_TRUE(client->lostReason->check<ConnectionDone>());
}

TEST_F(Tcp, abortConnectionDropsTheBufferAndResetsThePeer) {
  pair();
  s().transport->write(std::string(32 * 1024 * 1024, 'x'));
  s().transport->abortConnection();
  s().transport->abortConnection();  // harmless
  EXPECT_FALSE(s().lost);            // reported from the reactor, not from inside the call
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost && s().lost; }));
  EXPECT_TRUE(s().reason->check<ConnectionAborted>());
  EXPECT_TRUE(c().reason->check<ConnectionLost>());
  EXPECT_FALSE(c().reason->check<ConnectionAborted>());
  EXPECT_LT(c().received.size(), 32u * 1024 * 1024);
}

TEST_F(Tcp, writesAfterTheConnectionIsGoneAreIgnored) {
  pair();
  ITransport* t = s().transport;
  t->loseConnection();
  t->write("still flushed");  // accepted while disconnecting
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  EXPECT_EQ(c().received, "still flushed");
}

TEST_F(Tcp, connectionRefusedReachesTheClientFactory) {
  listen();
  const auto p = port->getHost().port();
  port->stopListening();
  net.connectTCP("127.0.0.1", p, client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return client->failedReason.has_value(); }));
  EXPECT_TRUE(client->failedReason->check<ConnectionRefusedError>());
  EXPECT_EQ(client->started, 1);
  EXPECT_EQ(client->stopped, 1);
}

TEST_F(Tcp, stopConnectingFailsWithUserError) {
  listen();
  auto connector = net.connectTCP("127.0.0.1", port->getHost().port(), client);
  EXPECT_EQ(connector->state(), IConnector::State::connecting);
  connector->stopConnecting();
  ASSERT_TRUE(client->failedReason.has_value());
  EXPECT_TRUE(client->failedReason->check<UserError>());
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
  EXPECT_THROW(connector->stopConnecting(), std::logic_error);
}

TEST_F(Tcp, aConnectorReconnectsAfterALostConnection) {
  pair();
  std::shared_ptr<IConnector> connector;
  // The connector of the first connection is reachable through shared_from_this.
  c().transport->loseConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return client->lostReason.has_value(); }));
  EXPECT_EQ(client->stopped, 1);
}

TEST_F(Tcp, refusingInBuildProtocolClosesTheSocket) {
  auto refusing = std::make_shared<Factory>();  // no protocol: every connection refused
  port = net.listenTCP(0, refusing, TCPListenOptions{.interface = "127.0.0.1"});
  connect();
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().lost; }));
  EXPECT_TRUE((c().reason->check<ConnectionDone, ConnectionLost>()));
}

TEST_F(Tcp, anExceptionInDataReceivedDropsOnlyThatConnection) {
  listen();
  server->setup = [](Record& r) {
    r.onData = [](Record&, std::string_view d) {
      if (d.find("bad") != std::string_view::npos) throw std::runtime_error("protocol bug");
    };
  };
  auto other = std::make_shared<Collecting<>>();
  net.connectTCP("127.0.0.1", port->getHost().port(), client);
  net.connectTCP("127.0.0.1", port->getHost().port(), other);
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return client->built.size() == 1 && c().made && other->built.size() == 1 &&
           other->built[0]->made && server->built.size() == 2;
  }));
  c().transport->write("bad");
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  other->built[0]->transport->write("fine");
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return server->built[0]->received == "fine" || server->built[1]->received == "fine";
  }));
  int dropped = 0;
  for (auto& r : server->built) {
    if (r->lost) {
      ++dropped;
      EXPECT_TRUE(r->reason->check<std::runtime_error>());
    }
  }
  EXPECT_EQ(dropped, 1);
  EXPECT_EQ(torsion::testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST_F(Tcp, anExceptionInConnectionMadeDropsTheConnectionNotThePort) {
  listen();
  int made = 0;
  server->setup = [&](Record& r) {
    r.onMade = [&](Record&) {
      if (++made == 1) throw std::runtime_error("first one fails");
    };
  };
  connect();
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().lost; }));
  auto second = std::make_shared<Collecting<>>();
  net.connectTCP("127.0.0.1", port->getHost().port(), second);
  ASSERT_TRUE(spinUntil(reactor, [&] { return made == 2; }));
  EXPECT_TRUE(port->listening());
  EXPECT_EQ(torsion::testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST_F(Tcp, halfCloseLetsTheOtherSideAnswerAfterEndOfFile) {
  auto halfServer = std::make_shared<Collecting<HalfCloser>>();
  auto halfClient = std::make_shared<Collecting<HalfCloser>>();
  port = net.listenTCP(0, halfServer, TCPListenOptions{.interface = "127.0.0.1"});
  net.connectTCP("127.0.0.1", port->getHost().port(), halfClient);
  ASSERT_TRUE(
      spinUntil(reactor, [&] { return !halfClient->built.empty() && halfClient->built[0]->made; }));
  Record& cl = *halfClient->built[0];
  cl.readLost = true;  // the client does not answer the server's EOF
  cl.transport->write("request");
  cl.transport->loseWriteConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return cl.lost; }));
  EXPECT_TRUE(cl.writeLost);
  Record& sv = *halfServer->built.at(0);
  EXPECT_TRUE(sv.readLost);
  EXPECT_EQ(sv.received, "request");
  EXPECT_EQ(cl.received, "reply after your EOF");
  EXPECT_TRUE(cl.reason->check<ConnectionDone>());
}

TEST_F(Tcp, endOfFileWithoutHalfCloseSupportIsConnectionDone) {
  pair();
  c().transport->loseWriteConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().lost; }));
  EXPECT_TRUE(s().reason->check<ConnectionDone>());
}

TEST_F(Tcp, stopListeningFiresLaterAndStopsTheFactory) {
  listen();
  bool fired = false;
  port->stopListening().addCallback([&] { fired = true; });
  EXPECT_FALSE(fired);
  EXPECT_FALSE(port->listening());
  EXPECT_EQ(server->stopped, 1);
  ASSERT_TRUE(spinUntil(reactor, [&] { return fired; }));
  bool again = false;
  port->stopListening().addCallback([&] { again = true; });
  EXPECT_TRUE(again);
  EXPECT_EQ(server->stopped, 1);
}

TEST_F(Tcp, aFactoryOnTwoPortsStartsOnceAndStopsWithTheLast) {
  listen();
  auto second = net.listenTCP(0, server, TCPListenOptions{.interface = "127.0.0.1"});
  EXPECT_EQ(server->started, 1);
  port->stopListening();
  EXPECT_EQ(server->stopped, 0);
  second->stopListening();
  EXPECT_EQ(server->stopped, 1);
}

TEST_F(Tcp, listeningOnAPortInUseIsCannotListenError) {
  listen();
  try {
    net.listenTCP(port->getHost().port(), server, TCPListenOptions{.interface = "127.0.0.1"});
    FAIL() << "no error";
  } catch (const CannotListenError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port->getHost().port())),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(net.listenTCP(0, server, TCPListenOptions{.interface = "not-an-ip"}),
               CannotListenError);
}

TEST_F(Tcp, ipv6LoopbackWorksWhereAvailable) {
  std::shared_ptr<IListeningPort> p6;
  try {
    p6 = net.listenTCP(0, server, TCPListenOptions{.interface = "::1"});
  } catch (const CannotListenError&) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  net.connectTCP("::1", p6->getHost().port(), client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().made; }));
  EXPECT_EQ(c().transport->getPeer().family(), Address::Family::ipv6);
  EXPECT_EQ(c().transport->getPeer().host(), "::1");
}

TEST_F(Tcp, hostNamesAreResolvedOffTheLoop) {
  reactor.getThreadPool().start();  // started by run(); these tests only iterate
  listen();
  net.connectTCP("localhost", port->getHost().port(), client);
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return (!client->built.empty() && c().made) || client->failedReason.has_value();
  }));
  // localhost may resolve to ::1 first on some machines, where nothing listens.
  if (client->failedReason) {
    EXPECT_TRUE(client->failedReason->check<ConnectionRefusedError>());
  } else {
    EXPECT_TRUE(c().made);
  }
}

TEST_F(Tcp, anUnknownHostIsDNSLookupError) {
  reactor.getThreadPool().start();
  net.connectTCP("no-such-host.invalid", 80, client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return client->failedReason.has_value(); }));
  EXPECT_TRUE(client->failedReason->check<DNSLookupError>());
}

TEST_F(Tcp, reactorShutdownLosesEveryConnection) {
  pair();
  reactor.callWhenRunning([&] { reactor.stop(); });
  reactor.run();
  EXPECT_TRUE(s().lost);
  EXPECT_TRUE(c().lost);
  EXPECT_TRUE(s().reason->check<ConnectionLost>());
  EXPECT_FALSE(port->listening());
}

TEST_F(Tcp, socketOptions) {
  pair();
  s().transport->setTcpNoDelay(true);
  EXPECT_TRUE(s().transport->getTcpNoDelay());
  s().transport->setTcpNoDelay(false);
  EXPECT_FALSE(s().transport->getTcpNoDelay());
  s().transport->setTcpKeepAlive(true);
  EXPECT_TRUE(s().transport->getTcpKeepAlive());
}

TEST_F(Tcp, pausingTheTransportStopsDataReceived) {
  pair();
  s().transport->pauseProducing();
  c().transport->write("while paused");
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_EQ(s().received, "");
  s().transport->resumeProducing();
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "while paused"; }));
}

// A push producer that writes until paused.
struct Pusher : IProducer {
  ITransport* t = nullptr;
  bool paused = false;
  bool stopped = false;
  int pauses = 0;
  int resumes = 0;
  std::size_t written = 0;
  std::size_t limit = 0;
  void pump() {
    while (!paused && !stopped && written < limit) {
      t->write(std::string(16 * 1024, 'p'));
      written += 16 * 1024;
    }
  }
  void pauseProducing() override {
    paused = true;
    ++pauses;
  }
  void resumeProducing() override {
    paused = false;
    ++resumes;
    pump();
  }
  void stopProducing() override { stopped = true; }
};

TEST_F(Tcp, aPushProducerIsPausedWhileThePeerDoesNotRead) {
  pair();
  c().transport->pauseProducing();  // the client stops reading
  Pusher p;
  p.t = s().transport;
  p.limit = std::size_t{1} << 30;
  s().transport->registerProducer(p, true);
  p.pump();
  ASSERT_TRUE(p.paused);
  // The socket buffers fill; what we keep stays under the water mark plus one write.
  for (int i = 0; i < 50 && !p.paused; ++i) reactor.iterate(Seconds(0.01));
  for (int i = 0; i < 20; ++i) {
    reactor.iterate(Seconds(0.01));
    EXPECT_LE(s().transport->bufferedBytes(), 64u * 1024 + 16 * 1024 + 16 * 1024 * 64);
  }
  const std::size_t before = p.written;
  c().transport->resumeProducing();
  ASSERT_TRUE(spinUntil(reactor, [&] { return p.resumes > 0 && p.written > before; }));
  s().transport->unregisterProducer();
  s().transport->loseConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  EXPECT_EQ(c().received.size(), p.written);
}

struct Puller : IProducer {
  ITransport* t = nullptr;
  int chunks = 0;
  int max = 0;
  bool stopped = false;
  void resumeProducing() override {
    if (chunks == max) {
      t->unregisterProducer();
      t->loseConnection();
      return;
    }
    ++chunks;
    t->write(std::string(100 * 1024, 'q'));
  }
  void stopProducing() override { stopped = true; }
};

TEST_F(Tcp, aPullProducerIsAskedForMoreEachTimeTheBufferEmpties) {
  pair();
  Puller p;
  p.t = s().transport;
  p.max = 40;
  s().transport->registerProducer(p, false);
  EXPECT_EQ(p.chunks, 1);  // asked at once
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  EXPECT_EQ(p.chunks, 40);
  EXPECT_EQ(c().received.size(), 40u * 100 * 1024);
  EXPECT_TRUE(c().reason->check<ConnectionDone>());
}

TEST_F(Tcp, aProducerIsStoppedWhenTheConnectionIsLost) {
  pair();
  Pusher p;
  p.t = s().transport;
  s().transport->registerProducer(p, true);
  EXPECT_THROW(s().transport->registerProducer(p, true), std::logic_error);
  c().transport->abortConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().lost; }));
  EXPECT_TRUE(p.stopped);
}

// At the descriptor limit the listener neither spins nor dies: pending clients are closed, and
// once descriptors are free again connections are accepted as usual.
TEST_F(Tcp, survivesRunningOutOfDescriptors) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers' runtime needs descriptors of its own (a pipe to check memory)";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
  GTEST_SKIP() << "the sanitizers' runtime needs descriptors of its own (a pipe to check memory)";
#endif
#endif
  listen();
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // Probe how many descriptors are open, then leave room for exactly a few more.
  int highest = ::dup(0);
  ::close(highest);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(highest + 6);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    sockaddr_storage ss;
    const socklen_t len = port->getHost().toSockaddr(ss);
    ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    clients.push_back(fd);
  }
  for (int i = 0; i < 20; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_TRUE(port->listening());
  torsion::testing::flushLoggedErrorEvents();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  for (int fd : clients) ::close(fd);
  connect();
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().made; }));
}

}  // namespace
}  // namespace torsion::test

namespace torsion::test {
namespace {

// Destroying a reactor that never stopped closes everything without calling back into user
// code, and frees it all (LeakSanitizer checks this in the sanitizer build).
TEST(TcpTeardown, destroyingTheReactorWithOpenConnectionsAndAttemptsFreesThem) {
  auto server = std::make_shared<Collecting<>>();
  auto client = std::make_shared<Collecting<>>();
  auto pending = std::make_shared<Collecting<>>();
  {
    Reactor reactor{quietOptions()};
    IReactorNet& net = network(reactor);
    auto port = net.listenTCP(0, server, TCPListenOptions{.interface = "127.0.0.1"});
    net.connectTCP("127.0.0.1", port->getHost().port(), client);
    ASSERT_TRUE(
        spinUntil(reactor, [&] { return !client->built.empty() && client->built[0]->made; }));
    net.connectTCP("127.0.0.1", port->getHost().port(), pending);   // still connecting
    client->built[0]->transport->write(std::string(1 << 20, 'z'));  // and something queued
  }
  EXPECT_FALSE(client->built[0]->lost);  // nothing was called back
  EXPECT_EQ(client.use_count(), 1);      // the connector and connection let go of the factory
  EXPECT_EQ(pending.use_count(), 1);
  EXPECT_EQ(server.use_count(), 1);
}

}  // namespace
}  // namespace torsion::test

namespace torsion::test {
namespace {

// An attempt that succeeded leaves no timer behind: its connect timeout would otherwise fire
// later into a connector that is gone (its last owner let go once the connection ended).
TEST(TcpTeardown, aSucceededAttemptLeavesNoTimeoutBehind) {
  Reactor reactor{quietOptions()};
  IReactorNet& net = network(reactor);
  auto server = std::make_shared<Collecting<>>();
  auto client = std::make_shared<Collecting<>>();
  auto port = net.listenTCP(0, server, TCPListenOptions{.interface = "127.0.0.1"});
  std::weak_ptr<IConnector> connector = net.connectTCP("127.0.0.1", port->getHost().port(), client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && client->built[0]->made; }));
  client->built[0]->transport->loseConnection();
  ASSERT_TRUE(spinUntil(
      reactor,
      [&] {
        return connector.expired() && server->built[0]->lost && reactor.getDelayedCalls().empty();
      },
      20));
}

}  // namespace
}  // namespace torsion::test
