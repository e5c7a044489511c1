// IReactorNet: what a reactor offers for networking (Twisted's IReactorTCP, IReactorUDP,
// IReactorUNIX, IReactorUNIXDatagram, IReactorSocket and IReactorTime, together), and
// torsion::network(reactor), the real implementation attached to a Reactor.
//
// Code that opens ports or connections takes an IReactorNet&, so that tests pass a
// testing::MemoryReactor (which records the calls) and programs pass network(reactor):
//
//     torsion::Reactor reactor;
//     auto& net = torsion::network(reactor);
//     auto port = net.listenTCP(8000, torsion::Factory::forProtocol<Echo>());
//     reactor.run();
//
// All calls happen on the reactor thread. Listening errors throw CannotListenError at once;
// connection errors reach the ClientFactory (clientConnectionFailed). An attempt starts on the
// next iteration: its outcome (connectionMade or clientConnectionFailed) never arrives from
// inside the connect call itself. Ports and connectors stay
// alive until stopped (the returned shared_ptr is a handle, not the owner). At reactor shutdown
// (during "shutdown") every connection is lost with ConnectionLost and every port stops.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/datagram.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/port.hpp"

namespace torsion {

struct TCPListenOptions {
  int backlog = 50;
  // Local address to bind ("" = all IPv4 addresses; "::" = all IPv6 and IPv4).
  std::string interface;
  // SO_REUSEPORT: several listeners (one reactor per core) share the port.
  bool reusePort = false;
};

struct TCPConnectOptions {
  // Seconds before the attempt fails with ConnectTimeoutError.
  Seconds timeout = Seconds(30);
  // Local address to bind before connecting.
  std::optional<Address> bindAddress;
};

struct UNIXListenOptions {
  int backlog = 50;
  // Permissions of the socket file (0666 by default, as Twisted).
  unsigned mode = 0666;
  // Twisted's wantPID: keep "<path>.lock" holding our pid; refuse to start when a live
  // process holds it, and remove a stale socket file left by a dead one.
  bool wantPID = false;
};

struct UNIXConnectOptions {
  Seconds timeout = Seconds(30);
  // Check "<path>.lock" and fail at once (ConnectionRefusedError) if its process is dead.
  bool checkPID = false;
};

struct UDPListenOptions {
  std::string interface;
  std::size_t maxPacketSize = 8192;
  bool reusePort = false;
};

class IReactorNet : public IReactorTime {
 public:
  // ---- TCP ---------------------------------------------------------------------------------
  virtual std::shared_ptr<IListeningPort> listenTCP(std::uint16_t port,
                                                    std::shared_ptr<Factory> factory,
                                                    const TCPListenOptions& options = {}) = 0;
  // `host` is numeric or a name (resolved without blocking the loop, through
  // resolveHost). Failures reach factory->clientConnectionFailed.
  virtual std::shared_ptr<IConnector> connectTCP(std::string_view host, std::uint16_t port,
                                                 std::shared_ptr<ClientFactory> factory,
                                                 const TCPConnectOptions& options = {}) = 0;

  // ---- Unix stream sockets -------------------------------------------------------------------
  // `path` starting with '\0' or '@' is a Linux abstract name.
  virtual std::shared_ptr<IListeningPort> listenUNIX(std::string_view path,
                                                     std::shared_ptr<Factory> factory,
                                                     const UNIXListenOptions& options = {}) = 0;
  virtual std::shared_ptr<IConnector> connectUNIX(std::string_view path,
                                                  std::shared_ptr<ClientFactory> factory,
                                                  const UNIXConnectOptions& options = {}) = 0;

  // ---- datagrams -----------------------------------------------------------------------------
  virtual std::shared_ptr<IDatagramTransport> listenUDP(std::uint16_t port,
                                                        std::shared_ptr<DatagramProtocol> protocol,
                                                        const UDPListenOptions& options = {}) = 0;
  virtual std::shared_ptr<IDatagramTransport> listenUNIXDatagram(
      std::string_view path, std::shared_ptr<DatagramProtocol> protocol, unsigned mode = 0666) = 0;
  // A Unix datagram socket connected to `path`, bound to `bindPath` (or unnamed).
  virtual std::shared_ptr<IDatagramTransport> connectUNIXDatagram(
      std::string_view path, std::shared_ptr<DatagramProtocol> protocol,
      std::string_view bindPath = {}) = 0;

  // ---- adopting descriptors made elsewhere (IReactorSocket) -----------------------------------
  // The reactor takes a duplicate of `fd` (the caller keeps and closes its own). `family` is
  // AF_INET, AF_INET6 or AF_UNIX. The listening socket must already listen.
  virtual std::shared_ptr<IListeningPort> adoptStreamPort(int fd, int family,
                                                          std::shared_ptr<Factory> factory) = 0;
  virtual void adoptStreamConnection(int fd, int family, std::shared_ptr<Factory> factory) = 0;
  virtual std::shared_ptr<IDatagramTransport> adoptDatagramPort(
      int fd, int family, std::shared_ptr<DatagramProtocol> protocol) = 0;

  // ---- names ---------------------------------------------------------------------------------
  // Resolves a host name to addresses (numeric names at once; others with getaddrinfo on the
  // reactor's thread pool, which runs while the reactor runs). `family` is AF_UNSPEC,
  // AF_INET or AF_INET6. Fails with DNSLookupError.
  // Cancelling it drops the answer (the lookup itself runs to its end on its thread).
  virtual Deferred<std::vector<Address>> resolveHost(std::string_view host, std::uint16_t port,
                                                     int family = AF_UNSPEC) = 0;
};

// The network layer of a real reactor (made on first use, destroyed with the reactor).
IReactorNet& network(Reactor& reactor);

}  // namespace torsion
