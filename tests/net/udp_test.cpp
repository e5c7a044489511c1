// UDP on a real reactor (both pollers) over loopback: datagrams and their senders, connected
// UDP and ICMP refusals, stopping, broadcast and multicast options, IPv6, truncation to
// maxPacketSize, and errors in the protocol.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_helpers.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::test {
namespace {

struct Udp : ::testing::TestWithParam<const char*> {
  Reactor reactor{quietOptions(GetParam())};
  IReactorNet& net = network(reactor);
  std::shared_ptr<Catcher> a = std::make_shared<Catcher>();
  std::shared_ptr<Catcher> b = std::make_shared<Catcher>();

  std::shared_ptr<IDatagramTransport> listen(std::shared_ptr<Catcher> p,
                                             UDPListenOptions options = {
                                                 .interface = "127.0.0.1"}) {
    return net.listenUDP(0, std::move(p), options);
  }
};

INSTANTIATE_TEST_SUITE_P(Pollers, Udp, ::testing::ValuesIn(kPollers), pollerName);

TEST_P(Udp, listensOnAnEphemeralLoopbackPort) {
  auto port = listen(a);
  const Address host = port->getHost();
  EXPECT_EQ(host.family(), Address::Family::ipv4);
  EXPECT_EQ(host.type(), Address::Type::datagram);
  EXPECT_EQ(host.host(), "127.0.0.1");
  EXPECT_NE(host.port(), 0);
  EXPECT_TRUE(port->listening());
  EXPECT_EQ(a->started, 1);
  EXPECT_EQ(a->transport, port.get());
}

TEST_P(Udp, datagramsFlowBothWaysWithTheSendersAddress) {
  auto pa = listen(a);
  auto pb = listen(b);
  b->onDatagram = [&](std::string_view data, const Address& from) {
    b->transport->write(std::string("re: ") + std::string(data), from);
  };
  pa->write("ping", pb->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->has("re: ping"); }));
  ASSERT_EQ(b->got.size(), 1u);
  EXPECT_EQ(b->got[0].from, pa->getHost());
  EXPECT_EQ(a->got[0].from, pb->getHost());
  EXPECT_EQ(a->got[0].from.type(), Address::Type::datagram);
}

TEST_P(Udp, datagramBoundariesAreKept) {
  auto pa = listen(a);
  auto pb = listen(b);
  for (int i = 0; i < 20; ++i) pa->write("datagram " + std::to_string(i), pb->getHost());
  pa->write("", pb->getHost());  // an empty datagram is a datagram too
  ASSERT_TRUE(spinUntil(reactor, [&] { return b->got.size() == 21; }));
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(b->got[static_cast<std::size_t>(i)].data, "datagram " + std::to_string(i));
  EXPECT_EQ(b->got[20].data, "");
}

TEST_P(Udp, connectedUdpWritesToItsPeerAndHearsOnlyFromIt) {
  auto pa = listen(a);
  auto pb = listen(b);
  auto stranger = std::make_shared<Catcher>();
  auto ps = listen(stranger);
  pa->connect(pb->getHost());
  EXPECT_THROW(pa->write("x", pb->getHost()), std::logic_error);
  EXPECT_THROW(pb->write("x"), std::logic_error);  // not connected
  EXPECT_THROW(pa->connect(pb->getHost()), std::logic_error);
  pa->write("to my peer");
  ASSERT_TRUE(spinUntil(reactor, [&] { return b->has("to my peer"); }));
  EXPECT_EQ(b->got[0].from, pa->getHost());
  // The kernel filters what does not come from the peer; the peer's later datagram is the
  // marker that the stranger's had its chance to arrive.
  ps->write("from a stranger", pa->getHost());
  pb->write("from the peer", pa->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->has("from the peer"); }));
  EXPECT_FALSE(a->has("from a stranger"));
}

TEST_P(Udp, connectedUdpReportsAClosedPortAsConnectionRefused) {
  auto pa = listen(a);
  auto pb = listen(b);
  const Address gone = pb->getHost();
  bool stopped = false;
  pb->stopListening().addCallback([&] { stopped = true; });
  ASSERT_TRUE(spinUntil(reactor, [&] { return stopped; }));
  pa->connect(gone);
  pa->write("anyone?");
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->refused > 0; }));
  EXPECT_TRUE(pa->listening());  // a refusal does not stop the port
  EXPECT_TRUE(a->got.empty());
}

