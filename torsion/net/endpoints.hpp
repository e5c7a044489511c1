// Endpoints: where to listen and where to connect, as values (Twisted's
// twisted.internet.endpoints and its string syntax).
//
// An endpoint wraps one IReactorNet call behind a small interface, so that code says "serve
// this factory" or "connect this factory" without knowing whether the other side is TCP, a Unix
// socket or a descriptor systemd passed, and so that the choice can come from a configuration
// string:
//
//   auto server = serverFromString(net, "tcp:8080:interface=127.0.0.1");
//   auto port = co_await server->listen(Factory::forProtocol<Echo>());
//
//   auto client = clientFromString(net, "tcp:host=example.com:port=80");
//   Protocol* p = co_await client->connect(Factory::forProtocol<Http>());
//
// Every call happens on the reactor thread; the IReactorNet given to an endpoint must outlive
// it and every Deferred it returned. An endpoint may be destroyed while an attempt it started
// is in flight: the attempt goes on and its Deferred still fires.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "torsion/core/errors.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/endpoint_parser.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/network.hpp"
#include "torsion/net/port.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion {

// ---- the interfaces
// ------------------------------------------------------------------------------

// Something to listen on (Twisted's IStreamServerEndpoint).
class IStreamServerEndpoint {
 public:
  virtual ~IStreamServerEndpoint() = default;
  // Starts listening, building a protocol with `factory` for each accepted connection. The
  // Deferred fires with the port (stop it with stopListening()) once listening, or fails with
  // CannotListenError (address in use, permission, bad interface...). The implementations here
  // listen at once, so the Deferred has fired when listen() returns and cancelling it does
  // nothing.
  virtual Deferred<std::shared_ptr<IListeningPort>> listen(std::shared_ptr<Factory> factory) = 0;
};

// Somewhere to connect to (Twisted's IStreamClientEndpoint).
class IStreamClientEndpoint {
 public:
  virtual ~IStreamClientEndpoint() = default;
  // Makes one connection and builds its protocol with `factory` (a plain Factory will do: the
  // endpoint wraps it in a ClientFactory of its own, which passes startFactory/stopFactory on).
  // The Deferred fires with that protocol once its connectionMade() has returned; the pointer
  // is valid until its connectionLost() returns (the connection owns the protocol). It fails
  // with a ConnectError (ConnectionRefusedError, ConnectTimeoutError, DNSLookupError,
  // ConnectBindError, ConnectionFailed...), with NoProtocolError when the factory built no
  // protocol, or with what buildProtocol or connectionMade threw.
  // Cancelling it before it fired stops the attempt (connector.stopConnecting()) and fails it
  // with CancelledError; after it fired, cancelling does nothing (the connection stays up).
  virtual Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) = 0;
};

// The factory given to connect() built no protocol (Twisted's NoProtocol).
class NoProtocolError : public ConnectError {
 public:
  NoProtocolError() : ConnectError("The factory built no protocol for the connection.") {}
};

// listen() on an AdoptedStreamServerEndpoint that already listened (Twisted's AlreadyListened).
class AlreadyListened : public Error {
 public:
  AlreadyListened() : Error("This endpoint has already listened: its descriptor is used up.") {}
};

// systemd socket activation was asked for but the process did not get what it needs.
class SystemdActivationError : public Error {
 public:
  using Error::Error;
};

// ---- servers
// -------------------------------------------------------------------------------------

// listenTCP on IPv4 ("" = all addresses).
class TCP4ServerEndpoint : public IStreamServerEndpoint {
 public:
  TCP4ServerEndpoint(IReactorNet& net, std::uint16_t port, int backlog = 50,
                     std::string interface = "");
  Deferred<std::shared_ptr<IListeningPort>> listen(std::shared_ptr<Factory> factory) override;
  // SO_REUSEPORT: several processes (torsiond --workers) listen on the same port.
  void setReusePort(bool reuse) noexcept { options_.reusePort = reuse; }

 protected:
  IReactorNet& net_;
  std::uint16_t port_;
  TCPListenOptions options_;
};

// listenTCP on IPv6 ("::" = all addresses, IPv4 too unless the system says otherwise).
class TCP6ServerEndpoint : public TCP4ServerEndpoint {
 public:
  TCP6ServerEndpoint(IReactorNet& net, std::uint16_t port, int backlog = 50,
                     std::string interface = "::");
};

// listenUNIX. `wantPID` keeps a "<path>.lock" file (see UNIXListenOptions).
class UNIXServerEndpoint : public IStreamServerEndpoint {
 public:
  UNIXServerEndpoint(IReactorNet& net, std::string path, int backlog = 50, unsigned mode = 0666,
                     bool wantPID = false);
  Deferred<std::shared_ptr<IListeningPort>> listen(std::shared_ptr<Factory> factory) override;

 private:
  IReactorNet& net_;
  std::string path_;
  UNIXListenOptions options_;
};

// A listening socket made elsewhere (systemd, a parent process): adoptStreamPort. The
// endpoint owns `fd`: it sets it non-blocking, hands it to the reactor (which takes a
// duplicate) and closes it, so listen() works once; a second call fails with AlreadyListened.
// A descriptor that is not open fails with CannotListenError. If listen() is never called, the
// descriptor is left open (as in Twisted).
class AdoptedStreamServerEndpoint : public IStreamServerEndpoint {
 public:
  // `family`: AF_INET, AF_INET6 or AF_UNIX.
  AdoptedStreamServerEndpoint(IReactorNet& net, int fd, int family);
  Deferred<std::shared_ptr<IListeningPort>> listen(std::shared_ptr<Factory> factory) override;
  int fileno() const noexcept { return fd_; }
  int family() const noexcept { return family_; }

