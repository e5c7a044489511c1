// MemoryReactor: an IReactorNet that opens nothing and records every call (Twisted's
// twisted.internet.testing.MemoryReactorClock and RaisingMemoryReactor).
//
// Code that listens or connects takes an IReactorNet&; its test passes a MemoryReactor and
// then reads what was asked for:
//
//   torsion::testing::MemoryReactor reactor;
//   Service service(reactor);                  // calls reactor.listenTCP(8080, factory)
//   ASSERT_EQ(reactor.tcpServers.size(), 1u);
//   EXPECT_EQ(reactor.tcpServers[0].port, 8080);
//   auto protocol = reactor.tcpServers[0].factory->buildProtocol(Address::ip("1.2.3.4", 5));
//
// Nothing happens on its own: no connection is accepted or made, no factory is started. The
// test plays the network, with the factories recorded here, a StringTransport or the
// loopback (torsion/testing/loopback.hpp). Time is virtual, as in testing::Clock: it moves
// only with advance(). What each call does:
//   - listenTCP/listenUNIX/adoptStreamPort record the call and return a FakeListeningPort whose
//     getHost() is the address asked for (port 0 is given 32768, then 32769, ...; an empty
//     interface is 0.0.0.0); stopListening() is counted and fires at once;
//   - connectTCP/connectUNIX record the call, return a FakeConnector in state "connecting" and
//     call factory->startedConnecting(connector), as a real connector does;
//   - listenUDP/listenUNIXDatagram/connectUNIXDatagram/adoptDatagramPort record the call and
//     give the protocol a FakeDatagramPort (makeConnection, so startProtocol() runs) that
//     records the datagrams written to it;
//   - resolveHost answers numeric hosts, and names the test put in `hosts`, with an already
//     fired Deferred; other names fail with DNSLookupError.
// Single-threaded: use it on the test's thread.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/datagram.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/network.hpp"
#include "torsion/net/port.hpp"
#include "torsion/testing/clock.hpp"

namespace torsion::testing {

// The IListeningPort MemoryReactor returns.
class FakeListeningPort final : public IListeningPort {
 public:
  explicit FakeListeningPort(Address host) : host_(std::move(host)) {}
  Address getHost() const override { return host_; }
  // Stops listening at once and returns a fired Deferred (every call is counted).
  Deferred<void> stopListening() override;
  bool listening() const noexcept override { return listening_; }
  int stopListeningCalls() const noexcept { return stopCalls_; }

 private:
  Address host_;
  bool listening_ = true;
  int stopCalls_ = 0;
};

// The IConnector MemoryReactor returns. It starts "connecting"; the calls below only change
// its state and count, except connect(), which calls the factory's startedConnecting() again
// as a real retry does. A test moves it on with setState() (connectionMade: connected;
// clientConnectionFailed: disconnected) when it plays the outcome.
class FakeConnector final : public IConnector {
 public:
  FakeConnector(Address destination, std::shared_ptr<ClientFactory> factory)
      : destination_(std::move(destination)), factory_(std::move(factory)) {}

  // A new attempt: throws std::logic_error unless disconnected; then "connecting" and
  // factory->startedConnecting(*this).
  void connect() override;
  // Counts the call; the state becomes "disconnected".
  void disconnect() override;
  // Throws std::logic_error unless connecting; records it; the state becomes "disconnected".
  // (The real connector then reports UserError to the factory; the test does that here.)
  void stopConnecting() override;
  Address getDestination() const override { return destination_; }
  State state() const noexcept override { return state_; }

  void setState(State state) noexcept { state_ = state; }
  const std::shared_ptr<ClientFactory>& factory() const noexcept { return factory_; }
  bool stoppedConnecting() const noexcept { return stoppedConnecting_; }
  // disconnect() was called (at least once).
  bool disconnected() const noexcept { return disconnectCalls_ > 0; }
  int disconnectCalls() const noexcept { return disconnectCalls_; }
  // connect() calls after the first attempt (the one MemoryReactor started).
  int connectCalls() const noexcept { return connectCalls_; }

