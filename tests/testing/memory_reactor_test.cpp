// MemoryReactor (Twisted's MemoryReactorClock) and RaisingMemoryReactor: what code that opens
// ports and connections sees, and what its tests read back.
#include "torsion/testing/memory_reactor.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/gtest.hpp"

namespace torsion::testing {
namespace {

using std::chrono::seconds;
using torsion::test::Boom;

// A client factory that remembers the connectors it was told about.
class RecordingClientFactory : public ClientFactory {
 public:
  RecordingClientFactory()
      : ClientFactory([] { return std::make_unique<AccumulatingProtocol>(); }) {}
  void startedConnecting(IConnector& connector) override { started.push_back(&connector); }
  std::vector<IConnector*> started;
};

class RecordingDatagramProtocol : public DatagramProtocol {
 public:
  void startProtocol() override { ++starts; }
  void stopProtocol() override { ++stops; }
  int starts = 0;
  int stops = 0;
};

// What production code looks like: it only knows IReactorNet.
std::shared_ptr<IListeningPort> startService(IReactorNet& net, std::shared_ptr<Factory> factory) {
  return net.listenTCP(8080, std::move(factory), {.backlog = 5, .interface = "127.0.0.1"});
}

TEST(MemoryReactor, listenTCPRecordsTheCallAndListensOnTheAskedAddress) {
  MemoryReactor reactor;
  auto factory = Factory::forProtocol<AccumulatingProtocol>();
  std::shared_ptr<IListeningPort> port = startService(reactor, factory);

  ASSERT_EQ(reactor.tcpServers.size(), 1u);
  const MemoryReactor::TCPServer& server = reactor.tcpServers[0];
  EXPECT_EQ(server.port, 8080);
  EXPECT_EQ(server.factory, factory);
  EXPECT_EQ(server.backlog, 5);
  EXPECT_EQ(server.interface, "127.0.0.1");
  EXPECT_FALSE(server.reusePort);
  EXPECT_EQ(server.listeningPort, port);
  EXPECT_EQ(port->getHost(), Address::ip("127.0.0.1", 8080));
  EXPECT_TRUE(port->listening());
  // Nothing is started behind the test's back.
  EXPECT_EQ(factory->numPorts(), 0);
}

TEST(MemoryReactor, listenTCPDefaultsAreTwisteds) {
  MemoryReactor reactor;
  auto port = reactor.listenTCP(80, Factory::forProtocol<AccumulatingProtocol>());
  EXPECT_EQ(reactor.tcpServers[0].backlog, 50);
  EXPECT_EQ(reactor.tcpServers[0].interface, "");
  EXPECT_EQ(port->getHost(), Address::ip("0.0.0.0", 80));
}

TEST(MemoryReactor, listenTCPOnPortZeroGetsDistinctFixedPorts) {
  MemoryReactor reactor;
  auto factory = Factory::forProtocol<AccumulatingProtocol>();
  auto first = reactor.listenTCP(0, factory);
  auto second = reactor.listenTCP(0, factory, {.interface = "::1"});
  EXPECT_EQ(first->getHost(), Address::ip("0.0.0.0", 32768));
  EXPECT_EQ(second->getHost(), Address::ip("::1", 32769));
  EXPECT_EQ(reactor.tcpServers[0].port, 0);  // the record keeps what was asked
}

TEST(MemoryReactor, listenTCPOnANameThrowsCannotListenError) {
  MemoryReactor reactor;
  EXPECT_THROW(reactor.listenTCP(80, Factory::forProtocol<AccumulatingProtocol>(),
                                 {.interface = "localhost"}),
               CannotListenError);
  EXPECT_TRUE(reactor.tcpServers.empty());
}

TEST(MemoryReactor, stopListeningIsRecordedAndFiresAtOnce) {
  MemoryReactor reactor;
  auto port = reactor.listenTCP(80, Factory::forProtocol<AccumulatingProtocol>());
  successResultOf(port->stopListening());
  EXPECT_FALSE(port->listening());
  EXPECT_EQ(reactor.tcpServers[0].listeningPort->stopListeningCalls(), 1);
  successResultOf(port->stopListening());
  EXPECT_EQ(reactor.tcpServers[0].listeningPort->stopListeningCalls(), 2);
}

TEST(MemoryReactor, connectTCPRecordsTheCallAndTellsTheFactory) {
  MemoryReactor reactor;
  auto factory = std::make_shared<RecordingClientFactory>();
  const Address bind = Address::ip("10.1.1.1", 0);
  std::shared_ptr<IConnector> connector =
      reactor.connectTCP("192.0.2.7", 25, factory, {.timeout = seconds(5), .bindAddress = bind});

  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  const MemoryReactor::TCPClient& client = reactor.tcpClients[0];
  EXPECT_EQ(client.host, "192.0.2.7");
  EXPECT_EQ(client.port, 25);
  EXPECT_EQ(client.factory, factory);
  EXPECT_EQ(client.timeout, seconds(5));
  EXPECT_EQ(client.bindAddress, bind);
  EXPECT_EQ(client.connector, connector);
  ASSERT_EQ(reactor.connectors.size(), 1u);
  EXPECT_EQ(reactor.connectors[0], connector);
  ASSERT_EQ(factory->started.size(), 1u);
  EXPECT_EQ(factory->started[0], connector.get());
  EXPECT_EQ(connector->state(), IConnector::State::connecting);
  EXPECT_EQ(connector->getDestination(), Address::ip("192.0.2.7", 25));
}

TEST(MemoryReactor, connectTCPDefaultsAreTwisteds) {
  MemoryReactor reactor;
  reactor.connectTCP("::1", 80, std::make_shared<RecordingClientFactory>());
  EXPECT_EQ(reactor.tcpClients[0].timeout, seconds(30));
  EXPECT_FALSE(reactor.tcpClients[0].bindAddress.has_value());
  EXPECT_EQ(reactor.tcpClients[0].connector->getDestination(), Address::ip("::1", 80));
}

TEST(MemoryReactor, connectTCPToANameUsesItsAddressFromTheTable) {
  MemoryReactor reactor;
  reactor.hosts["example.com"] = {"93.184.216.34", "2606:2800:220:1::"};
  auto known = reactor.connectTCP("example.com", 443, std::make_shared<RecordingClientFactory>());
  auto unknown =
      reactor.connectTCP("nowhere.invalid", 1, std::make_shared<RecordingClientFactory>());
  EXPECT_EQ(known->getDestination(), Address::ip("93.184.216.34", 443));
  EXPECT_EQ(unknown->getDestination().family(), Address::Family::none);
  EXPECT_EQ(reactor.tcpClients[1].host, "nowhere.invalid");
}

TEST(FakeConnector, stopConnectingIsRecordedOnceAndThenRefused) {
  MemoryReactor reactor;
  auto connector = reactor.connectTCP("127.0.0.1", 1, std::make_shared<RecordingClientFactory>());
  connector->stopConnecting();
  EXPECT_TRUE(reactor.connectors[0]->stoppedConnecting());
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
  EXPECT_THROW(connector->stopConnecting(), std::logic_error);
}

TEST(FakeConnector, connectStartsANewAttemptOnlyWhenDisconnected) {
  MemoryReactor reactor;
  auto factory = std::make_shared<RecordingClientFactory>();
  auto connector = reactor.connectTCP("127.0.0.1", 1, factory);
  EXPECT_THROW(connector->connect(), std::logic_error);
  reactor.connectors[0]->setState(IConnector::State::disconnected);  // the attempt failed
  connector->connect();
  EXPECT_EQ(connector->state(), IConnector::State::connecting);
  EXPECT_EQ(reactor.connectors[0]->connectCalls(), 1);
  EXPECT_EQ(factory->started.size(), 2u);
}

TEST(FakeConnector, disconnectIsCounted) {
  MemoryReactor reactor;
  auto connector = reactor.connectUNIX("/tmp/s", std::make_shared<RecordingClientFactory>());
  reactor.connectors[0]->setState(IConnector::State::connected);
  EXPECT_FALSE(reactor.connectors[0]->disconnected());
  connector->disconnect();
  EXPECT_TRUE(reactor.connectors[0]->disconnected());
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
}

TEST(MemoryReactor, unixServersAndClientsAreRecorded) {
  MemoryReactor reactor;
  auto factory = Factory::forProtocol<AccumulatingProtocol>();
  auto port =
      reactor.listenUNIX("/run/app.sock", factory, {.backlog = 7, .mode = 0600, .wantPID = true});
  ASSERT_EQ(reactor.unixServers.size(), 1u);
  EXPECT_EQ(reactor.unixServers[0].path, "/run/app.sock");
  EXPECT_EQ(reactor.unixServers[0].factory, factory);
  EXPECT_EQ(reactor.unixServers[0].backlog, 7);
  EXPECT_EQ(reactor.unixServers[0].mode, 0600u);
  EXPECT_TRUE(reactor.unixServers[0].wantPID);
  EXPECT_EQ(port->getHost(), Address::unix("/run/app.sock"));

  auto clientFactory = std::make_shared<RecordingClientFactory>();
  auto connector = reactor.connectUNIX("/run/app.sock", clientFactory,
                                       {.timeout = seconds(2), .checkPID = true});
  ASSERT_EQ(reactor.unixClients.size(), 1u);
  EXPECT_EQ(reactor.unixClients[0].path, "/run/app.sock");
  EXPECT_EQ(reactor.unixClients[0].timeout, seconds(2));
  EXPECT_TRUE(reactor.unixClients[0].checkPID);
  EXPECT_EQ(connector->getDestination(), Address::unix("/run/app.sock"));
  EXPECT_EQ(clientFactory->started.size(), 1u);
  EXPECT_EQ(reactor.connectors.size(), 1u);
}

TEST(MemoryReactor, listenUDPStartsTheProtocolAndRecordsWhatItSends) {
  MemoryReactor reactor;
  auto protocol = std::make_shared<RecordingDatagramProtocol>();
  auto transport =
      reactor.listenUDP(5353, protocol, {.interface = "224.0.0.251", .maxPacketSize = 9000});
  ASSERT_EQ(reactor.udpPorts.size(), 1u);
  EXPECT_EQ(reactor.udpPorts[0].port, 5353);
  EXPECT_EQ(reactor.udpPorts[0].interface, "224.0.0.251");
  EXPECT_EQ(reactor.udpPorts[0].maxPacketSize, 9000u);
  EXPECT_EQ(reactor.udpPorts[0].protocol, protocol);
  EXPECT_EQ(protocol->starts, 1);
  EXPECT_EQ(protocol->transport, transport.get());
  EXPECT_EQ(transport->getHost(), Address::ip("224.0.0.251", 5353, Address::Type::datagram));

  const Address to = Address::ip("10.0.0.2", 53, Address::Type::datagram);
  protocol->transport->write("query", to);
  ASSERT_EQ(reactor.udpPorts[0].transport->written.size(), 1u);
  EXPECT_EQ(reactor.udpPorts[0].transport->written[0].data, "query");
  EXPECT_EQ(reactor.udpPorts[0].transport->written[0].to, to);

  successResultOf(transport->stopListening());
  successResultOf(transport->stopListening());
  EXPECT_EQ(protocol->stops, 1);
  EXPECT_FALSE(transport->listening());
  EXPECT_EQ(reactor.udpPorts[0].transport->stopListeningCalls(), 2);
}

TEST(MemoryReactor, aConnectedDatagramPortWritesToItsPeer) {
  MemoryReactor reactor;
  auto transport = reactor.listenUDP(0, std::make_shared<RecordingDatagramProtocol>());
  EXPECT_THROW(transport->write("x"), std::logic_error);
  const Address peer = Address::ip("127.0.0.1", 9, Address::Type::datagram);
  transport->connect(peer);
  transport->write("x");
  EXPECT_EQ(reactor.udpPorts[0].transport->written.at(0).to, peer);
  EXPECT_EQ(reactor.udpPorts[0].transport->connectedPeer(), peer);
}

TEST(MemoryReactor, udpOptionsAreRememberedAndUnixDatagramPortsRefuseThem) {
  MemoryReactor reactor;
  auto udp = reactor.listenUDP(0, std::make_shared<RecordingDatagramProtocol>());
  udp->setBroadcastAllowed(true);
  udp->setTTL(4);
  udp->setLoopbackMode(false);
  udp->joinGroup("239.1.1.1");
  udp->joinGroup("239.2.2.2", "10.0.0.1");
  udp->leaveGroup("239.1.1.1");
  EXPECT_TRUE(udp->getBroadcastAllowed());
  EXPECT_EQ(udp->getTTL(), 4);
  EXPECT_FALSE(udp->getLoopbackMode());
  EXPECT_EQ(reactor.udpPorts[0].transport->groups, std::vector<std::string>{"239.2.2.2%10.0.0.1"});

  auto unixPort =
      reactor.listenUNIXDatagram("/tmp/d", std::make_shared<RecordingDatagramProtocol>());
  EXPECT_THROW(unixPort->setTTL(2), std::logic_error);
  EXPECT_THROW(unixPort->joinGroup("239.1.1.1"), std::logic_error);
  EXPECT_EQ(unixPort->getHost(), Address::unix("/tmp/d", Address::Type::datagram));
}

TEST(MemoryReactor, unixDatagramPortsAreRecorded) {
  MemoryReactor reactor;
  auto protocol = std::make_shared<RecordingDatagramProtocol>();
  reactor.listenUNIXDatagram("/tmp/server", protocol, 0600);
  auto client = reactor.connectUNIXDatagram("/tmp/server", protocol, "/tmp/client");
  ASSERT_EQ(reactor.unixDatagramPorts.size(), 2u);
  EXPECT_FALSE(reactor.unixDatagramPorts[0].connected);
  EXPECT_EQ(reactor.unixDatagramPorts[0].mode, 0600u);
  EXPECT_TRUE(reactor.unixDatagramPorts[1].connected);
  EXPECT_EQ(reactor.unixDatagramPorts[1].bindPath, "/tmp/client");
  client->write("hi");
  EXPECT_EQ(reactor.unixDatagramPorts[1].transport->written.at(0).to,
            Address::unix("/tmp/server", Address::Type::datagram));
  EXPECT_EQ(protocol->starts, 2);
}

TEST(MemoryReactor, adoptedDescriptorsAreRecordedWithTwistedsAddresses) {
  MemoryReactor reactor;
  auto factory = Factory::forProtocol<AccumulatingProtocol>();
  auto port4 = reactor.adoptStreamPort(3, AF_INET, factory);
  auto port6 = reactor.adoptStreamPort(4, AF_INET6, factory);
  reactor.adoptStreamConnection(5, AF_UNIX, factory);
  auto datagrams =
      reactor.adoptDatagramPort(6, AF_INET, std::make_shared<RecordingDatagramProtocol>());

  ASSERT_EQ(reactor.adoptedPorts.size(), 2u);
  EXPECT_EQ(reactor.adoptedPorts[0].fd, 3);
  EXPECT_EQ(reactor.adoptedPorts[0].family, AF_INET);
  EXPECT_EQ(reactor.adoptedPorts[0].factory, factory);
  EXPECT_EQ(port4->getHost(), Address::ip("0.0.0.0", 1234));
  EXPECT_EQ(port6->getHost(), Address::ip("::", 1234));
  ASSERT_EQ(reactor.adoptedStreamConnections.size(), 1u);
  EXPECT_EQ(reactor.adoptedStreamConnections[0].fd, 5);
  EXPECT_EQ(reactor.adoptedStreamConnections[0].family, AF_UNIX);
  ASSERT_EQ(reactor.adoptedDatagramPorts.size(), 1u);
  EXPECT_EQ(reactor.adoptedDatagramPorts[0].fd, 6);
  EXPECT_EQ(datagrams->getHost(), Address::ip("0.0.0.0", 1234, Address::Type::datagram));
  EXPECT_THROW(reactor.adoptStreamPort(7, AF_PACKET, factory), std::invalid_argument);
}

TEST(MemoryReactor, resolveHostAnswersNumericHostsAtOnce) {
  MemoryReactor reactor;
  EXPECT_EQ(successResultOf(reactor.resolveHost("127.0.0.1", 80)),
            std::vector<Address>{Address::ip("127.0.0.1", 80)});
  EXPECT_EQ(successResultOf(reactor.resolveHost("::1", 80, AF_INET6)),
            std::vector<Address>{Address::ip("::1", 80)});
  failureResultOf<DNSLookupError>(reactor.resolveHost("::1", 80, AF_INET));
}

TEST(MemoryReactor, resolveHostAnswersNamesFromTheTable) {
  MemoryReactor reactor;
  reactor.hosts["db.internal"] = {"10.0.0.5", "fd00::5"};
  EXPECT_EQ(successResultOf(reactor.resolveHost("db.internal", 5432)),
            (std::vector<Address>{Address::ip("10.0.0.5", 5432), Address::ip("fd00::5", 5432)}));
  EXPECT_EQ(successResultOf(reactor.resolveHost("db.internal", 5432, AF_INET6)),
            std::vector<Address>{Address::ip("fd00::5", 5432)});
  Failure f = failureResultOf<DNSLookupError>(reactor.resolveHost("other.internal", 1));
  EXPECT_NE(f.getErrorMessage().find("other.internal"), std::string::npos);
  ASSERT_EQ(reactor.resolutions.size(), 3u);
  EXPECT_EQ(reactor.resolutions[2].host, "other.internal");
  EXPECT_EQ(reactor.resolutions[1].family, AF_INET6);
}

TEST(MemoryReactor, timeIsVirtualAndMovesWithAdvance) {
  MemoryReactor reactor;
  int fired = 0;
  reactor.callLater(seconds(10), [&] { ++fired; });
  EXPECT_EQ(reactor.getDelayedCalls().size(), 1u);
  reactor.advance(seconds(9));
  EXPECT_EQ(fired, 0);
  reactor.pump({seconds(1)});
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(reactor.seconds(), 10.0);
  EXPECT_TRUE(reactor.getDelayedCalls().empty());
}

TEST(MemoryReactor, drivesATimeoutThroughIReactorTime) {
  MemoryReactor reactor;
  Deferred<int> answer;
  Deferred<int> timed = answer.addTimeout(seconds(3), reactor);
  reactor.advance(seconds(2));
  assertNoResult(timed);
  reactor.advance(seconds(1));
  failureResultOf<TimeoutError>(timed);
}

TEST(RaisingMemoryReactor, listenCallsThrowTheGivenErrorWithoutRecording) {
  RaisingMemoryReactor reactor(std::make_exception_ptr(CannotListenError("", "80", "in use")));
  auto factory = Factory::forProtocol<AccumulatingProtocol>();
  EXPECT_THROW(reactor.listenTCP(80, factory), CannotListenError);
  EXPECT_THROW(reactor.listenUNIX("/x", factory), CannotListenError);
  EXPECT_THROW(reactor.listenUDP(80, std::make_shared<RecordingDatagramProtocol>()),
               CannotListenError);
  EXPECT_THROW(reactor.adoptStreamPort(3, AF_INET, factory), CannotListenError);
  EXPECT_TRUE(reactor.tcpServers.empty());
  EXPECT_TRUE(reactor.unixServers.empty());
  EXPECT_TRUE(reactor.udpPorts.empty());
  // No connect error given: connecting works as on a MemoryReactor.
  reactor.connectTCP("127.0.0.1", 80, std::make_shared<RecordingClientFactory>());
  EXPECT_EQ(reactor.tcpClients.size(), 1u);
}

TEST(RaisingMemoryReactor, connectCallsThrowTheGivenError) {
  RaisingMemoryReactor reactor(nullptr, std::make_exception_ptr(Boom()));
  auto factory = std::make_shared<RecordingClientFactory>();
  EXPECT_THROW(reactor.connectTCP("127.0.0.1", 80, factory), Boom);
  EXPECT_THROW(reactor.connectUNIX("/x", factory), Boom);
  EXPECT_TRUE(factory->started.empty());
  EXPECT_TRUE(reactor.connectors.empty());
  reactor.listenTCP(80, factory);
  EXPECT_EQ(reactor.tcpServers.size(), 1u);
}

}  // namespace
}  // namespace torsion::testing
