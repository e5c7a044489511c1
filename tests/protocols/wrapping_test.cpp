// ProtocolWrapper, WrappingFactory and the connection limits (Twisted's WrapperTests,
// LimitTotalConnectionsFactoryTests and LimitConnectionsByPeer), over StringTransport.
#include "torsion/protocols/wrapping.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/net/errors.hpp"
#include "torsion/net/port.hpp"
#include "torsion/protocols/limits.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::AccumulatingProtocol;
using testing::StringTransport;
using testing::StringTransportWithDisconnection;

// One connection of a factory: the protocol it built, over its own transport.
struct Connection {
  Connection(Factory& factory, const Address& peer)
      : transport(Address::ip("10.0.0.1", 80), peer), protocol(factory.buildProtocol(peer)) {
    if (protocol) transport.connect(*protocol);
  }
  ProtocolWrapper& wrapper() const { return static_cast<ProtocolWrapper&>(*protocol); }
  AccumulatingProtocol& inner() const {
    return static_cast<AccumulatingProtocol&>(wrapper().wrappedProtocol());
  }
  StringTransportWithDisconnection transport;
  std::unique_ptr<Protocol> protocol;
};

const Address kPeer = Address::ip("192.168.1.1", 54321);

class CountingFactory : public ClientFactory {
 public:
  CountingFactory() : ClientFactory([] { return std::make_unique<AccumulatingProtocol>(); }) {}
  void startFactory() override { ++started; }
  void stopFactory() override { ++stopped; }
  void startedConnecting(IConnector&) override { events.emplace_back("startedConnecting"); }
  void clientConnectionFailed(IConnector&, const Failure&) override {
    events.emplace_back("failed");
  }
  void clientConnectionLost(IConnector&, const Failure&) override { events.emplace_back("lost"); }
  int started = 0;
  int stopped = 0;
  std::vector<std::string> events;
};

TEST(WrappingFactory, wrappedProtocolSeesTheWrapperAsItsTransport) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  Connection c(*factory, kPeer);
  ASSERT_NE(c.protocol, nullptr);
  EXPECT_EQ(c.wrapper().transport, &c.transport);
  EXPECT_EQ(c.inner().transport, &c.wrapper());
  EXPECT_TRUE(c.inner().made);
  EXPECT_EQ(c.wrapper().factory, factory.get());
  EXPECT_EQ(&c.wrapper().wrappingFactory(), factory.get());
  // The wrapped factory's protocols keep their own factory.
  EXPECT_EQ(c.inner().factory, &factory->wrappedFactory());
}

TEST(WrappingFactory, bytesPassThroughBothWays) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  Connection c(*factory, kPeer);
  c.protocol->dataReceived("in");
  EXPECT_EQ(c.inner().data, "in");
  c.inner().transport->write("out");
  const std::string_view pieces[] = {"-", "seq"};
  c.inner().transport->writeSequence(pieces);
  EXPECT_EQ(c.transport.value(), "out-seq");
  EXPECT_EQ(c.transport.writeCount(), 2U);
}

TEST(WrappingFactory, loseConnectionPassesThroughAndTheReasonComesBack) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  Connection c(*factory, kPeer);
  EXPECT_FALSE(c.inner().transport->disconnecting());
  c.inner().transport->loseConnection();
  EXPECT_TRUE(c.transport.disconnecting());
  EXPECT_TRUE(c.inner().closed);
  ASSERT_TRUE(c.inner().closedReason);
  EXPECT_TRUE(c.inner().closedReason->check<ConnectionDone>());
}

TEST(WrappingFactory, abortConnectionPassesThrough) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  Connection c(*factory, kPeer);
  c.inner().transport->abortConnection();
  EXPECT_TRUE(c.transport.aborted());
  EXPECT_TRUE(c.inner().transport->disconnecting());
  ASSERT_TRUE(c.inner().closedReason);
  EXPECT_TRUE(c.inner().closedReason->check<ConnectionAborted>());
}

TEST(WrappingFactory, wrapperReportsTheRealTransportsState) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  StringTransport transport(Address::ip("10.0.0.1", 80), kPeer);
  std::unique_ptr<Protocol> protocol = factory->buildProtocol(kPeer);
  protocol->makeConnection(transport);
  ITransport& seen = *static_cast<ProtocolWrapper&>(*protocol).wrappedProtocol().transport;
  EXPECT_EQ(seen.getPeer(), kPeer);
  EXPECT_EQ(seen.getHost(), Address::ip("10.0.0.1", 80));
  seen.setTcpNoDelay(true);
  seen.setTcpKeepAlive(true);
  EXPECT_TRUE(transport.getTcpNoDelay());
  EXPECT_TRUE(seen.getTcpKeepAlive());
  seen.setWriteBufferSize(1234);
  EXPECT_EQ(transport.writeBufferSize(), 1234U);
  EXPECT_EQ(seen.bufferedBytes(), 0U);
  seen.loseWriteConnection();
  EXPECT_TRUE(transport.writeConnectionLost());
  // The real transport disconnecting shows through too.
  transport.loseConnection();
  EXPECT_TRUE(seen.disconnecting());
}

