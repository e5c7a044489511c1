// Endpoints over testing::MemoryReactor: the test plays the network by calling the recorded
// factories (buildProtocol + makeConnection for a success, clientConnectionFailed for a
// failure), as Twisted's endpoint tests do.
#include "torsion/net/endpoints.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/net_helpers.hpp"
#include "support/helpers.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion {
namespace {

using testing::assertNoResult;
using testing::failureResultOf;
using testing::MemoryReactor;
using testing::StringTransport;
using testing::successResultOf;

// ---- helpers
// -------------------------------------------------------------------------------------

// A protocol that writes down what happens to it, in order, into a shared journal.
struct Journal {
  std::vector<std::string> events;
};

class Recorder : public Protocol {
 public:
  explicit Recorder(Journal& j) : journal(j) {}
  void connectionMade() override { journal.events.push_back("made"); }
  void dataReceived(std::string_view data) override {
    journal.events.push_back("data:" + std::string(data));
  }
  void connectionLost(const Failure& reason) override {
    journal.events.push_back("lost:" + reason.typeName());
  }
  Journal& journal;
};

class HalfCloseRecorder : public Recorder, public IHalfCloseableProtocol {
 public:
  using Recorder::Recorder;
  void readConnectionLost() override { journal.events.push_back("readLost"); }
  void writeConnectionLost() override { journal.events.push_back("writeLost"); }
};

// A factory that counts what is asked of it.
class CountingFactory : public Factory {
 public:
  explicit CountingFactory(Journal& j) : journal(j) {}
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
    ++built;
    peers.push_back(addr);
    auto p = std::make_unique<Recorder>(journal);
    p->factory = this;
    return p;
  }
  void startFactory() override { ++starts; }
  void stopFactory() override { ++stops; }
  Journal& journal;
  int built = 0;
  int starts = 0;
  int stops = 0;
  std::vector<Address> peers;
};

// Plays a successful connection on a recorded client attempt; returns the protocol the
// connection would own.
std::unique_ptr<Protocol> succeed(const std::shared_ptr<ClientFactory>& factory,
                                  testing::FakeConnector& connector, ITransport& transport,
                                  const Address& peer = Address::ip("192.0.2.1", 80)) {
  std::unique_ptr<Protocol> p = factory->buildProtocol(peer);
  if (p) {
    connector.setState(IConnector::State::connected);
    p->makeConnection(transport);
  }
  return p;
}

void fail(const std::shared_ptr<ClientFactory>& factory, testing::FakeConnector& connector,
          const Failure& reason) {
  connector.setState(IConnector::State::disconnected);
  factory->clientConnectionFailed(connector, reason);
}

// A MemoryReactor whose lookups wait until the test answers them.
class SlowResolver : public MemoryReactor {
 public:
  Deferred<std::vector<Address>> resolveHost(std::string_view host, std::uint16_t port,
                                             int family) override {
    resolutions.push_back({std::string(host), port, family});
    Deferred<std::vector<Address>> d([this](Deferred<std::vector<Address>>&) { ++cancelled; });
    lookups.push_back(d);
    return d;
  }
  std::vector<Deferred<std::vector<Address>>> lookups;
  int cancelled = 0;
};

class EndpointsTest : public ::testing::Test {
 protected:
  MemoryReactor reactor;
  Journal journal;
  std::shared_ptr<CountingFactory> factory = std::make_shared<CountingFactory>(journal);
  StringTransport transport;
};

// ---- servers
// -------------------------------------------------------------------------------------

TEST_F(EndpointsTest, tcp4ServerListensWithPortBacklogAndInterface) {
  TCP4ServerEndpoint endpoint(reactor, 8080, 7, "127.0.0.1");
  auto port = successResultOf(endpoint.listen(factory));
  ASSERT_EQ(reactor.tcpServers.size(), 1u);
  const auto& s = reactor.tcpServers[0];
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.backlog, 7);
  EXPECT_EQ(s.interface, "127.0.0.1");
  EXPECT_EQ(s.factory, factory);
  EXPECT_EQ(port, s.listeningPort);
}

TEST_F(EndpointsTest, tcpServerDefaultsAreTwisteds) {
  TCP4ServerEndpoint v4(reactor, 80);
  TCP6ServerEndpoint v6(reactor, 81);
  successResultOf(v4.listen(factory));
  successResultOf(v6.listen(factory));
  ASSERT_EQ(reactor.tcpServers.size(), 2u);
  EXPECT_EQ(reactor.tcpServers[0].interface, "");
  EXPECT_EQ(reactor.tcpServers[0].backlog, 50);
  EXPECT_EQ(reactor.tcpServers[1].interface, "::");
  EXPECT_EQ(reactor.tcpServers[1].backlog, 50);
}

TEST_F(EndpointsTest, serverListenFailureIsCannotListenError) {
  testing::RaisingMemoryReactor raising(
      std::make_exception_ptr(CannotListenError("", "80", "Address already in use")));
  TCP4ServerEndpoint tcp(raising, 80);
  UNIXServerEndpoint unix(raising, "/tmp/s");
  const Failure f = failureResultOf<CannotListenError>(tcp.listen(factory));
  EXPECT_EQ(f.value<CannotListenError>()->port(), "80");
  failureResultOf<CannotListenError>(unix.listen(factory));
}

