// Adopting descriptors made elsewhere (Twisted's IReactorSocket) on a real reactor (both
// pollers): listening sockets, connected stream sockets, datagram sockets. The reactor works on
// its own duplicate, so the caller may close its copy at once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_helpers.hpp"

namespace torsion::test {
namespace {

struct Adopt : ::testing::TestWithParam<const char*> {
  Reactor reactor{quietOptions(GetParam())};
  IReactorNet& net = network(reactor);
  std::shared_ptr<Collecting<>> server = std::make_shared<Collecting<>>();
  std::shared_ptr<Collecting<>> client = std::make_shared<Collecting<>>();
  Record& s() { return *server->built.at(0); }
};

INSTANTIATE_TEST_SUITE_P(Pollers, Adopt, ::testing::ValuesIn(kPollers), pollerName);

// A socket of `type` bound to 127.0.0.1 on an ephemeral port (listening, for streams).
int boundLoopbackSocket(int type) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  sockaddr_storage ss;
  const socklen_t len = Address::ip("127.0.0.1", 0).toSockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) throw std::runtime_error("bind");
  if (type == SOCK_STREAM && ::listen(fd, 16) != 0) throw std::runtime_error("listen");
  return fd;
}

Address localAddress(int fd, Address::Type type = Address::Type::stream) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len, type);
}

// Reads what is there on a non-blocking descriptor.
std::string drain(int fd) {
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST_P(Adopt, aListeningTcpSocketAcceptsOnceAdopted) {
  const int fd = boundLoopbackSocket(SOCK_STREAM);
  const Address where = localAddress(fd);
  auto port = net.adoptStreamPort(fd, AF_INET, server);
  ::close(fd);  // the reactor has its own copy
  EXPECT_EQ(port->getHost(), where);
  EXPECT_EQ(server->started, 1);
  net.connectTCP("127.0.0.1", where.port(), client);
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return !client->built.empty() && client->built[0]->made && !server->built.empty() && s().made;
  }));
  client->built[0]->transport->write("via adopted port");
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "via adopted port"; }));

  // Stopping closes the reactor's copy, and with ours gone nothing listens any more.
  port->stopListening();
  EXPECT_EQ(server->stopped, 1);
  auto late = std::make_shared<Collecting<>>();
  net.connectTCP("127.0.0.1", where.port(), late);
  ASSERT_TRUE(spinUntil(reactor, [&] { return late->failedReason.has_value(); }));
  EXPECT_TRUE(late->failedReason->check<ConnectionRefusedError>());
}

TEST_P(Adopt, aListeningUnixSocketAcceptsOnceAdopted) {
  TempDir dir;
  const std::string path = dir.file("adopted");
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage ss;
  const socklen_t len = Address::unix(path).toSockaddr(ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  auto port = net.adoptStreamPort(fd, AF_UNIX, server);
  ::close(fd);
  EXPECT_EQ(port->getHost(), Address::unix(path));
  net.connectUNIX(path, client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !server->built.empty() && s().made; }));
  // The file belongs to whoever made the socket: stopping does not remove it.
  port->stopListening();
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
}

TEST_P(Adopt, oneEndOfASocketPair) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
  net.adoptStreamConnection(sv[0], AF_UNIX, server);
  ::close(sv[0]);
  ASSERT_EQ(server->built.size(), 1u);
  EXPECT_TRUE(s().made);
  EXPECT_EQ(server->started, 0);  // no port: the factory is not started (as Twisted)
  ASSERT_EQ(::write(sv[1], "from outside", 12), 12);
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "from outside"; }));
  s().transport->write("from inside");
  std::string got;
  ASSERT_TRUE(spinUntil(reactor, [&] {
    got += drain(sv[1]);
    return got == "from inside";
  }));
  EXPECT_EQ(s().transport->getPeer().family(), Address::Family::unix);
  EXPECT_NE(dynamic_cast<IUNIXTransport*>(s().transport), nullptr);
  // Closing the other end is a clean end of file.
  ::close(sv[1]);
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().lost; }));
  EXPECT_TRUE(s().reason->check<ConnectionDone>());
}

TEST_P(Adopt, oneEndOfATcpConnection) {
  const int listener = boundLoopbackSocket(SOCK_STREAM);
  const Address where = localAddress(listener);
  const int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss;
  const socklen_t len = where.toSockaddr(ss);
  ASSERT_EQ(::connect(out, reinterpret_cast<sockaddr*>(&ss), len), 0);
  const int in = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(in, 0);
  ::close(listener);
  net.adoptStreamConnection(in, AF_INET, server);
  ::close(in);
  ASSERT_EQ(server->built.size(), 1u);
  EXPECT_EQ(s().transport->getPeer(), localAddress(out));
  EXPECT_EQ(s().transport->getHost(), where);
  ASSERT_EQ(::write(out, "tcp bytes", 9), 9);
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "tcp bytes"; }));
  s().transport->loseConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().lost; }));
  char b;
  EXPECT_EQ(::read(out, &b, 1), 0);  // our loseConnection reached the peer: the copy is closed
  ::close(out);
}

TEST_P(Adopt, aUdpSocket) {
  const int fd = boundLoopbackSocket(SOCK_DGRAM);
  const Address where = localAddress(fd, Address::Type::datagram);
  auto adopted = std::make_shared<Catcher>();
  auto port = net.adoptDatagramPort(fd, AF_INET, adopted);
  ::close(fd);
  EXPECT_EQ(adopted->started, 1);
  EXPECT_EQ(port->getHost(), where);
  auto other = std::make_shared<Catcher>();
  auto op = net.listenUDP(0, other, UDPListenOptions{.interface = "127.0.0.1"});
  adopted->onDatagram = [&](std::string_view data, const Address& from) {
    port->write("echo " + std::string(data), from);
  };
  op->write("hi", where);
  ASSERT_TRUE(spinUntil(reactor, [&] { return other->has("echo hi"); }));
  EXPECT_EQ(adopted->got[0].from, op->getHost());
  port->stopListening();
  EXPECT_EQ(adopted->stopped, 1);
}

TEST_P(Adopt, aConnectedUdpSocketWritesToItsPeer) {
  auto other = std::make_shared<Catcher>();
  auto op = net.listenUDP(0, other, UDPListenOptions{.interface = "127.0.0.1"});
  const int fd = boundLoopbackSocket(SOCK_DGRAM);
  sockaddr_storage ss;
  const socklen_t len = op->getHost().toSockaddr(ss);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  auto adopted = std::make_shared<Catcher>();
  auto port = net.adoptDatagramPort(fd, AF_INET, adopted);
  ::close(fd);
  port->write("connected already");
  ASSERT_TRUE(spinUntil(reactor, [&] { return other->has("connected already"); }));
}

TEST_P(Adopt, badArguments) {
  EXPECT_THROW(net.adoptStreamPort(0, AF_PACKET, server), std::invalid_argument);
  EXPECT_THROW(net.adoptStreamPort(0, AF_INET, nullptr), std::invalid_argument);
  const int closed = ::dup(0);
  ::close(closed);
  EXPECT_THROW(net.adoptStreamConnection(closed, AF_INET, server), std::system_error);
  EXPECT_TRUE(server->built.empty());
}

}  // namespace
}  // namespace torsion::test