TEST(WrappingFactory, producersAndReadPausingPassThrough) {
  class Producer : public IProducer {
   public:
    void stopProducing() override {}
    void resumeProducing() override {}
  };
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  Connection c(*factory, kPeer);
  Producer producer;
  c.inner().transport->registerProducer(producer, true);
  EXPECT_EQ(c.transport.producer(), &producer);
  EXPECT_TRUE(c.transport.streaming());
  c.inner().transport->unregisterProducer();
  EXPECT_EQ(c.transport.producer(), nullptr);
  c.inner().transport->pauseProducing();
  EXPECT_EQ(c.transport.producerState(), StringTransport::kPaused);
  c.inner().transport->resumeProducing();
  EXPECT_EQ(c.transport.producerState(), StringTransport::kProducing);
  c.inner().transport->stopProducing();
  EXPECT_EQ(c.transport.producerState(), StringTransport::kStopped);
}

TEST(WrappingFactory, protocolsAreTheLiveConnections) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  Connection a(*factory, kPeer);
  Connection b(*factory, kPeer);
  EXPECT_EQ(factory->protocols().size(), 2U);
  EXPECT_TRUE(factory->protocols().contains(&a.wrapper()));
  a.inner().transport->loseConnection();
  EXPECT_EQ(factory->protocols().size(), 1U);
  EXPECT_TRUE(factory->protocols().contains(&b.wrapper()));
}

TEST(WrappingFactory, aWrapperDestroyedWithoutConnectionLostUnregisters) {
  auto factory = std::make_shared<WrappingFactory>(Factory::forProtocol<AccumulatingProtocol>());
  {
    Connection c(*factory, kPeer);
    EXPECT_EQ(factory->protocols().size(), 1U);
  }
  EXPECT_TRUE(factory->protocols().empty());
}

TEST(WrappingFactory, refusalByTheWrappedFactoryIsPassedOn) {
  auto refusing = std::make_shared<Factory>([]() -> std::unique_ptr<Protocol> { return nullptr; });
  WrappingFactory factory(refusing);
  EXPECT_EQ(factory.buildProtocol(kPeer), nullptr);
}

TEST(WrappingFactory, startsAndStopsTheWrappedFactory) {
  auto wrapped = std::make_shared<CountingFactory>();
  WrappingFactory factory(wrapped);
  factory.doStart();
  factory.doStart();
  EXPECT_EQ(wrapped->started, 1);
  factory.doStop();
  EXPECT_EQ(wrapped->stopped, 0);
  factory.doStop();
  EXPECT_EQ(wrapped->stopped, 1);
}

TEST(WrappingFactory, passesClientEventsToAWrappedClientFactory) {
  class NoConnector : public IConnector {
   public:
    void connect() override {}
    void stopConnecting() override {}
    void disconnect() override {}
    Address getDestination() const override { return kPeer; }
    State state() const noexcept override { return State::disconnected; }
  };
  auto wrapped = std::make_shared<CountingFactory>();
  WrappingFactory factory(wrapped);
  auto connector = std::make_shared<NoConnector>();
  factory.startedConnecting(*connector);
  factory.clientConnectionFailed(*connector, Failure(ConnectionRefusedError()));
  factory.clientConnectionLost(*connector, Failure(ConnectionLost()));
  EXPECT_EQ(wrapped->events, (std::vector<std::string>{"startedConnecting", "failed", "lost"}));
  // A plain wrapped Factory hears nothing, and nothing breaks.
  WrappingFactory plain(Factory::forProtocol<AccumulatingProtocol>());
  plain.startedConnecting(*connector);
}

TEST(WrappingFactory, refusesToWrapNothing) {
  EXPECT_THROW(WrappingFactory(nullptr), std::invalid_argument);
}

// ---- LimitTotalConnectionsFactory -------------------------------------------------------------