TEST_F(EndpointsTest, unixServerPassesPathModeBacklogAndLockfile) {
  UNIXServerEndpoint endpoint(reactor, "/run/app.sock", 5, 0600, true);
  auto port = successResultOf(endpoint.listen(factory));
  ASSERT_EQ(reactor.unixServers.size(), 1u);
  const auto& s = reactor.unixServers[0];
  EXPECT_EQ(s.path, "/run/app.sock");
  EXPECT_EQ(s.backlog, 5);
  EXPECT_EQ(s.mode, 0600u);
  EXPECT_TRUE(s.wantPID);
  EXPECT_EQ(port, s.listeningPort);
}

TEST_F(EndpointsTest, adoptedEndpointHandsTheDescriptorOverAndClosesIt) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int watch = ::dup(fd);  // shares the open file description, so its flags
  AdoptedStreamServerEndpoint endpoint(reactor, fd, AF_INET);
  auto port = successResultOf(endpoint.listen(factory));
  ASSERT_EQ(reactor.adoptedPorts.size(), 1u);
  EXPECT_EQ(reactor.adoptedPorts[0].fd, fd);
  EXPECT_EQ(reactor.adoptedPorts[0].family, AF_INET);
  EXPECT_EQ(reactor.adoptedPorts[0].factory, factory);
  EXPECT_EQ(port, reactor.adoptedPorts[0].listeningPort);
  EXPECT_NE(::fcntl(watch, F_GETFL) & O_NONBLOCK, 0);
  errno = 0;
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  ::close(watch);
}

TEST_F(EndpointsTest, adoptedEndpointListensOnce) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  AdoptedStreamServerEndpoint endpoint(reactor, fd, AF_UNIX);
  successResultOf(endpoint.listen(factory));
  failureResultOf<AlreadyListened>(endpoint.listen(factory));
  EXPECT_EQ(reactor.adoptedPorts.size(), 1u);
}

TEST_F(EndpointsTest, adoptedEndpointRefusesADescriptorThatIsNotOpen) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  ::close(fd);
  AdoptedStreamServerEndpoint endpoint(reactor, fd, AF_INET);
  const Failure f = failureResultOf<CannotListenError>(endpoint.listen(factory));
  EXPECT_NE(f.getErrorMessage().find("descriptor " + std::to_string(fd)), std::string::npos)
      << f.getErrorMessage();
  EXPECT_TRUE(reactor.adoptedPorts.empty());
}

// ---- systemd
// ---------------------------------------------------------------------------------------

using Env = std::map<std::string, std::string>;

