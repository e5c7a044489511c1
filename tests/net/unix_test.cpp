// Unix stream sockets on a real reactor (both pollers): listening and connecting by path or
// abstract name, the socket file's mode and removal, Twisted's wantPID lock file and checkPID,
// addresses, half-close, and passing descriptors with SCM_RIGHTS.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "net/net_helpers.hpp"

namespace torsion::test {
namespace {

struct UnixStream : ::testing::TestWithParam<const char*> {
  Reactor reactor{quietOptions(GetParam())};
  IReactorNet& net = network(reactor);
  TempDir dir;
  std::string path = dir.file("sock");
  std::shared_ptr<Collecting<>> server = std::make_shared<Collecting<>>();
  std::shared_ptr<Collecting<>> client = std::make_shared<Collecting<>>();
  std::shared_ptr<IListeningPort> port;

  // Listens on `where`, connects to it, and waits for both ends.
  void pair(const std::string& where, const UNIXListenOptions& options = {}) {
    port = net.listenUNIX(where, server, options);
    net.connectUNIX(where, client);
    ASSERT_TRUE(spinUntil(reactor, [&] {
      return client->built.size() == 1 && c().made && server->built.size() == 1 && s().made;
    }));
  }
  Record& s() { return *server->built.at(0); }
  Record& c() { return *client->built.at(0); }
};

INSTANTIATE_TEST_SUITE_P(Pollers, UnixStream, ::testing::ValuesIn(kPollers), pollerName);

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// What "<path>.lock" names, or "" if it is not a symlink.
std::string lockTarget(const std::string& lock) {
  char buf[64];
  const ssize_t n = ::readlink(lock.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// A pid no process can have: pid_max itself (pids are below it).
std::string deadPid() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  long max = 0;
  in >> max;
  return std::to_string(max > 0 ? max : 4194304);
}

// A socket file with no listener behind it, as a crashed server leaves.
void leaveStaleSocket(const std::string& p) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage ss;
  const socklen_t len = Address::unix(p).toSockaddr(ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ::close(fd);
  ASSERT_TRUE(exists(p));
}

TEST_P(UnixStream, bytesFlowBothWays) {
  pair(path);
  c().transport->write("ping");
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "ping"; }));
  const std::string_view parts[] = {"po", "ng"};
  s().transport->writeSequence(parts);
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().received == "pong"; }));
  EXPECT_EQ(server->started, 1);
  EXPECT_EQ(client->started, 1);
}

TEST_P(UnixStream, connectingReportsFromTheReactorNotFromInsideTheCall) {
  // Unix connect() completes at once in the kernel; Twisted still reports on a later
  // iteration, so that nothing re-enters the caller of connectUNIX.
  port = net.listenUNIX(path, server);
  auto connector = net.connectUNIX(path, client);
  EXPECT_TRUE(client->built.empty());
  EXPECT_EQ(connector->state(), IConnector::State::connecting);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().made; }));
  EXPECT_EQ(connector->state(), IConnector::State::connected);

  auto failing = std::make_shared<Collecting<>>();
  net.connectUNIX(dir.file("nobody"), failing);
  EXPECT_FALSE(failing->failedReason.has_value());
  ASSERT_TRUE(spinUntil(reactor, [&] { return failing->failedReason.has_value(); }));
}