 private:
  IReactorNet& net_;
  int fd_;
  int family_;
  bool used_ = false;
};

// The descriptor systemd passed at `index` (socket activation): 3 + index, when LISTEN_PID
// names this process and index < LISTEN_FDS, as sd_listen_fds(3) reads them (the variables are
// left in place). Throws SystemdActivationError saying which variable is missing or wrong.
int systemdListenDescriptor(int index);
// The same with the environment and the process id given (for tests): `getenv` looks a
// variable up and returns null when it is not set.
int systemdListenDescriptor(int index, const std::function<const char*(const char*)>& getenv,
                            long pid);

// ---- clients
// -------------------------------------------------------------------------------------

// connectTCP to `host` (numeric or a name the network layer resolves).
class TCP4ClientEndpoint : public IStreamClientEndpoint {
 public:
  TCP4ClientEndpoint(IReactorNet& net, std::string host, std::uint16_t port,
                     Seconds timeout = Seconds(30), std::optional<Address> bindAddress = {});
  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override;

 private:
  IReactorNet& net_;
  std::string host_;
  std::uint16_t port_;
  TCPConnectOptions options_;
};

// Resolves `host` to IPv6 addresses (resolveHost with AF_INET6) and connects to the first one.
// Cancelling during the lookup drops it and fails with CancelledError.
class TCP6ClientEndpoint : public IStreamClientEndpoint {
 public:
  TCP6ClientEndpoint(IReactorNet& net, std::string host, std::uint16_t port,
                     Seconds timeout = Seconds(30), std::optional<Address> bindAddress = {});
  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override;

 private:
  IReactorNet& net_;
  std::string host_;
  std::uint16_t port_;
  TCPConnectOptions options_;
};

// connectUNIX.
class UNIXClientEndpoint : public IStreamClientEndpoint {
 public:
  UNIXClientEndpoint(IReactorNet& net, std::string path, Seconds timeout = Seconds(30),
                     bool checkPID = false);
  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override;

 private:
  IReactorNet& net_;
  std::string path_;
  UNIXConnectOptions options_;
};

// Connects to a host name over whichever of its addresses answers first (Happy Eyeballs,
// RFC 8305, as Twisted's HostnameEndpoint):
//  1. resolve `host` with resolveHost (AF_UNSPEC);
//  2. order the addresses by alternating families, starting with the family of the first
//     answer (v6, v4, v6, v4... when the resolver put IPv6 first);
//  3. start an attempt on the first address, then one more every `attemptDelay` (0.3 s) while
//     none has succeeded; when every attempt started so far has failed, start the next one at
//     once (RFC 8305; Twisted waits for the next tick);
//  4. the first attempt to connect wins: the others are cancelled (stopConnecting) and the
//     Deferred fires with the winner's protocol (only the winner's factory->buildProtocol runs);
//  5. when every address failed, the Deferred fails with the last failure (as Twisted); an
//     empty answer fails with DNSLookupError, and so does a failed lookup.
// Cancelling the Deferred cancels the lookup or every attempt in flight, and fails it with
// CancelledError.
class HostnameEndpoint : public IStreamClientEndpoint {
 public:
  static constexpr Seconds kDefaultAttemptDelay = Seconds(0.3);

  HostnameEndpoint(IReactorNet& net, std::string host, std::uint16_t port,
                   Seconds timeout = Seconds(30), std::optional<Address> bindAddress = {},
                   Seconds attemptDelay = kDefaultAttemptDelay);
  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override;

 private:
  IReactorNet& net_;
  std::string host_;
  std::uint16_t port_;
  TCPConnectOptions options_;
  Seconds attemptDelay_;
};

// ---- strings
// -------------------------------------------------------------------------------------

// An endpoint from a server description (grammar in endpoint_parser.hpp): tcp, tcp6, unix,
// systemd, ssl (a tls::SSL4ServerEndpoint, torsion/tls/tls_endpoints.hpp). Throws
// EndpointStringError for a malformed description, and, for systemd, the
// SystemdActivationError of systemdListenDescriptor (the descriptor is looked up now, as
// Twisted does). ssl's files are read now too: one that is missing, unreadable or not PEM, or
// a key that does not match its certificate, is an EndpointStringError whose message names
// the parameter and the file and whose part() is the file name.
std::unique_ptr<IStreamServerEndpoint> serverFromString(IReactorNet& net,
                                                        std::string_view description);

// An endpoint from a client description: tcp (TCP4ClientEndpoint), tcp6, unix, ssl (TLS over
// a TCP4ClientEndpoint) and tls (TLS over a HostnameEndpoint), both tls::TLSClientEndpoint
// verifying the server's certificate and name. Throws EndpointStringError, naming the
// parameter and file for client certificates and CA directories as serverFromString does.
std::unique_ptr<IStreamClientEndpoint> clientFromString(IReactorNet& net,
                                                        std::string_view description);

// Connects `protocol` itself, without a factory of your own (Twisted's connectProtocol): the
// Deferred fires with protocol.get() once connected, as connect() does. If the attempt fails,
// the protocol is destroyed.
Deferred<Protocol*> connectProtocol(IStreamClientEndpoint& endpoint,
                                    std::unique_ptr<Protocol> protocol);

}  // namespace torsion