TEST(LimitTotalConnectionsFactory, refusesConnectionsBeyondTheLimit) {
  auto factory = std::make_shared<LimitTotalConnectionsFactory>(
      Factory::forProtocol<AccumulatingProtocol>(), 2);
  Connection a(*factory, kPeer);
  Connection b(*factory, kPeer);
  EXPECT_EQ(factory->connectionCount(), 2U);
  Connection c(*factory, kPeer);
  EXPECT_EQ(c.protocol, nullptr);
  EXPECT_EQ(factory->connectionCount(), 2U);
}

TEST(LimitTotalConnectionsFactory, lostConnectionsFreeTheirPlace) {
  auto factory = std::make_shared<LimitTotalConnectionsFactory>(
      Factory::forProtocol<AccumulatingProtocol>(), 1);
  Connection a(*factory, kPeer);
  a.inner().transport->loseConnection();
  EXPECT_EQ(factory->connectionCount(), 0U);
  Connection b(*factory, kPeer);
  EXPECT_NE(b.protocol, nullptr);
}

TEST(LimitTotalConnectionsFactory, overflowProtocolServesConnectionsBeyondTheLimit) {
  class Busy : public Protocol {
    void connectionMade() override {
      transport->write("busy\r\n");
      transport->loseConnection();
    }
  };
  auto factory = std::make_shared<LimitTotalConnectionsFactory>(
      Factory::forProtocol<AccumulatingProtocol>(), 1, [] { return std::make_unique<Busy>(); });
  Connection a(*factory, kPeer);
  EXPECT_TRUE(a.inner().made);
  Connection b(*factory, kPeer);
  ASSERT_NE(b.protocol, nullptr);
  EXPECT_EQ(b.transport.value(), "busy\r\n");
  EXPECT_EQ(b.wrapper().wrappedProtocol().factory, factory.get());
  EXPECT_EQ(factory->connectionCount(), 1U);
}

TEST(LimitTotalConnectionsFactory, overflowConnectionsCountToo) {
  auto factory = std::make_shared<LimitTotalConnectionsFactory>(
      Factory::forProtocol<AccumulatingProtocol>(), 1,
      [] { return std::make_unique<AccumulatingProtocol>(); });
  Connection a(*factory, kPeer);
  Connection b(*factory, kPeer);
  EXPECT_EQ(factory->connectionCount(), 2U);
}

TEST(LimitTotalConnectionsFactory, noLimitByDefault) {
  auto factory =
      std::make_shared<LimitTotalConnectionsFactory>(Factory::forProtocol<AccumulatingProtocol>());
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < 50; ++i) {
    connections.push_back(std::make_unique<Connection>(*factory, kPeer));
    EXPECT_NE(connections.back()->protocol, nullptr);
  }
  EXPECT_EQ(factory->connectionCount(), 50U);
}

// ---- LimitConnectionsByPeer -------------------------------------------------------------------

TEST(LimitConnectionsByPeer, allowsFiveConnectionsPerPeerByDefault) {
  auto factory =
      std::make_shared<LimitConnectionsByPeer>(Factory::forProtocol<AccumulatingProtocol>());
  std::vector<std::unique_ptr<Connection>> connections;
  for (std::uint16_t port = 1; port <= 5; ++port) {
    connections.push_back(std::make_unique<Connection>(*factory, Address::ip("192.168.1.1", port)));
    EXPECT_NE(connections.back()->protocol, nullptr);
  }
  EXPECT_EQ(factory->connectionsFrom("192.168.1.1"), 5U);
  Connection sixth(*factory, Address::ip("192.168.1.1", 6));
  EXPECT_EQ(sixth.protocol, nullptr);
  Connection other(*factory, Address::ip("192.168.1.2", 6));
  EXPECT_NE(other.protocol, nullptr);
}

TEST(LimitConnectionsByPeer, lostConnectionFreesAPlaceForItsPeer) {
  auto factory =
      std::make_shared<LimitConnectionsByPeer>(Factory::forProtocol<AccumulatingProtocol>());
  factory->maxConnectionsPerPeer = 1;
  Connection a(*factory, kPeer);
  EXPECT_EQ(Connection(*factory, kPeer).protocol, nullptr);
  a.inner().transport->loseConnection();
  EXPECT_EQ(factory->connectionsFrom(kPeer.host()), 0U);
  Connection b(*factory, kPeer);
  EXPECT_NE(b.protocol, nullptr);
}

TEST(LimitConnectionsByPeer, destroyedWrapperFreesItsPlace) {
  auto factory =
      std::make_shared<LimitConnectionsByPeer>(Factory::forProtocol<AccumulatingProtocol>());
  { Connection a(*factory, kPeer); }
  EXPECT_EQ(factory->connectionsFrom(kPeer.host()), 0U);
}

}  // namespace
}  // namespace torsion::protocols
