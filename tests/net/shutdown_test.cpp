// The network layer's end (both pollers): a reactor shutdown stops every kind of port and loses
// every connection; a reactor destroyed without ever running leaves no descriptor, file,
// protocol or connector behind.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net_helpers.hpp"

namespace torsion::test {
namespace {

struct Shutdown : ::testing::TestWithParam<const char*> {
  TempDir dir;
};

INSTANTIATE_TEST_SUITE_P(Pollers, Shutdown, ::testing::ValuesIn(kPollers), pollerName);

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

int openDescriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory's own descriptor
}

// A Unix listener whose backlog is full (nobody accepts): a connect to it stays in progress.
struct FullBacklog {
  int listener = -1;
  std::vector<int> fillers;
  explicit FullBacklog(const std::string& path) {
    listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    const socklen_t len = Address::unix(path).toSockaddr(ss);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(listener, 0) != 0)
      throw std::runtime_error("FullBacklog: bind/listen");
    for (int i = 0; i < 64; ++i) {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        ::close(fd);
        return;
      }
      fillers.push_back(fd);
    }
    throw std::runtime_error("FullBacklog: the backlog never filled");
  }
  ~FullBacklog() {
    for (int fd : fillers) ::close(fd);
    ::close(listener);
  }
};

TEST_P(Shutdown, stopsEveryPortAndLosesEveryConnection) {
  Reactor reactor(quietOptions(GetParam()));
  IReactorNet& net = network(reactor);
  auto tcpServer = std::make_shared<Collecting<>>();
  auto tcpClient = std::make_shared<Collecting<>>();
  auto unixServer = std::make_shared<Collecting<>>();
  auto unixClient = std::make_shared<Collecting<>>();
  auto adoptedServer = std::make_shared<Collecting<>>();
  auto pending = std::make_shared<Collecting<>>();
  auto udp = std::make_shared<Catcher>();
  auto unixDgram = std::make_shared<Catcher>();
  auto unixDgramClient = std::make_shared<Catcher>();
  auto adoptedDgram = std::make_shared<Catcher>();
  const std::string path = dir.file("stream");
  const std::string dgramPath = dir.file("dgram");

  auto tcpPort = net.listenTCP(0, tcpServer, TCPListenOptions{.interface = "127.0.0.1"});
  auto unixPort = net.listenUNIX(path, unixServer, UNIXListenOptions{.wantPID = true});
  auto udpPort = net.listenUDP(0, udp, UDPListenOptions{.interface = "127.0.0.1"});
  auto dgramPort = net.listenUNIXDatagram(dgramPath, unixDgram);
  auto dgramClient = net.connectUNIXDatagram(dgramPath, unixDgramClient);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  net.adoptStreamConnection(sv[0], AF_UNIX, adoptedServer);
  ::close(sv[0]);
  const int udpFd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto adoptedPort = net.adoptDatagramPort(udpFd, AF_INET, adoptedDgram);
  ::close(udpFd);
  net.connectTCP("127.0.0.1", tcpPort->getHost().port(), tcpClient);
  net.connectUNIX(path, unixClient);
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return tcpServer->built.size() == 1 && tcpClient->built.size() == 1 &&
           unixServer->built.size() == 1 && unixClient->built.size() == 1 &&
           unixServer->built[0]->made && unixClient->built[0]->made;
  }));
  FullBacklog full(dir.file("full"));
  auto stuck = net.connectUNIX(dir.file("full"), pending);

  reactor.callWhenRunning([&] { reactor.stop(); });
  reactor.run();

  for (const auto& port : {tcpPort, unixPort}) EXPECT_FALSE(port->listening());
  for (const auto& port : {udpPort, dgramPort, dgramClient, adoptedPort})
    EXPECT_FALSE(port->listening());
  for (const auto& p : {udp, unixDgram, unixDgramClient, adoptedDgram}) EXPECT_EQ(p->stopped, 1);
  for (const auto& f : {tcpServer, tcpClient, unixServer, unixClient, adoptedServer}) {
    ASSERT_EQ(f->built.size(), 1u);
    EXPECT_TRUE(f->built[0]->lost);
    EXPECT_TRUE(f->built[0]->reason->check<ConnectionLost>());
  }
  EXPECT_EQ(tcpServer->stopped, 1);
  EXPECT_EQ(unixServer->stopped, 1);
  EXPECT_TRUE(tcpClient->lostReason.has_value());
  EXPECT_TRUE(unixClient->lostReason.has_value());
  // The attempt in progress failed, and its factory stopped.
  ASSERT_TRUE(pending->failedReason.has_value());
  EXPECT_TRUE(pending->failedReason->check<ConnectError>());
  EXPECT_EQ(stuck->state(), IConnector::State::disconnected);
  EXPECT_EQ(pending->stopped, 1);
  // The files Unix ports made are gone, lock included.
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(exists(path + ".lock"));
  EXPECT_FALSE(exists(dgramPath));
  ::close(sv[1]);
  // Handles outlive what they name: stopping again is a no-op.
  bool fired = false;
  tcpPort->stopListening().addCallback([&] { fired = true; });
  EXPECT_TRUE(fired);
}