int systemdFd(int index, const Env& env, long pid) {
  return systemdListenDescriptor(
      index,
      [&env](const char* name) -> const char* {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      pid);
}

void expectSystemdError(int index, const Env& env, long pid, const std::string& message) {
  try {
    systemdFd(index, env, pid);
    ADD_FAILURE() << "no error; expected: " << message;
  } catch (const SystemdActivationError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(SystemdListenDescriptor, isThreePlusIndexForThisProcess) {
  const Env env{{"LISTEN_PID", "42"}, {"LISTEN_FDS", "2"}};
  EXPECT_EQ(systemdFd(0, env, 42), 3);
  EXPECT_EQ(systemdFd(1, env, 42), 4);
}

TEST(SystemdListenDescriptor, explainsWhatIsMissingOrWrong) {
  expectSystemdError(0, {}, 42, "LISTEN_PID is not set");
  expectSystemdError(0, {{"LISTEN_PID", "x"}, {"LISTEN_FDS", "1"}}, 42,
                     "LISTEN_PID='x' is not a process id");
  expectSystemdError(0, {{"LISTEN_PID", "41"}, {"LISTEN_FDS", "1"}}, 42,
                     "LISTEN_PID=41 names another process (this one is 42)");
  expectSystemdError(0, {{"LISTEN_PID", "42"}}, 42, "LISTEN_FDS is not set");
  expectSystemdError(0, {{"LISTEN_PID", "42"}, {"LISTEN_FDS", "-1"}}, 42,
                     "LISTEN_FDS='-1' is not a count");
  expectSystemdError(1, {{"LISTEN_PID", "42"}, {"LISTEN_FDS", "1"}}, 42,
                     "index 1 is out of range: systemd passed 1 descriptor (LISTEN_FDS=1)");
  expectSystemdError(0, {{"LISTEN_PID", "42"}, {"LISTEN_FDS", "0"}}, 42, "passed 0 descriptors");
}

// Sets environment variables for one test and puts the old values back.
class ScopedEnv {
 public:
  void set(const char* name, const std::string& value) {
    const char* old = ::getenv(name);
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(EndpointsTest, systemdDescriptionAdoptsTheDescriptorSystemdPassed) {
  ScopedEnv env;
  env.set("LISTEN_PID", std::to_string(::getpid()));
  env.set("LISTEN_FDS", "2");
  auto endpoint = serverFromString(reactor, "systemd:domain=INET6:index=1");
  auto* adopted = dynamic_cast<AdoptedStreamServerEndpoint*>(endpoint.get());
  ASSERT_NE(adopted, nullptr);
  EXPECT_EQ(adopted->fileno(), 4);
  EXPECT_EQ(adopted->family(), AF_INET6);
  // (Not listened on: that would close this test process's descriptor 4.)
  EXPECT_THROW(serverFromString(reactor, "systemd:domain=INET:index=2"), SystemdActivationError);
}

TEST_F(EndpointsTest, systemdDescriptionWithoutSocketActivationSaysSo) {
  ScopedEnv env;
  env.set("LISTEN_PID", std::to_string(::getpid() + 1));
  try {
    serverFromString(reactor, "systemd:domain=UNIX:index=0");
    ADD_FAILURE() << "no error";
  } catch (const SystemdActivationError& e) {
    EXPECT_NE(std::string(e.what()).find("names another process"), std::string::npos);
  }
}

// ---- serverFromString
// ------------------------------------------------------------------------------

TEST_F(EndpointsTest, serverFromStringMakesTheEndpointsTheDescriptionNames) {
  successResultOf(
      serverFromString(reactor, "tcp:8080:interface=127.0.0.1:backlog=9")->listen(factory));
  successResultOf(serverFromString(reactor, "tcp6:8443")->listen(factory));
  successResultOf(
      serverFromString(reactor, "unix:/run/x.sock:mode=600:lockfile=0")->listen(factory));
  successResultOf(serverFromString(reactor, "unix:@abstract")->listen(factory));
  ASSERT_EQ(reactor.tcpServers.size(), 2u);
  EXPECT_EQ(reactor.tcpServers[0].port, 8080);
  EXPECT_EQ(reactor.tcpServers[0].interface, "127.0.0.1");
  EXPECT_EQ(reactor.tcpServers[0].backlog, 9);
  EXPECT_EQ(reactor.tcpServers[1].port, 8443);
  EXPECT_EQ(reactor.tcpServers[1].interface, "::");
  ASSERT_EQ(reactor.unixServers.size(), 2u);
  EXPECT_EQ(reactor.unixServers[0].path, "/run/x.sock");
  EXPECT_EQ(reactor.unixServers[0].mode, 0600u);
  EXPECT_FALSE(reactor.unixServers[0].wantPID);
  EXPECT_EQ(reactor.unixServers[1].path, "@abstract");
  EXPECT_EQ(reactor.unixServers[1].mode, 0666u);
  EXPECT_TRUE(reactor.unixServers[1].wantPID);  // lockfile=1 is Twisted's default
}

TEST_F(EndpointsTest, fromStringRejectsMalformedDescriptions) {
  EXPECT_THROW(serverFromString(reactor, "tcp:http"), EndpointStringError);
  EXPECT_THROW(serverFromString(reactor, "ssl:443"), EndpointStringError);
  EXPECT_THROW(clientFromString(reactor, "tcp:host=h"), EndpointStringError);
  EXPECT_TRUE(reactor.tcpServers.empty());
}

// ---- TCP and Unix clients
// --------------------------------------------------------------------------

TEST_F(EndpointsTest, tcp4ClientConnectsWithHostPortTimeoutAndBindAddress) {
  TCP4ClientEndpoint endpoint(reactor, "example.com", 80, Seconds(7), Address::ip("192.0.2.9", 0));
  auto d = endpoint.connect(factory);
  assertNoResult(d);
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  const auto& c = reactor.tcpClients[0];
  EXPECT_EQ(c.host, "example.com");
  EXPECT_EQ(c.port, 80);
  EXPECT_EQ(c.timeout, Seconds(7));
  EXPECT_EQ(c.bindAddress, Address::ip("192.0.2.9", 0));
  EXPECT_EQ(factory->built, 0);
}

TEST_F(EndpointsTest, clientFiresWithTheProtocolAfterConnectionMadeRan) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  std::unique_ptr<Protocol> owned = c.factory->buildProtocol(Address::ip("192.0.2.1", 80));
  ASSERT_NE(owned, nullptr);
  assertNoResult(d);  // built, not connected yet
  d.addCallback([this](Protocol* p) {
    journal.events.push_back("fired");
    return p;
  });
  c.connector->setState(IConnector::State::connected);
  owned->makeConnection(transport);
  Protocol* p = successResultOf(d);
  EXPECT_EQ(journal.events, (std::vector<std::string>{"made", "fired"}));
  EXPECT_EQ(p->transport, &transport);
  EXPECT_EQ(p->factory, factory.get());
  EXPECT_TRUE(p->connected);
  EXPECT_EQ(factory->peers, std::vector<Address>{Address::ip("192.0.2.1", 80)});
}

TEST_F(EndpointsTest, connectionEventsReachTheProtocol) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  auto owned = succeed(c.factory, *c.connector, transport);
  successResultOf(d);
  owned->dataReceived("hello");
  owned->connectionLost(Failure(ConnectionDone()));
  EXPECT_EQ(journal.events,
            (std::vector<std::string>{"made", "data:hello", "lost:torsion::ConnectionDone"}));
}

TEST_F(EndpointsTest, wrapperIsHalfCloseableExactlyWhenTheProtocolIs) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto plainD = endpoint.connect(factory);
  auto plain = succeed(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector, transport);
  EXPECT_EQ(dynamic_cast<IHalfCloseableProtocol*>(plain.get()), nullptr);
  successResultOf(plainD);

  auto halfFactory = std::make_shared<Factory>([this]() -> std::unique_ptr<Protocol> {
    return std::make_unique<HalfCloseRecorder>(journal);
  });
  auto halfD = endpoint.connect(halfFactory);
  StringTransport t2;
  auto half = succeed(reactor.tcpClients[1].factory, *reactor.tcpClients[1].connector, t2);
  auto* hc = dynamic_cast<IHalfCloseableProtocol*>(half.get());
  ASSERT_NE(hc, nullptr);
  hc->readConnectionLost();
  hc->writeConnectionLost();
  EXPECT_EQ(journal.events.back(), "writeLost");
  EXPECT_EQ(journal.events[journal.events.size() - 2], "readLost");
  successResultOf(halfD);
}

TEST_F(EndpointsTest, clientFailsWithTheConnectError) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  fail(c.factory, *c.connector, Failure(ConnectionRefusedError()));
  failureResultOf<ConnectionRefusedError>(d);
  EXPECT_EQ(factory->built, 0);
}

TEST_F(EndpointsTest, cancellingStopsTheAttemptAndFailsWithCancelledError) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_TRUE(c.connector->stoppedConnecting());
  // The network then reports the stopped attempt; the endpoint ignores it.
  c.factory->clientConnectionFailed(*c.connector, Failure(UserError()));
}