 private:
  Address destination_;
  std::shared_ptr<ClientFactory> factory_;
  State state_ = State::connecting;
  bool stoppedConnecting_ = false;
  int disconnectCalls_ = 0;
  int connectCalls_ = 0;
};

// The datagram port MemoryReactor gives a DatagramProtocol: it records what is written and
// the options set, and stopListening() calls the protocol's stopProtocol() once.
class FakeDatagramPort final : public IDatagramTransport {
 public:
  struct Datagram {
    std::string data;
    Address to;  // the connected peer for write(data)
  };

  FakeDatagramPort(Address host, std::shared_ptr<DatagramProtocol> protocol, bool udp);

  void write(std::string_view data, const Address& to) override;
  // Throws std::logic_error unless connect() was called.
  void write(std::string_view data) override;
  void connect(const Address& peer) override { peer_ = peer; }
  Address getHost() const override { return host_; }
  Deferred<void> stopListening() override;
  bool listening() const noexcept override { return listening_; }
  // Always 0: nothing is ever dropped here.
  std::uint64_t droppedWrites() const noexcept override { return 0; }

  // UDP only (std::logic_error on a Unix datagram port, as the real one).
  void setBroadcastAllowed(bool enabled) override;
  bool getBroadcastAllowed() const override;
  void joinGroup(std::string_view group, std::string_view interface = {}) override;
  void leaveGroup(std::string_view group, std::string_view interface = {}) override;
  void setTTL(int ttl) override;
  int getTTL() const override;
  void setLoopbackMode(bool enabled) override;
  bool getLoopbackMode() const override;
  void setOutgoingInterface(std::string_view interface) override;

  // What the test reads.
  std::vector<Datagram> written;
  // Multicast groups joined and not left, as "group" or "group%interface".
  std::vector<std::string> groups;
  const std::optional<Address>& connectedPeer() const noexcept { return peer_; }
  std::string outgoingInterface() const { return outgoingInterface_; }
  int stopListeningCalls() const noexcept { return stopCalls_; }
  const std::shared_ptr<DatagramProtocol>& protocol() const noexcept { return protocol_; }

 private:
  void checkUdp(const char* what) const;

  Address host_;
  std::shared_ptr<DatagramProtocol> protocol_;
  bool udp_;
  bool listening_ = true;
  int stopCalls_ = 0;
  std::optional<Address> peer_;
  bool broadcast_ = false;
  int ttl_ = 1;
  bool loopback_ = true;
  std::string outgoingInterface_;
};

class MemoryReactor : public IReactorNet {
 public:
  // ---- the records (public, as Twisted's lists are) ------------------------------------------
  struct TCPServer {
    std::uint16_t port;  // as asked (0 stays 0 here; listeningPort->getHost() has the real one)
    std::shared_ptr<Factory> factory;
    int backlog;
    std::string interface;
    bool reusePort;
    std::shared_ptr<FakeListeningPort> listeningPort;
  };
  struct TCPClient {
    std::string host;
    std::uint16_t port;
    std::shared_ptr<ClientFactory> factory;
    Seconds timeout;
    std::optional<Address> bindAddress;
    std::shared_ptr<FakeConnector> connector;
  };
  struct UNIXServer {
    std::string path;
    std::shared_ptr<Factory> factory;
    int backlog;
    unsigned mode;
    bool wantPID;
    std::shared_ptr<FakeListeningPort> listeningPort;
  };
  struct UNIXClient {
    std::string path;
    std::shared_ptr<ClientFactory> factory;
    Seconds timeout;
    bool checkPID;
    std::shared_ptr<FakeConnector> connector;
  };
  struct UDPPort {
    std::uint16_t port;
    std::shared_ptr<DatagramProtocol> protocol;
    std::string interface;
    std::size_t maxPacketSize;
    bool reusePort;
    std::shared_ptr<FakeDatagramPort> transport;
  };
  // listenUNIXDatagram (peer empty) and connectUNIXDatagram (path = the peer, bindPath).
  struct UNIXDatagramPort {
    std::string path;
    std::shared_ptr<DatagramProtocol> protocol;
    unsigned mode;
    bool connected;
    std::string bindPath;
    std::shared_ptr<FakeDatagramPort> transport;
  };
  struct AdoptedPort {
    int fd;  // the number given (not duplicated: nothing is opened)
    int family;
    std::shared_ptr<Factory> factory;
    std::shared_ptr<FakeListeningPort> listeningPort;
  };
  struct AdoptedConnection {
    int fd;
    int family;
    std::shared_ptr<Factory> factory;
  };
  struct AdoptedDatagramPort {
    int fd;
    int family;
    std::shared_ptr<DatagramProtocol> protocol;
    std::shared_ptr<FakeDatagramPort> transport;
  };
  struct Resolution {
    std::string host;
    std::uint16_t port;
    int family;
  };