TEST_P(Udp, stopListeningCallsStopProtocolAndFiresLater) {
  auto pa = listen(a);
  bool fired = false;
  pa->stopListening().addCallback([&] { fired = true; });
  EXPECT_EQ(a->stopped, 1);
  EXPECT_TRUE(a->transportSetWhenStopped);
  EXPECT_FALSE(pa->listening());
  EXPECT_FALSE(fired);
  ASSERT_TRUE(spinUntil(reactor, [&] { return fired; }));
  bool again = false;
  pa->stopListening().addCallback([&] { again = true; });
  EXPECT_TRUE(again);
  EXPECT_EQ(a->stopped, 1);
}

TEST_P(Udp, writingOnAStoppedPortThrows) {
  auto pa = listen(a);
  auto pb = listen(b);
  pa->stopListening();
  EXPECT_THROW(pa->write("late", pb->getHost()), std::logic_error);
  EXPECT_THROW(pa->connect(pb->getHost()), std::logic_error);
}

TEST_P(Udp, broadcastFlag) {
  auto pa = listen(a);
  EXPECT_FALSE(pa->getBroadcastAllowed());
  pa->setBroadcastAllowed(true);
  EXPECT_TRUE(pa->getBroadcastAllowed());
  pa->setBroadcastAllowed(false);
  EXPECT_FALSE(pa->getBroadcastAllowed());
}

TEST_P(Udp, aDatagramLongerThanMaxPacketSizeIsTruncated) {
  // Twisted's recvfrom(maxPacketSize): the rest of that datagram is lost, the next one is
  // whole.
  auto pa = listen(a, UDPListenOptions{.interface = "127.0.0.1", .maxPacketSize = 16});
  auto pb = listen(b);
  std::string longOne(100, '\0');
  for (std::size_t i = 0; i < longOne.size(); ++i) longOne[i] = static_cast<char>('a' + i % 26);
  pb->write(longOne, pa->getHost());
  pb->write("short", pa->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->got.size() == 2; }));
  EXPECT_EQ(a->got[0].data, longOne.substr(0, 16));
  EXPECT_EQ(a->got[1].data, "short");
}

TEST_P(Udp, anExceptionInDatagramReceivedIsLoggedAndThePortGoesOn) {
  auto pa = listen(a);
  auto pb = listen(b);
  a->onDatagram = [](std::string_view data, const Address&) {
    if (data == "bad") throw std::runtime_error("protocol bug");
  };
  pb->write("bad", pa->getHost());
  pb->write("good", pa->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->has("good"); }));
  EXPECT_TRUE(pa->listening());
  EXPECT_EQ(a->stopped, 0);
  EXPECT_EQ(torsion::testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST_P(Udp, stoppingFromInsideDatagramReceivedEndsDelivery) {
  auto pa = listen(a);
  auto pb = listen(b);
  a->onDatagram = [&](std::string_view, const Address&) { a->transport->stopListening(); };
  for (int i = 0; i < 5; ++i) pb->write("one of five", pa->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return !a->got.empty(); }));
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_EQ(a->got.size(), 1u);
  EXPECT_EQ(a->stopped, 1);
  EXPECT_FALSE(pa->listening());
}

TEST_P(Udp, aDatagramTooLongToSendThrows) {
  auto pa = listen(a);
  auto pb = listen(b);
  EXPECT_THROW(pa->write(std::string(70000, 'x'), pb->getHost()), Error);
  EXPECT_TRUE(pa->listening());
  EXPECT_EQ(pa->droppedWrites(), 0u);
}

TEST_P(Udp, listeningErrorsAreCannotListenError) {
  auto pa = listen(a);
  EXPECT_THROW(net.listenUDP(pa->getHost().port(), b, UDPListenOptions{.interface = "127.0.0.1"}),
               CannotListenError);
  EXPECT_THROW(net.listenUDP(0, b, UDPListenOptions{.interface = "not-an-ip"}), CannotListenError);
  EXPECT_EQ(b->started, 0);
}

TEST_P(Udp, reusePortLetsTwoPortsShareANumber) {
  auto pa = net.listenUDP(0, a, UDPListenOptions{.interface = "127.0.0.1", .reusePort = true});
  auto pb = net.listenUDP(pa->getHost().port(), b,
                          UDPListenOptions{.interface = "127.0.0.1", .reusePort = true});
  EXPECT_EQ(pa->getHost(), pb->getHost());
}