TEST_F(EndpointsTest, cancellingAfterConnectingLeavesTheConnectionUp) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  auto owned = succeed(c.factory, *c.connector, transport);
  d.cancel();
  EXPECT_NE(successResultOf(d), nullptr);
  EXPECT_FALSE(c.connector->stoppedConnecting());
  EXPECT_FALSE(c.connector->disconnected());
  EXPECT_FALSE(transport.disconnecting());
}

TEST_F(EndpointsTest, aConnectionCompletingAfterCancelIsRefused) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  d.cancel();
  failureResultOf<CancelledError>(d);
  // A network that could not stop in time connects anyway: nobody wants that connection.
  EXPECT_EQ(c.factory->buildProtocol(Address::ip("192.0.2.1", 80)), nullptr);
  EXPECT_EQ(factory->built, 0);
}

TEST_F(EndpointsTest, aCancelBetweenBuildAndConnectionMadeClosesTheConnection) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& c = reactor.tcpClients[0];
  auto owned = c.factory->buildProtocol(Address::ip("192.0.2.1", 80));
  d.cancel();
  failureResultOf<CancelledError>(d);
  owned->makeConnection(transport);
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(EndpointsTest, factoryBuildingNoProtocolFailsWithNoProtocolError) {
  auto none = std::make_shared<Factory>();
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(none);
  auto& c = reactor.tcpClients[0];
  EXPECT_EQ(c.factory->buildProtocol(Address::ip("192.0.2.1", 80)), nullptr);
  failureResultOf<NoProtocolError>(d);
}

TEST_F(EndpointsTest, buildProtocolThrowingFailsWithItsException) {
  auto throwing =
      std::make_shared<Factory>([]() -> std::unique_ptr<Protocol> { throw test::Boom(); });
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(throwing);
  EXPECT_EQ(reactor.tcpClients[0].factory->buildProtocol(Address::ip("192.0.2.1", 80)), nullptr);
  failureResultOf<test::Boom>(d);
}

TEST_F(EndpointsTest, connectionMadeThrowingFailsWithItsExceptionWhenTheConnectionDrops) {
  struct Grumpy : Protocol {
    void connectionMade() override { throw test::Boom(); }
  };
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(Factory::forProtocol<Grumpy>());
  auto owned = reactor.tcpClients[0].factory->buildProtocol(Address::ip("192.0.2.1", 80));
  EXPECT_THROW(owned->makeConnection(transport), test::Boom);
  assertNoResult(d);
  // The reactor drops the connection with the exception as reason.
  owned->connectionLost(Failure(test::Boom()));
  failureResultOf<test::Boom>(d);
}

TEST_F(EndpointsTest, connectFailingSynchronouslyFailsTheDeferred) {
  testing::RaisingMemoryReactor raising(nullptr,
                                        std::make_exception_ptr(ConnectionFailed("no route")));
  TCP4ClientEndpoint endpoint(raising, "192.0.2.1", 80);
  failureResultOf<ConnectionFailed>(endpoint.connect(factory));
}

TEST_F(EndpointsTest, startAndStopOfTheWrappingFactoryReachTheUsersFactory) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto d = endpoint.connect(factory);
  auto& wrapping = *reactor.tcpClients[0].factory;
  wrapping.doStart();
  EXPECT_EQ(factory->starts, 1);
  EXPECT_EQ(factory->numPorts(), 1);
  wrapping.doStop();
  EXPECT_EQ(factory->stops, 1);
  EXPECT_EQ(factory->numPorts(), 0);
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(EndpointsTest, unixClientPassesPathTimeoutAndCheckPID) {
  UNIXClientEndpoint endpoint(reactor, "/run/app.sock", Seconds(4), true);
  auto d = endpoint.connect(factory);
  ASSERT_EQ(reactor.unixClients.size(), 1u);
  auto& c = reactor.unixClients[0];
  EXPECT_EQ(c.path, "/run/app.sock");
  EXPECT_EQ(c.timeout, Seconds(4));
  EXPECT_TRUE(c.checkPID);
  auto owned = succeed(c.factory, *c.connector, transport, Address::unix("/run/app.sock"));
  EXPECT_EQ(successResultOf(d)->transport, &transport);
}