TEST_P(UnixStream, theSocketFileGetsTheModeAsked) {
  port = net.listenUNIX(path, server, UNIXListenOptions{.mode = 0600});
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // The default is 0666 whatever the umask (Twisted chmods after bind).
  const std::string other = dir.file("other");
  const mode_t old = ::umask(022);
  auto second = net.listenUNIX(other, server);
  ::umask(old);
  ASSERT_EQ(::stat(other.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0666u);
}

TEST_P(UnixStream, stopListeningRemovesTheSocketFile) {
  port = net.listenUNIX(path, server);
  ASSERT_TRUE(exists(path));
  bool fired = false;
  port->stopListening().addCallback([&] { fired = true; });
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(port->listening());
  EXPECT_EQ(server->stopped, 1);
  ASSERT_TRUE(spinUntil(reactor, [&] { return fired; }));
  // The path is free again.
  port = net.listenUNIX(path, server);
  EXPECT_TRUE(port->listening());
}

TEST_P(UnixStream, aStaleSocketFileWithoutWantPIDIsCannotListenError) {
  // Without the lock, a file in the way is never removed (it may be someone's live socket).
  leaveStaleSocket(path);
  EXPECT_THROW(net.listenUNIX(path, server), CannotListenError);
  EXPECT_TRUE(exists(path));
  EXPECT_EQ(server->started, 0);
}

TEST_P(UnixStream, wantPIDHoldsALockFileNamingOurPid) {
  port = net.listenUNIX(path, server, UNIXListenOptions{.wantPID = true});
  EXPECT_EQ(lockTarget(path + ".lock"), std::to_string(::getpid()));

  // A second server on the same path is refused while we hold the lock, and leaves our
  // socket and lock alone.
  auto other = std::make_shared<Collecting<>>();
  try {
    net.listenUNIX(path, other, UNIXListenOptions{.wantPID = true});
    FAIL() << "a second listener got the lock";
  } catch (const CannotListenError& e) {
    EXPECT_NE(std::string(e.what()).find("lock"), std::string::npos) << e.what();
  }
  EXPECT_EQ(other->started, 0);
  EXPECT_TRUE(exists(path));
  EXPECT_EQ(lockTarget(path + ".lock"), std::to_string(::getpid()));
  net.connectUNIX(path, client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().made; }));

  port->stopListening();
  EXPECT_FALSE(exists(path + ".lock"));
  EXPECT_FALSE(exists(path));
}

TEST_P(UnixStream, aStaleLockIsReplacedAndTheStaleSocketRemoved) {
  leaveStaleSocket(path);
  ASSERT_EQ(::symlink(deadPid().c_str(), (path + ".lock").c_str()), 0);
  port = net.listenUNIX(path, server, UNIXListenOptions{.wantPID = true});
  EXPECT_EQ(lockTarget(path + ".lock"), std::to_string(::getpid()));
  net.connectUNIX(path, client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && c().made; }));
}

TEST_P(UnixStream, aStaleLockNeverRemovesAFileThatIsNotASocket) {
  { std::ofstream(path) << "precious"; }
  ASSERT_EQ(::symlink(deadPid().c_str(), (path + ".lock").c_str()), 0);
  EXPECT_THROW(net.listenUNIX(path, server, UNIXListenOptions{.wantPID = true}), CannotListenError);
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  // The lock we took for the failed attempt is released.
  EXPECT_FALSE(exists(path + ".lock"));
}

TEST_P(UnixStream, aLockThatIsNotASymlinkIsNotTouched) {
  // Not Twisted's format: we cannot tell who owns it, so we do not take it over.
  { std::ofstream(path + ".lock") << "12"; }
  EXPECT_THROW(net.listenUNIX(path, server, UNIXListenOptions{.wantPID = true}), CannotListenError);
  EXPECT_TRUE(exists(path + ".lock"));
}

TEST_P(UnixStream, checkPIDConnectsOnlyToALiveLockHolder) {
  port = net.listenUNIX(path, server, UNIXListenOptions{.wantPID = true});
  net.connectUNIX(path, client, UNIXConnectOptions{.checkPID = true});
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return !client->built.empty() && c().made && server->built.size() == 1; }));

  // A server without a lock file: refused before connecting.
  const std::string unlocked = dir.file("unlocked");
  auto plain = net.listenUNIX(unlocked, server);
  auto noLock = std::make_shared<Collecting<>>();
  net.connectUNIX(unlocked, noLock, UNIXConnectOptions{.checkPID = true});
  ASSERT_TRUE(spinUntil(reactor, [&] { return noLock->failedReason.has_value(); }));
  EXPECT_TRUE(noLock->failedReason->check<ConnectionRefusedError>());
  EXPECT_TRUE(noLock->built.empty());

  // A lock naming a dead process: refused too.
  ASSERT_EQ(::symlink(deadPid().c_str(), (unlocked + ".lock").c_str()), 0);
  auto stale = std::make_shared<Collecting<>>();
  net.connectUNIX(unlocked, stale, UNIXConnectOptions{.checkPID = true});
  ASSERT_TRUE(spinUntil(reactor, [&] { return stale->failedReason.has_value(); }));
  EXPECT_TRUE(stale->failedReason->check<ConnectionRefusedError>());
  EXPECT_EQ(server->built.size(), 1u);
}

