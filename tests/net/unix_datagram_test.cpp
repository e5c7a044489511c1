// Unix datagram sockets on a real reactor (both pollers): listenUNIXDatagram and
// connectUNIXDatagram, with and without a bound name, failures when the peer is gone, and
// datagrams the kernel would not take.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "net/net_helpers.hpp"

namespace torsion::test {
namespace {

struct UnixDatagram : ::testing::TestWithParam<const char*> {
  Reactor reactor{quietOptions(GetParam())};
  IReactorNet& net = network(reactor);
  TempDir dir;
  std::string serverPath = dir.file("server");
  std::string clientPath = dir.file("client");
  std::shared_ptr<Catcher> server = std::make_shared<Catcher>();
  std::shared_ptr<Catcher> client = std::make_shared<Catcher>();
};

INSTANTIATE_TEST_SUITE_P(Pollers, UnixDatagram, ::testing::ValuesIn(kPollers), pollerName);

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

TEST_P(UnixDatagram, aBoundClientAndTheServerTalkBothWays) {
  auto sp = net.listenUNIXDatagram(serverPath, server);
  auto cp = net.connectUNIXDatagram(serverPath, client, clientPath);
  EXPECT_EQ(server->started, 1);
  EXPECT_EQ(client->started, 1);
  EXPECT_EQ(sp->getHost(), Address::unix(serverPath, Address::Type::datagram));
  EXPECT_EQ(cp->getHost(), Address::unix(clientPath, Address::Type::datagram));
  server->onDatagram = [&](std::string_view data, const Address& from) {
    server->transport->write("re: " + std::string(data), from);
  };
  cp->write("hello");
  cp->write("again");
  ASSERT_TRUE(spinUntil(reactor, [&] { return client->got.size() == 2; }));
  EXPECT_EQ(server->got[0].data, "hello");
  EXPECT_EQ(server->got[0].from, Address::unix(clientPath, Address::Type::datagram));
  EXPECT_EQ(client->got[0].data, "re: hello");
  EXPECT_EQ(client->got[1].data, "re: again");
  EXPECT_EQ(client->got[0].from, Address::unix(serverPath, Address::Type::datagram));
  // A connected socket sends only to its peer.
  EXPECT_THROW(cp->write("x", Address::unix(serverPath, Address::Type::datagram)),
               std::logic_error);
}

TEST_P(UnixDatagram, anUnboundClientCanSendButNotBeAnswered) {
  auto sp = net.listenUNIXDatagram(serverPath, server);
  auto cp = net.connectUNIXDatagram(serverPath, client);
  cp->write("anonymous");
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->has("anonymous"); }));
  EXPECT_EQ(server->got[0].from.family(), Address::Family::unix);
  EXPECT_EQ(server->got[0].from.name(), "");
}

TEST_P(UnixDatagram, twoListeningSocketsSendByName) {
  auto sp = net.listenUNIXDatagram(serverPath, server);
  auto other = net.listenUNIXDatagram(clientPath, client);
  other->write("by name", sp->getHost());
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->has("by name"); }));
  EXPECT_EQ(server->got[0].from, other->getHost());
}

TEST_P(UnixDatagram, abstractNames) {
  const std::string name = abstractName("dgram");
  auto sp = net.listenUNIXDatagram(name, server);
  auto cp = net.connectUNIXDatagram(name, client);
  EXPECT_EQ(sp->getHost().name(), std::string(1, '\0') + name.substr(1));
  cp->write("abstract");
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->has("abstract"); }));
}