TEST_F(EndpointsTest, tcp6ClientResolvesToIPv6AndConnectsToTheFirstAddress) {
  reactor.hosts["example.com"] = {"192.0.2.1", "2001:db8::7", "2001:db8::8"};
  TCP6ClientEndpoint endpoint(reactor, "example.com", 443, Seconds(3));
  auto d = endpoint.connect(factory);
  ASSERT_EQ(reactor.resolutions.size(), 1u);
  EXPECT_EQ(reactor.resolutions[0].family, AF_INET6);
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(reactor.tcpClients[0].host, "2001:db8::7");
  EXPECT_EQ(reactor.tcpClients[0].port, 443);
  EXPECT_EQ(reactor.tcpClients[0].timeout, Seconds(3));
  auto owned = succeed(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector, transport);
  EXPECT_NE(successResultOf(d), nullptr);
}

TEST_F(EndpointsTest, tcp6ClientWithoutIPv6AddressFailsWithDNSLookupError) {
  reactor.hosts["v4only.example"] = {"192.0.2.1"};
  TCP6ClientEndpoint endpoint(reactor, "v4only.example", 80);
  failureResultOf<DNSLookupError>(endpoint.connect(factory));
  EXPECT_TRUE(reactor.tcpClients.empty());
}

TEST_F(EndpointsTest, tcp6ClientCancelledDuringTheLookupDropsIt) {
  SlowResolver slow;
  TCP6ClientEndpoint endpoint(slow, "example.com", 80);
  auto d = endpoint.connect(factory);
  assertNoResult(d);
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_EQ(slow.cancelled, 1);
  EXPECT_TRUE(slow.tcpClients.empty());
}

TEST_F(EndpointsTest, tcp6ClientCancelledWhileConnectingStopsTheAttempt) {
  TCP6ClientEndpoint endpoint(reactor, "::1", 80);
  auto d = endpoint.connect(factory);
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_TRUE(reactor.tcpClients[0].connector->stoppedConnecting());
}

// ---- clientFromString and connectProtocol
// -----------------------------------------------------------

TEST_F(EndpointsTest, clientFromStringMakesTheEndpointsTheDescriptionNames) {
  auto tcp =
      clientFromString(reactor, "tcp:host=example.com:port=80:timeout=9:bindAddress=192.0.2.5");
  EXPECT_NE(dynamic_cast<TCP4ClientEndpoint*>(tcp.get()), nullptr);
  auto d1 = tcp->connect(factory);
  ASSERT_EQ(reactor.tcpClients.size(), 1u);
  EXPECT_EQ(reactor.tcpClients[0].host, "example.com");
  EXPECT_EQ(reactor.tcpClients[0].port, 80);
  EXPECT_EQ(reactor.tcpClients[0].timeout, Seconds(9));
  EXPECT_EQ(reactor.tcpClients[0].bindAddress, Address::ip("192.0.2.5", 0));

  auto unix = clientFromString(reactor, "unix:/run/x.sock:lockfile=1:timeout=2");
  auto d2 = unix->connect(factory);
  ASSERT_EQ(reactor.unixClients.size(), 1u);
  EXPECT_EQ(reactor.unixClients[0].path, "/run/x.sock");
  EXPECT_TRUE(reactor.unixClients[0].checkPID);
  EXPECT_EQ(reactor.unixClients[0].timeout, Seconds(2));

  auto tcp6 = clientFromString(reactor, R"(tcp6:\:\:1:22)");
  EXPECT_NE(dynamic_cast<TCP6ClientEndpoint*>(tcp6.get()), nullptr);
  auto d3 = tcp6->connect(factory);
  ASSERT_EQ(reactor.tcpClients.size(), 2u);
  EXPECT_EQ(reactor.tcpClients[1].host, "::1");
  EXPECT_FALSE(reactor.tcpClients[0].bindAddress.has_value() &&
               reactor.tcpClients[1].bindAddress.has_value());
  for (auto* d : {&d1, &d2, &d3}) {
    d->cancel();
    failureResultOf<CancelledError>(*d);
  }
}

TEST_F(EndpointsTest, connectProtocolConnectsThatVeryProtocol) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto mine = std::make_unique<Recorder>(journal);
  Protocol* expected = mine.get();
  auto d = connectProtocol(endpoint, std::move(mine));
  auto owned = succeed(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector, transport);
  EXPECT_EQ(successResultOf(d), expected);
  EXPECT_EQ(journal.events, std::vector<std::string>{"made"});
}

TEST_F(EndpointsTest, clientDeferredIsCoAwaitable) {
  TCP4ClientEndpoint endpoint(reactor, "192.0.2.1", 80);
  auto run = [](IStreamClientEndpoint& e, std::shared_ptr<Factory> f) -> Deferred<std::string> {
    Protocol* p = co_await e.connect(std::move(f));
    p->transport->write("hi");
    co_return "connected";
  };
  auto d = run(endpoint, factory);
  assertNoResult(d);
  auto owned = succeed(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector, transport);
  EXPECT_EQ(successResultOf(d), "connected");
  EXPECT_EQ(transport.value(), "hi");
}

// ---- HostnameEndpoint (Happy Eyeballs)
// ---------------------------------------------------------------