TEST_P(UnixStream, abstractNamesWithAtOrNul) {
  const std::string at = abstractName("stream");
  pair(at);
  const std::string nul = std::string(1, '\0') + at.substr(1);
  EXPECT_EQ(port->getHost().name(), nul);
  EXPECT_EQ(port->getHost().toString(), "UNIXAddress('" + at + "')");
  EXPECT_EQ(s().transport->getHost().name(), nul);
  EXPECT_EQ(c().transport->getPeer().name(), nul);
  EXPECT_FALSE(exists(at));  // nothing in the filesystem

  // The '\0' spelling reaches the same socket.
  auto second = std::make_shared<Collecting<>>();
  net.connectUNIX(nul, second);
  ASSERT_TRUE(spinUntil(reactor, [&] { return server->built.size() == 2; }));
  port->stopListening();
  // The name is free again once the socket is closed.
  port = net.listenUNIX(nul, server);
  EXPECT_TRUE(port->listening());
}

TEST_P(UnixStream, hostAndPeerAddresses) {
  pair(path);
  EXPECT_EQ(port->getHost(), Address::unix(path));
  EXPECT_EQ(s().transport->getHost(), Address::unix(path));
  EXPECT_EQ(c().transport->getPeer(), Address::unix(path));
  // The client's end is unnamed.
  EXPECT_EQ(c().transport->getHost(), Address::unix(""));
  EXPECT_EQ(s().transport->getPeer(), Address::unix(""));
  EXPECT_EQ(c().transport->getPeer().family(), Address::Family::unix);
}

TEST_P(UnixStream, connectingToAMissingPathIsConnectionRefused) {
  auto connector = net.connectUNIX(dir.file("missing"), client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return client->failedReason.has_value(); }));
  EXPECT_TRUE(client->failedReason->check<ConnectionRefusedError>());
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
  EXPECT_EQ(connector->getDestination(), Address::unix(dir.file("missing")));
  EXPECT_EQ(client->started, 1);
  EXPECT_EQ(client->stopped, 1);
}

TEST_P(UnixStream, connectingToAStaleSocketIsConnectionRefused) {
  leaveStaleSocket(path);
  net.connectUNIX(path, client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return client->failedReason.has_value(); }));
  EXPECT_TRUE(client->failedReason->check<ConnectionRefusedError>());
}

// Fills a listener's backlog with connections nobody accepts, so that a non-blocking Unix
// connect() gets EAGAIN; the attempt must wait for room rather than report a connection that
// is not there.
TEST_P(UnixStream, aFullBacklogDelaysTheConnectionUntilThereIsRoom) {
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_storage ss;
  const socklen_t len = Address::unix(path).toSockaddr(ss);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ASSERT_EQ(errno, EAGAIN);
      ::close(fd);
      break;
    }
    fillers.push_back(fd);
  }
  ASSERT_LT(fillers.size(), 64u);
  auto connector = net.connectUNIX(path, client);
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_TRUE(client->built.empty());
  EXPECT_FALSE(client->failedReason.has_value());
  EXPECT_EQ(connector->state(), IConnector::State::connecting);
  // Make room: accept (and keep) everything pending.
  std::vector<int> accepted;
  ASSERT_TRUE(spinUntil(reactor, [&] {
    for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
      accepted.push_back(fd);
    return !client->built.empty() && c().made;
  }));
  EXPECT_FALSE(client->failedReason.has_value());
  c().transport->write("through");
  // The last accepted socket is ours (the fillers came first).
  std::string got;
  ASSERT_TRUE(spinUntil(reactor, [&] {
    for (int fd; (fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;)
      accepted.push_back(fd);
    if (accepted.empty()) return false;
    char buf[16];
    const ssize_t n = ::read(accepted.back(), buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    return got == "through";
  }));
  for (int fd : fillers) ::close(fd);
  for (int fd : accepted) ::close(fd);
  ::close(listener);
}

TEST_P(UnixStream, halfCloseLetsTheOtherSideAnswerAfterEndOfFile) {
  auto halfServer = std::make_shared<Collecting<HalfCloser>>();
  auto halfClient = std::make_shared<Collecting<HalfCloser>>();
  port = net.listenUNIX(path, halfServer);
  net.connectUNIX(path, halfClient);
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
  ASSERT_TRUE(spinUntil(reactor, [&] { return sv.lost; }));
  EXPECT_TRUE(sv.reason->check<ConnectionDone>());
}

TEST_P(UnixStream, loseConnectionFlushesEverythingWrittenBeforeIt) {
  pair(path);
  std::string big(4 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 13 + i / 1000);
  s().transport->write(big);
  s().transport->write("tail");
  s().transport->loseConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost && s().lost; }));
  EXPECT_TRUE(c().received == big + "tail");
  EXPECT_TRUE(c().reason->check<ConnectionDone>());
  EXPECT_TRUE(s().reason->check<ConnectionDone>());
}