  std::vector<TCPServer> tcpServers;
  std::vector<TCPClient> tcpClients;
  std::vector<UNIXServer> unixServers;
  std::vector<UNIXClient> unixClients;
  std::vector<UDPPort> udpPorts;
  std::vector<UNIXDatagramPort> unixDatagramPorts;
  std::vector<AdoptedPort> adoptedPorts;
  std::vector<AdoptedConnection> adoptedStreamConnections;
  std::vector<AdoptedDatagramPort> adoptedDatagramPorts;
  // Every connector returned (TCP and Unix), in order (Twisted's `connectors`).
  std::vector<std::shared_ptr<FakeConnector>> connectors;
  // Every resolveHost() call.
  std::vector<Resolution> resolutions;

  // The names resolveHost() knows: name -> numeric addresses, in the order to answer them.
  std::map<std::string, std::vector<std::string>, std::less<>> hosts;

  MemoryReactor() = default;
  MemoryReactor(const MemoryReactor&) = delete;
  MemoryReactor& operator=(const MemoryReactor&) = delete;

  // ---- time (a testing::Clock) ---------------------------------------------------------------
  double seconds() const override { return clock_.seconds(); }
  DelayedCall callLater(Seconds delay, UniqueFunction<void()> f) override {
    return clock_.callLater(delay, std::move(f));
  }
  std::vector<DelayedCall> getDelayedCalls() const override { return clock_.getDelayedCalls(); }
  // Clock::advance and Clock::pump.
  void advance(Seconds amount) { clock_.advance(amount); }
  void pump(const std::vector<Seconds>& timings) { clock_.pump(timings); }
  Clock& clock() noexcept { return clock_; }

  // ---- IReactorNet ---------------------------------------------------------------------------
  // Throws CannotListenError for an interface that is not a numeric address.
  std::shared_ptr<IListeningPort> listenTCP(std::uint16_t port, std::shared_ptr<Factory> factory,
                                            const TCPListenOptions& options = {}) override;
  // The connector's destination is the host if numeric, else its first address in `hosts`,
  // else an empty Address.
  std::shared_ptr<IConnector> connectTCP(std::string_view host, std::uint16_t port,
                                         std::shared_ptr<ClientFactory> factory,
                                         const TCPConnectOptions& options = {}) override;
  std::shared_ptr<IListeningPort> listenUNIX(std::string_view path,
                                             std::shared_ptr<Factory> factory,
                                             const UNIXListenOptions& options = {}) override;
  std::shared_ptr<IConnector> connectUNIX(std::string_view path,
                                          std::shared_ptr<ClientFactory> factory,
                                          const UNIXConnectOptions& options = {}) override;
  std::shared_ptr<IDatagramTransport> listenUDP(std::uint16_t port,
                                                std::shared_ptr<DatagramProtocol> protocol,
                                                const UDPListenOptions& options = {}) override;
  std::shared_ptr<IDatagramTransport> listenUNIXDatagram(std::string_view path,
                                                         std::shared_ptr<DatagramProtocol> protocol,
                                                         unsigned mode = 0666) override;
  std::shared_ptr<IDatagramTransport> connectUNIXDatagram(
      std::string_view path, std::shared_ptr<DatagramProtocol> protocol,
      std::string_view bindPath = {}) override;
  // The port's address is Twisted's: 0.0.0.0:1234 (AF_INET), [::]:1234 (AF_INET6), an
  // unnamed Unix address (AF_UNIX); another family throws std::invalid_argument.
  std::shared_ptr<IListeningPort> adoptStreamPort(int fd, int family,
                                                  std::shared_ptr<Factory> factory) override;
  void adoptStreamConnection(int fd, int family, std::shared_ptr<Factory> factory) override;
  std::shared_ptr<IDatagramTransport> adoptDatagramPort(
      int fd, int family, std::shared_ptr<DatagramProtocol> protocol) override;
  // Already fired: the numeric host, or the addresses of `hosts[host]`, each with `port`,
  // keeping those of `family` (AF_UNSPEC: all). None: DNSLookupError.
  Deferred<std::vector<Address>> resolveHost(std::string_view host, std::uint16_t port,
                                             int family = AF_UNSPEC) override;