class HostnameTest : public EndpointsTest {
 protected:
  void SetUp() override {
    reactor.hosts["example.com"] = {"2001:db8::1", "2001:db8::2", "192.0.2.1", "192.0.2.2"};
  }
  std::vector<std::string> attemptedHosts() const {
    std::vector<std::string> out;
    for (const auto& c : reactor.tcpClients) out.push_back(c.host);
    return out;
  }
  HostnameEndpoint endpoint{reactor, "example.com", 443, Seconds(5)};
};

TEST_F(HostnameTest, resolvesTheNameForAnyFamily) {
  auto d = endpoint.connect(factory);
  ASSERT_EQ(reactor.resolutions.size(), 1u);
  EXPECT_EQ(reactor.resolutions[0].host, "example.com");
  EXPECT_EQ(reactor.resolutions[0].port, 443);
  EXPECT_EQ(reactor.resolutions[0].family, AF_UNSPEC);
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(HostnameTest, startsOneAttemptEveryAttemptDelayAlternatingFamilies) {
  auto d = endpoint.connect(factory);
  EXPECT_EQ(attemptedHosts(), std::vector<std::string>{"2001:db8::1"});
  reactor.advance(Seconds(0.29));
  EXPECT_EQ(reactor.tcpClients.size(), 1u);
  reactor.advance(Seconds(0.01));
  EXPECT_EQ(reactor.tcpClients.size(), 2u);
  reactor.advance(Seconds(0.3));
  reactor.advance(Seconds(0.3));
  EXPECT_EQ(attemptedHosts(),
            (std::vector<std::string>{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2"}));
  reactor.advance(Seconds(10));
  EXPECT_EQ(reactor.tcpClients.size(), 4u);  // no more addresses
  for (const auto& c : reactor.tcpClients) {
    EXPECT_EQ(c.port, 443);
    EXPECT_EQ(c.timeout, Seconds(5));
  }
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(HostnameTest, startsWithTheFamilyOfTheFirstAnswer) {
  reactor.hosts["v4first.example"] = {"192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1"};
  HostnameEndpoint e(reactor, "v4first.example", 80);
  auto d = e.connect(factory);
  reactor.pump({Seconds(0.3), Seconds(0.3), Seconds(0.3)});
  EXPECT_EQ(attemptedHosts(),
            (std::vector<std::string>{"192.0.2.1", "2001:db8::1", "192.0.2.2", "192.0.2.3"}));
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(HostnameTest, honoursACustomAttemptDelay) {
  HostnameEndpoint e(reactor, "example.com", 443, Seconds(30), {}, Seconds(1));
  auto d = e.connect(factory);
  reactor.advance(Seconds(0.9));
  EXPECT_EQ(reactor.tcpClients.size(), 1u);
  reactor.advance(Seconds(0.1));
  EXPECT_EQ(reactor.tcpClients.size(), 2u);
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(HostnameTest, firstToConnectWinsAndTheOthersAreCancelled) {
  auto d = endpoint.connect(factory);
  reactor.advance(Seconds(0.3));
  reactor.advance(Seconds(0.3));
  ASSERT_EQ(reactor.tcpClients.size(), 3u);
  auto& second = reactor.tcpClients[1];
  auto owned = succeed(second.factory, *second.connector, transport, Address::ip("192.0.2.1", 443));
  Protocol* p = successResultOf(d);
  EXPECT_EQ(p->transport, &transport);
  EXPECT_EQ(factory->built, 1);
  EXPECT_TRUE(reactor.tcpClients[0].connector->stoppedConnecting());
  EXPECT_TRUE(reactor.tcpClients[2].connector->stoppedConnecting());
  EXPECT_FALSE(second.connector->stoppedConnecting());
  EXPECT_FALSE(transport.disconnecting());
  // No further attempt once a winner is known.
  reactor.advance(Seconds(10));
  EXPECT_EQ(reactor.tcpClients.size(), 3u);
  EXPECT_TRUE(reactor.getDelayedCalls().empty());
}

TEST_F(HostnameTest, failsWithTheLastFailureWhenEveryAddressFails) {
  auto d = endpoint.connect(factory);
  reactor.pump({Seconds(0.3), Seconds(0.3), Seconds(0.3)});
  ASSERT_EQ(reactor.tcpClients.size(), 4u);
  fail(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector,
       Failure(ConnectionRefusedError()));
  fail(reactor.tcpClients[2].factory, *reactor.tcpClients[2].connector,
       Failure(ConnectionRefusedError()));
  fail(reactor.tcpClients[3].factory, *reactor.tcpClients[3].connector,
       Failure(ConnectionRefusedError()));
  assertNoResult(d);  // one attempt still in flight
  fail(reactor.tcpClients[1].factory, *reactor.tcpClients[1].connector,
       Failure(ConnectTimeoutError()));
  failureResultOf<ConnectTimeoutError>(d);
  EXPECT_EQ(factory->built, 0);
}

TEST_F(HostnameTest, whenEveryAttemptSoFarFailedTheNextStartsAtOnce) {
  auto d = endpoint.connect(factory);
  reactor.advance(Seconds(0.1));
  fail(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector,
       Failure(ConnectionRefusedError()));
  EXPECT_EQ(attemptedHosts(), (std::vector<std::string>{"2001:db8::1", "192.0.2.1"}));
  // The stagger restarts from the new attempt.
  reactor.advance(Seconds(0.29));
  EXPECT_EQ(reactor.tcpClients.size(), 2u);
  reactor.advance(Seconds(0.01));
  EXPECT_EQ(reactor.tcpClients.size(), 3u);
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(HostnameTest, aFailureWhileOthersAreInFlightWaitsForTheStagger) {
  auto d = endpoint.connect(factory);
  reactor.advance(Seconds(0.3));
  ASSERT_EQ(reactor.tcpClients.size(), 2u);
  fail(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector,
       Failure(ConnectionRefusedError()));
  EXPECT_EQ(reactor.tcpClients.size(), 2u);
  reactor.advance(Seconds(0.3));
  EXPECT_EQ(reactor.tcpClients.size(), 3u);
  d.cancel();
  failureResultOf<CancelledError>(d);
}

TEST_F(HostnameTest, cancellingCancelsEveryAttemptInFlight) {
  auto d = endpoint.connect(factory);
  reactor.advance(Seconds(0.3));
  ASSERT_EQ(reactor.tcpClients.size(), 2u);
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_TRUE(reactor.tcpClients[0].connector->stoppedConnecting());
  EXPECT_TRUE(reactor.tcpClients[1].connector->stoppedConnecting());
  reactor.advance(Seconds(10));
  EXPECT_EQ(reactor.tcpClients.size(), 2u);
  EXPECT_TRUE(reactor.getDelayedCalls().empty());
}

TEST_F(HostnameTest, cancellingDuringTheLookupCancelsIt) {
  SlowResolver slow;
  HostnameEndpoint e(slow, "example.com", 80);
  auto d = e.connect(factory);
  assertNoResult(d);
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_EQ(slow.cancelled, 1);
  EXPECT_TRUE(slow.tcpClients.empty());
}

TEST_F(HostnameTest, unknownNameFailsWithDNSLookupError) {
  HostnameEndpoint e(reactor, "nowhere.example", 80);
  failureResultOf<DNSLookupError>(e.connect(factory));
  EXPECT_TRUE(reactor.tcpClients.empty());
}

TEST_F(HostnameTest, emptyAnswerFailsWithDNSLookupError) {
  SlowResolver slow;
  HostnameEndpoint e(slow, "empty.example", 80);
  auto d = e.connect(factory);
  slow.lookups[0].callback(std::vector<Address>{});
  const Failure f = failureResultOf<DNSLookupError>(d);
  EXPECT_NE(f.getErrorMessage().find("empty.example"), std::string::npos);
}

TEST_F(HostnameTest, aLookupFailingOtherwiseBecomesDNSLookupError) {
  SlowResolver slow;
  HostnameEndpoint e(slow, "odd.example", 80);
  auto d = e.connect(factory);
  slow.lookups[0].errback(test::Boom());
  const Failure f = failureResultOf<DNSLookupError>(d);
  EXPECT_NE(f.getErrorMessage().find("boom"), std::string::npos) << f.getErrorMessage();
}

TEST_F(HostnameTest, numericHostConnectsAtOnce) {
  HostnameEndpoint e(reactor, "::1", 8080);
  auto d = e.connect(factory);
  EXPECT_EQ(attemptedHosts(), std::vector<std::string>{"::1"});
  auto owned = succeed(reactor.tcpClients[0].factory, *reactor.tcpClients[0].connector, transport);
  EXPECT_NE(successResultOf(d), nullptr);
  EXPECT_TRUE(reactor.getDelayedCalls().empty());
}

TEST_F(HostnameTest, outlivesItsEndpoint) {
  auto e = std::make_unique<HostnameEndpoint>(reactor, "example.com", 443);
  auto d = e->connect(factory);
  e.reset();
  reactor.advance(Seconds(0.3));
  ASSERT_EQ(reactor.tcpClients.size(), 2u);
  auto owned = succeed(reactor.tcpClients[1].factory, *reactor.tcpClients[1].connector, transport);
  EXPECT_NE(successResultOf(d), nullptr);
}

// ---- over a real reactor (loopback, a temporary Unix path)
// -------------------------------------------

// Runs the reactor until `d` fired (bounded by spinUntil's cap) and returns its result.
template <class T>
Result<T> waitFor(Reactor& reactor, Deferred<T> d) {
  auto out = std::make_shared<std::optional<Result<T>>>();
  d.addBoth([out](Result<T> r) { out->emplace(std::move(r)); });
  if (!test::spinUntil(
          reactor, [&] { return out->has_value(); }, 200)) {
    ADD_FAILURE() << "the Deferred did not fire";
    d.cancel();
  }
  return std::move(**out);
}

class RealEndpoints : public ::testing::Test {
 protected:
  // A server endpoint echoing back what it reads, and a client endpoint to reach it: the
  // client writes "ping" and the test waits for "ping" to come back.
  void roundTrip(
      IStreamServerEndpoint& serverEndpoint,
      const std::function<std::unique_ptr<IStreamClientEndpoint>(const Address&)>& clientFor) {
    server->setup = [](test::Record& r) {
      r.onData = [](test::Record& rec, std::string_view data) { rec.transport->write(data); };
    };
    Result<std::shared_ptr<IListeningPort>> listening =
        waitFor(reactor, serverEndpoint.listen(server));
    ASSERT_TRUE(listening.ok()) << listening.failure().describe();
    port = listening.value();
    auto clientEndpoint = clientFor(port->getHost());
    Result<Protocol*> connected = waitFor(reactor, clientEndpoint->connect(client));
    ASSERT_TRUE(connected.ok()) << connected.failure().describe();
    ASSERT_EQ(client->built.size(), 1u);
    test::Record& c = *client->built[0];
    EXPECT_TRUE(c.made);
    EXPECT_EQ(connected.value()->transport, c.transport);
    connected.value()->transport->write("ping");
    ASSERT_TRUE(test::spinUntil(reactor, [&] { return c.received == "ping"; }));
    c.transport->loseConnection();
    ASSERT_TRUE(test::spinUntil(reactor, [&] { return c.lost && server->built.at(0)->lost; }));
  }

  void TearDown() override {
    if (port) waitFor(reactor, port->stopListening());
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }

  std::string tempDir() {
    char templ[] = "/tmp/torsion-endpoints-XXXXXX";
    const char* made = ::mkdtemp(templ);
    EXPECT_NE(made, nullptr);
    dir = made ? made : "";
    return dir;
  }

  Reactor reactor{test::quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<test::Collecting<>> server = std::make_shared<test::Collecting<>>();
  std::shared_ptr<test::Collecting<>> client = std::make_shared<test::Collecting<>>();
  std::shared_ptr<IListeningPort> port;
  std::string dir;
};

TEST_F(RealEndpoints, tcp4EndpointsConnectOverLoopback) {
  TCP4ServerEndpoint serverEndpoint(net, 0, 50, "127.0.0.1");
  roundTrip(serverEndpoint, [this](const Address& a) {
    return std::make_unique<TCP4ClientEndpoint>(net, "127.0.0.1", a.port(), Seconds(5));
  });
}

TEST_F(RealEndpoints, tcp6EndpointsConnectOverLoopback) {
  TCP6ServerEndpoint serverEndpoint(net, 0, 50, "::1");
  roundTrip(serverEndpoint, [this](const Address& a) {
    EXPECT_EQ(a.family(), Address::Family::ipv6);
    return std::make_unique<TCP6ClientEndpoint>(net, "::1", a.port(), Seconds(5));
  });
}

TEST_F(RealEndpoints, unixEndpointsConnectThroughATemporaryPath) {
  const std::string path = tempDir() + "/s.sock";
  UNIXServerEndpoint serverEndpoint(net, path);
  roundTrip(serverEndpoint, [this, path](const Address& a) {
    EXPECT_EQ(a.name(), path);
    return std::make_unique<UNIXClientEndpoint>(net, path, Seconds(5));
  });
}

TEST_F(RealEndpoints, adoptedEndpointServesASocketListeningElsewhere) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_storage ss{};
  const socklen_t len = Address::ip("127.0.0.1", 0).toSockaddr(ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(fd, 5), 0);
  AdoptedStreamServerEndpoint serverEndpoint(net, fd, AF_INET);
  roundTrip(serverEndpoint, [this](const Address& a) {
    EXPECT_EQ(a.host(), "127.0.0.1");
    return std::make_unique<TCP4ClientEndpoint>(net, "127.0.0.1", a.port(), Seconds(5));
  });
}

TEST_F(RealEndpoints, hostnameEndpointResolvesAndConnects) {
  reactor.getThreadPool().start();  // the lookup runs there; run() would start it
  TCP4ServerEndpoint serverEndpoint(net, 0, 50, "127.0.0.1");
  roundTrip(serverEndpoint, [this](const Address& a) {
    return std::make_unique<HostnameEndpoint>(net, "localhost", a.port(), Seconds(5));
  });
}

TEST_F(RealEndpoints, endpointsFromStrings) {
  auto serverEndpoint = serverFromString(net, "tcp:0:interface=127.0.0.1");
  roundTrip(*serverEndpoint, [this](const Address& a) {
    return clientFromString(net, "tcp:127.0.0.1:" + std::to_string(a.port()));
  });
}

TEST_F(RealEndpoints, refusedConnectionFailsWithConnectionRefusedError) {
  TCP4ServerEndpoint serverEndpoint(net, 0, 50, "127.0.0.1");
  auto closed = waitFor(reactor, serverEndpoint.listen(server)).value();
  const std::uint16_t number = closed->getHost().port();
  waitFor(reactor, closed->stopListening());
  TCP4ClientEndpoint endpoint(net, "127.0.0.1", number, Seconds(5));
  Result<Protocol*> r = waitFor(reactor, endpoint.connect(client));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.failure().check<ConnectionRefusedError>()) << r.failure().describe();
}

TEST_F(RealEndpoints, listeningOnAPortInUseFailsWithCannotListenError) {
  TCP4ServerEndpoint first(net, 0, 50, "127.0.0.1");
  port = waitFor(reactor, first.listen(server)).value();
  TCP4ServerEndpoint second(net, port->getHost().port(), 50, "127.0.0.1");
  Result<std::shared_ptr<IListeningPort>> r = waitFor(reactor, second.listen(server));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.failure().check<CannotListenError>()) << r.failure().describe();
}

}  // namespace
}  // namespace torsion