TEST_P(UnixStream, tcpOptionsAreNoOpsOnUnixSockets) {
  pair(path);
  s().transport->setTcpNoDelay(true);
  EXPECT_FALSE(s().transport->getTcpNoDelay());
  s().transport->setTcpKeepAlive(true);
  EXPECT_FALSE(s().transport->getTcpKeepAlive());
}

// ---- passing descriptors ----------------------------------------------------------------------

struct FdReceiver : Recorder, IFileDescriptorReceiver {
  void fileDescriptorReceived(int fd) override {
    // Descriptors come before the bytes they travelled with.
    rec->fds.push_back(fd);
  }
};

struct Pipe {
  int r = -1;
  int w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2");
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
  std::string readAll() const {
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(r, buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
};

struct UnixFdPassing : UnixStream {
  std::shared_ptr<Collecting<FdReceiver>> receiver = std::make_shared<Collecting<FdReceiver>>();
  IUNIXTransport* sender = nullptr;

  void SetUp() override {
    port = net.listenUNIX(path, receiver);
    net.connectUNIX(path, client);
    ASSERT_TRUE(spinUntil(reactor, [&] {
      return !client->built.empty() && c().made && !receiver->built.empty() && r().made;
    }));
    sender = dynamic_cast<IUNIXTransport*>(c().transport);
    ASSERT_NE(sender, nullptr);
  }
  void TearDown() override {
    for (auto& rec : receiver->built) {
      for (int fd : rec->fds) ::close(fd);
    }
  }
  Record& r() { return *receiver->built.at(0); }
};

INSTANTIATE_TEST_SUITE_P(Pollers, UnixFdPassing, ::testing::ValuesIn(kPollers), pollerName);

TEST_P(UnixFdPassing, aPipesWriteEndWorksOnTheOtherSide) {
  Pipe pipe;
  sender->sendFileDescriptor(pipe.w);
  ::close(pipe.w);  // the transport keeps its own copy until it is sent
  pipe.w = -1;
  sender->write("x");
  ASSERT_TRUE(spinUntil(reactor, [&] { return r().fds.size() == 1 && r().received == "x"; }));
  ASSERT_EQ(::write(r().fds[0], "through the copy", 16), 16);
  EXPECT_EQ(pipe.readAll(), "through the copy");
  EXPECT_TRUE(::fcntl(r().fds[0], F_GETFD) & FD_CLOEXEC);
}

TEST_P(UnixFdPassing, severalDescriptorsArriveInOrder) {
  // More than one message's worth (each message carries a bounded number).
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < 40; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    sender->sendFileDescriptor(pipes.back()->w);
  }
  sender->write("descriptors follow");
  sender->write(" and more");
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return r().fds.size() == 40 && r().received == "descriptors follow and more";
  }));
  for (int i = 0; i < 40; ++i) {
    const std::string tag = "pipe " + std::to_string(i);
    ASSERT_EQ(::write(r().fds[static_cast<std::size_t>(i)], tag.data(), tag.size()),
              static_cast<ssize_t>(tag.size()));
    EXPECT_EQ(pipes[static_cast<std::size_t>(i)]->readAll(), tag);
  }
}