 private:
  std::uint16_t assignPort(std::uint16_t asked);
  Address destinationOf(std::string_view host, std::uint16_t port) const;

  Clock clock_;
  std::uint16_t nextEphemeralPort_ = 32768;
};

// Twisted's name for the same thing (MemoryReactor there has no clock; this one always has).
using MemoryReactorClock = MemoryReactor;

// A MemoryReactor whose listen calls (listen*, adoptStreamPort, adoptDatagramPort) throw
// `listenError` and whose connect calls (connect*, adoptStreamConnection) throw
// `connectError`, without recording them (Twisted's RaisingMemoryReactor). A null error
// leaves those calls to MemoryReactor.
class RaisingMemoryReactor : public MemoryReactor {
 public:
  explicit RaisingMemoryReactor(std::exception_ptr listenError,
                                std::exception_ptr connectError = nullptr)
      : listenError_(std::move(listenError)), connectError_(std::move(connectError)) {}

  std::shared_ptr<IListeningPort> listenTCP(std::uint16_t port, std::shared_ptr<Factory> factory,
                                            const TCPListenOptions& options = {}) override;
  std::shared_ptr<IConnector> connectTCP(std::string_view host, std::uint16_t port,
                                         std::shared_ptr<ClientFactory> factory,
                                         const TCPConnectOptions& options = {}) override;
  std::shared_ptr<IListeningPort> listenUNIX(std::string_view path,
                                             std::shared_ptr<Factory> factory,
                                             const UNIXListenOptions& options = {}) override;
  std::shared_ptr<IConnector> connectUNIX(std::string_view path,
                                          std::shared_ptr<ClientFactory> factory,
                                          const UNIXConnectOptions& options = {}) override;
  std::shared_ptr<IDatagramTransport> listenUDP(std::uint16_t port,
                                                std::shared_ptr<DatagramProtocol> protocol,
                                                const UDPListenOptions& options = {}) override;
  std::shared_ptr<IDatagramTransport> listenUNIXDatagram(std::string_view path,
                                                         std::shared_ptr<DatagramProtocol> protocol,
                                                         unsigned mode = 0666) override;
  std::shared_ptr<IDatagramTransport> connectUNIXDatagram(
      std::string_view path, std::shared_ptr<DatagramProtocol> protocol,
      std::string_view bindPath = {}) override;
  std::shared_ptr<IListeningPort> adoptStreamPort(int fd, int family,
                                                  std::shared_ptr<Factory> factory) override;
  void adoptStreamConnection(int fd, int family, std::shared_ptr<Factory> factory) override;
  std::shared_ptr<IDatagramTransport> adoptDatagramPort(
      int fd, int family, std::shared_ptr<DatagramProtocol> protocol) override;

 private:
  void raiseListen() const;
  void raiseConnect() const;

  std::exception_ptr listenError_;
  std::exception_ptr connectError_;
};

}  // namespace torsion::testing