TEST_P(Udp, ipv6LoopbackWhereAvailable) {
  std::shared_ptr<IDatagramTransport> pa;
  try {
    pa = net.listenUDP(0, a, UDPListenOptions{.interface = "::1"});
  } catch (const CannotListenError&) {
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  auto pb = net.listenUDP(0, b, UDPListenOptions{.interface = "::1"});
  EXPECT_EQ(pa->getHost().family(), Address::Family::ipv6);
  EXPECT_EQ(pa->getHost().host(), "::1");
  pa->write("over v6", pb->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return b->has("over v6"); }));
  EXPECT_EQ(b->got[0].from, pa->getHost());
  EXPECT_EQ(b->got[0].from.family(), Address::Family::ipv6);
}

// ---- multicast ---------------------------------------------------------------------------

constexpr const char* kGroup = "239.255.77.13";

// Whether this machine delivers a multicast datagram sent on the loopback interface to a
// member of the group there (containers may lack it). Plain sockets, bounded wait.
bool loopbackMulticastWorks() {
  const int r = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  bool ok = false;
  sockaddr_in any{};
  any.sin_family = AF_INET;
  socklen_t len = sizeof any;
  ip_mreq m{};
  ::inet_pton(AF_INET, kGroup, &m.imr_multiaddr);
  ::inet_pton(AF_INET, "127.0.0.1", &m.imr_interface);
  if (r >= 0 && s >= 0 && ::bind(r, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0 &&
      ::getsockname(r, reinterpret_cast<sockaddr*>(&any), &len) == 0 &&
      ::setsockopt(r, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0 &&
      ::setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &m.imr_interface, sizeof m.imr_interface) == 0) {
    sockaddr_in to = any;
    to.sin_addr = m.imr_multiaddr;
    if (::sendto(s, "probe", 5, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 5) {
      pollfd p{r, POLLIN, 0};
      ok = ::poll(&p, 1, 2000) == 1;
    }
  }
  if (r >= 0) ::close(r);
  if (s >= 0) ::close(s);
  return ok;
}

TEST_P(Udp, multicastOptions) {
  auto pa = listen(a);
  pa->setTTL(5);
  EXPECT_EQ(pa->getTTL(), 5);
  pa->setTTL(1);
  EXPECT_EQ(pa->getTTL(), 1);
  pa->setLoopbackMode(false);
  EXPECT_FALSE(pa->getLoopbackMode());
  pa->setLoopbackMode(true);
  EXPECT_TRUE(pa->getLoopbackMode());
  EXPECT_THROW(pa->joinGroup("not-a-group"), std::invalid_argument);
  EXPECT_THROW(pa->setOutgoingInterface("nowhere"), std::invalid_argument);
}

TEST_P(Udp, multicastGroupsOnTheLoopbackInterface) {
  if (!loopbackMulticastWorks()) GTEST_SKIP() << "no multicast delivery on the loopback interface";
  // The member binds the wildcard address (a socket bound to 127.0.0.1 does not receive
  // datagrams addressed to the group).
  auto member = net.listenUDP(0, a, UDPListenOptions{});
  auto sender = listen(b);
  member->joinGroup(kGroup, "127.0.0.1");
  sender->setOutgoingInterface("127.0.0.1");
  sender->setLoopbackMode(true);
  sender->setTTL(1);
  const Address group = Address::ip(kGroup, member->getHost().port(), Address::Type::datagram);
  sender->write("to the group", group);
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->has("to the group"); }));
  EXPECT_EQ(a->got[0].from, sender->getHost());

  // Once it left, the group's datagrams no longer reach it; a unicast datagram sent after
  // is the marker.
  member->leaveGroup(kGroup, "127.0.0.1");
  sender->write("after leaving", group);
  sender->write("marker",
                Address::ip("127.0.0.1", member->getHost().port(), Address::Type::datagram));
  ASSERT_TRUE(spinUntil(reactor, [&] { return a->has("marker"); }));
  EXPECT_FALSE(a->has("after leaving"));
  // Leaving a group we are not in is an error the caller hears about.
  EXPECT_THROW(member->leaveGroup(kGroup, "127.0.0.1"), Error);
}

}  // namespace
}  // namespace torsion::test