TEST_P(UnixDatagram, theSocketFilesGetTheModeAndGoAwayWithThePorts) {
  auto sp = net.listenUNIXDatagram(serverPath, server, 0640);
  struct stat st;
  ASSERT_EQ(::stat(serverPath.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  auto cp = net.connectUNIXDatagram(serverPath, client, clientPath);
  EXPECT_TRUE(exists(clientPath));
  cp->stopListening();
  EXPECT_FALSE(exists(clientPath));
  EXPECT_EQ(client->stopped, 1);
  sp->stopListening();
  EXPECT_FALSE(exists(serverPath));
  EXPECT_EQ(server->stopped, 1);
}

TEST_P(UnixDatagram, listeningOnAPathInUseIsCannotListenError) {
  auto sp = net.listenUNIXDatagram(serverPath, server);
  EXPECT_THROW(net.listenUNIXDatagram(serverPath, client), CannotListenError);
  EXPECT_EQ(client->started, 0);
  EXPECT_TRUE(exists(serverPath));  // the first one's file is left alone
}

TEST_P(UnixDatagram, connectingToAMissingPathIsConnectionRefused) {
  EXPECT_THROW(net.connectUNIXDatagram(dir.file("missing"), client, clientPath),
               ConnectionRefusedError);
  EXPECT_EQ(client->started, 0);
  EXPECT_FALSE(exists(clientPath));  // the name it bound is given back
}

TEST_P(UnixDatagram, connectingToAStreamSocketIsConnectionFailedWithItsErrno) {
  auto stream = net.listenUNIX(dir.file("stream"), std::make_shared<Factory>());
  try {
    net.connectUNIXDatagram(dir.file("stream"), client, clientPath);
    FAIL() << "a datagram socket connected to a stream socket";
  } catch (const ConnectionFailed& e) {
    EXPECT_EQ(e.osError(), EPROTOTYPE) << e.what();
  }
  EXPECT_EQ(client->started, 0);
}

TEST_P(UnixDatagram, aPeerThatIsGoneIsConnectionFailed) {
  auto sp = net.listenUNIXDatagram(serverPath, server);
  auto cp = net.connectUNIXDatagram(serverPath, client, clientPath);
  cp->write("first");
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->has("first"); }));
  sp->stopListening();
  cp->write("into the void");
  ASSERT_EQ(client->failures.size(), 1u);
  EXPECT_TRUE(client->failures[0].check<ConnectionRefusedError>());
  // The kernel forgot the peer: later writes fail the same way rather than throw.
  cp->write("still nobody");
  EXPECT_EQ(client->failures.size(), 2u);
  EXPECT_TRUE(cp->listening());
  // Nothing else comes of it (no spinning on an error the socket keeps reporting).
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_EQ(client->failures.size(), 2u);
  EXPECT_TRUE(client->got.empty());
}

TEST_P(UnixDatagram, sendingToANameWithNoSocketIsConnectionFailed) {
  auto cp = net.listenUNIXDatagram(clientPath, client);
  cp->write("lost", Address::unix(dir.file("nobody"), Address::Type::datagram));
  ASSERT_EQ(client->failures.size(), 1u);
  EXPECT_TRUE(client->failures[0].check<ConnectionRefusedError>());
}

TEST_P(UnixDatagram, datagramsTheKernelWillNotTakeAreDroppedAndCounted) {
  // The server does not read while we write (the reactor does not run): the kernel queues a
  // few datagrams, then refuses; those are dropped, as UDP allows, and counted.
  auto sp = net.listenUNIXDatagram(serverPath, server);
  auto cp = net.connectUNIXDatagram(serverPath, client);
  const int sent = 2000;
  const std::string payload(1024, 'd');
  for (int i = 0; i < sent; ++i) cp->write(payload);
  const auto dropped = cp->droppedWrites();
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, static_cast<std::uint64_t>(sent));
  const std::size_t delivered = static_cast<std::size_t>(sent) - dropped;
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->got.size() == delivered; }));
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_EQ(server->got.size(), delivered);
  EXPECT_EQ(sp->droppedWrites(), 0u);
}

TEST_P(UnixDatagram, udpOnlyCallsAreLogicErrors) {
  auto sp = net.listenUNIXDatagram(serverPath, server);
  EXPECT_THROW(sp->setBroadcastAllowed(true), std::logic_error);
  EXPECT_THROW(sp->getBroadcastAllowed(), std::logic_error);
  EXPECT_THROW(sp->joinGroup("239.1.2.3"), std::logic_error);
  EXPECT_THROW(sp->setTTL(2), std::logic_error);
  EXPECT_THROW(sp->setLoopbackMode(true), std::logic_error);
  EXPECT_THROW(sp->setOutgoingInterface("127.0.0.1"), std::logic_error);
}

}  // namespace
}  // namespace torsion::test