// A protocol that counts its live instances.
struct Counted : Recorder {
  static inline int alive = 0;
  Counted() { ++alive; }
  ~Counted() override { --alive; }
};

TEST_P(Shutdown, aReactorDestroyedWithoutRunningLeaksNothing) {
  const int fdsBefore = openDescriptors();
  const std::string path = dir.file("stream");
  const std::string dgramPath = dir.file("dgram");
  auto server = std::make_shared<Collecting<Counted>>();
  auto client = std::make_shared<Collecting<Counted>>();
  auto pending = std::make_shared<Collecting<Counted>>();
  auto udp = std::make_shared<Catcher>();
  auto dgram = std::make_shared<Catcher>();
  std::weak_ptr<IConnector> connecting;
  std::weak_ptr<IConnector> connected;
  std::weak_ptr<IConnector> retrying;
  {
    FullBacklog full(dir.file("full"));
    Reactor reactor(quietOptions(GetParam()));
    IReactorNet& net = network(reactor);
    auto tcpPort = net.listenTCP(0, server, TCPListenOptions{.interface = "127.0.0.1"});
    net.listenUNIX(path, server, UNIXListenOptions{.wantPID = true});
    net.listenUDP(0, udp, UDPListenOptions{.interface = "127.0.0.1"});
    net.listenUNIXDatagram(dgramPath, dgram);
    connected = net.connectTCP("127.0.0.1", tcpPort->getHost().port(), client);
    net.connectUNIX(path, client);
    ASSERT_TRUE(
        spinUntil(reactor, [&] { return server->built.size() == 2 && client->built.size() == 2; }));
    // Attempts in progress: one waiting for room in a full backlog, one not started yet.
    retrying = net.connectUNIX(dir.file("full"), pending);
    reactor.iterate(Seconds(0));
    EXPECT_EQ(retrying.lock()->state(), IConnector::State::connecting);
    connecting = net.connectTCP("127.0.0.1", tcpPort->getHost().port(), pending);
    client->built[0]->transport->write(std::string(4 << 20, 'w'));  // some of it stays queued
    EXPECT_GT(client->built[0]->transport->bufferedBytes(), 0u);
    server->built[1]->transport->abortConnection();  // its loss still pending
    EXPECT_GT(Counted::alive, 0);
  }
  EXPECT_EQ(Counted::alive, 0);
  EXPECT_TRUE(connecting.expired());
  EXPECT_TRUE(connected.expired());
  EXPECT_TRUE(retrying.expired());
  EXPECT_EQ(server.use_count(), 1);
  EXPECT_EQ(client.use_count(), 1);
  EXPECT_EQ(pending.use_count(), 1);
  EXPECT_EQ(udp.use_count(), 1);
  EXPECT_EQ(dgram.use_count(), 1);
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(exists(path + ".lock"));
  EXPECT_FALSE(exists(dgramPath));
  EXPECT_EQ(openDescriptors(), fdsBefore);
  // No user code ran during the destruction.
  for (const auto& r : server->built) EXPECT_FALSE(r->lost);
  for (const auto& r : client->built) EXPECT_FALSE(r->lost);
  EXPECT_FALSE(pending->failedReason.has_value());
}

}  // namespace
}  // namespace torsion::test