TEST_P(UnixFdPassing, descriptorsWaitForTheNextByteWritten) {
  // Nothing is queued when the descriptor is handed over: it goes with the next write, and the
  // peer's byte stream holds exactly what was written.
  ASSERT_EQ(c().transport->bufferedBytes(), 0u);
  Pipe pipe;
  sender->sendFileDescriptor(pipe.w);
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  sender->write("now");
  ASSERT_TRUE(spinUntil(reactor, [&] { return r().fds.size() == 1 && r().received == "now"; }));
  for (int i = 0; i < 5; ++i) reactor.iterate(Seconds(0.01));
  EXPECT_EQ(r().received, "now");
  ASSERT_EQ(::write(r().fds[0], "ok", 2), 2);
  EXPECT_EQ(pipe.readAll(), "ok");
}

TEST_P(UnixFdPassing, descriptorsQueuedBehindBufferedBytesKeepTheirPlace) {
  // A large write the socket cannot take at once: the descriptor goes after it, with the
  // next byte.
  const std::string big(2 * 1024 * 1024, 'b');
  sender->write(big);
  ASSERT_GT(c().transport->bufferedBytes(), 0u);
  Pipe pipe;
  sender->sendFileDescriptor(pipe.w);
  sender->write("after");
  ASSERT_TRUE(spinUntil(reactor, [&] { return r().received.size() == big.size() + 5; }));
  ASSERT_EQ(r().fds.size(), 1u);
  EXPECT_TRUE(r().received == big + "after");
  ASSERT_EQ(::write(r().fds[0], "ok", 2), 2);
  EXPECT_EQ(pipe.readAll(), "ok");
}

TEST_P(UnixFdPassing, closingWithDescriptorsNoByteCarriedLosesTheConnection) {
  // Twisted's FileDescriptorOverrun: each descriptor needs a byte written after it.
  Pipe pipe;
  sender->sendFileDescriptor(pipe.w);
  c().transport->loseConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost && r().lost; }));
  EXPECT_TRUE(c().reason->check<ConnectionLost>());
  EXPECT_NE(c().reason->getErrorMessage().find("sendFileDescriptor"), std::string::npos)
      << c().reason->getErrorMessage();
  EXPECT_TRUE(r().fds.empty());
  EXPECT_EQ(r().received, "");
  // The copy the transport held is closed: with ours gone too, the pipe reads end of file.
  ::close(pipe.w);
  pipe.w = -1;
  ASSERT_TRUE(spinUntil(reactor, [&] {
    char b;
    return ::read(pipe.r, &b, 1) == 0;
  }));
}

TEST_P(UnixFdPassing, aReceiverThatIsNotAnFdReceiverGetsOnlyTheBytes) {
  // The server of the base fixture is a plain Recorder: the kernel closes descriptors nobody
  // asks for, and the bytes arrive as usual.
  auto plain = net.listenUNIX(dir.file("plain"), server);
  auto other = std::make_shared<Collecting<>>();
  net.connectUNIX(dir.file("plain"), other);
  ASSERT_TRUE(spinUntil(reactor, [&] {
    return !other->built.empty() && other->built[0]->made && !server->built.empty();
  }));
  Pipe pipe;
  auto* t = dynamic_cast<IUNIXTransport*>(other->built[0]->transport);
  ASSERT_NE(t, nullptr);
  t->sendFileDescriptor(pipe.w);
  t->write("bytes only");
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().received == "bytes only"; }));
  ::close(pipe.w);
  pipe.w = -1;
  // Every write end is closed (ours and the one the kernel discarded): EOF on the pipe.
  char b;
  EXPECT_EQ(::read(pipe.r, &b, 1), 0);
}

TEST_P(UnixFdPassing, sendFileDescriptorOnATcpTransportIsALogicError) {
  auto tcpServer = std::make_shared<Collecting<>>();
  auto tcpPort = net.listenTCP(0, tcpServer, TCPListenOptions{.interface = "127.0.0.1"});
  auto tcpClient = std::make_shared<Collecting<>>();
  net.connectTCP("127.0.0.1", tcpPort->getHost().port(), tcpClient);
  ASSERT_TRUE(
      spinUntil(reactor, [&] { return !tcpClient->built.empty() && tcpClient->built[0]->made; }));
  auto* t = dynamic_cast<IUNIXTransport*>(tcpClient->built[0]->transport);
  ASSERT_NE(t, nullptr);  // one transport class serves both
  Pipe pipe;
  EXPECT_THROW(t->sendFileDescriptor(pipe.w), std::logic_error);
}

}  // namespace
}  // namespace torsion::test
