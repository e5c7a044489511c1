// A TCP port forwarder (Twisted's twisted.protocols.portforward: ProxyFactory, ProxyServer,
// ProxyClient), relaying through RelayProtocol.
//
//   auto& net = network(reactor);
//   // everything accepted on 6666 goes to localhost:6665
//   net.listenTCP(6666, std::make_shared<ProxyFactory>(net, "localhost", 6665));
//   // or to any client endpoint, from a string (torsiond's --connect)
//   net.listenTCP(6666, std::make_shared<ProxyFactory>(
//                           std::shared_ptr(clientFromString(net, "unix:/run/app.sock"))));
//
// For each accepted connection a ProxyServer pauses reading and connects a ProxyClient
// through the target endpoint; once connected the two are spliced (bytes both ways, with
// backpressure, half-close and close passed through: see relay.hpp). If the target cannot be
// reached, the accepted connection is closed and the failure logged at info level (namespace
// "torsion.protocols.portforward": an unreachable target is the network's doing, not a bug).
// Where Twisted's ProxyClientFactory calls reactor.connectTCP, the target here is an
// IStreamClientEndpoint, so any endpoint (tcp, tcp6, unix, ...) can be forwarded to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/relay.hpp"

namespace torsion::protocols {

// The outgoing connection, to the target.
class ProxyClient : public RelayProtocol {};

// The accepted connection. It holds the target endpoint; the connect runs from
// connectionMade.
class ProxyServer : public RelayProtocol {
 public:
  explicit ProxyServer(std::shared_ptr<IStreamClientEndpoint> target);
  // Cancels a connect still in flight.
  ~ProxyServer() override;

  // Pauses reading and connects a ProxyClient to the target; splices on success, loses this
  // connection on failure.
  void connectionMade() override;
  // Cancels a connect still in flight (the outgoing attempt is stopped), then as the base.
  void connectionLost(const Failure& reason) override;

  // The connect attempt in flight (empty before connectionMade and once it fired).
  bool connecting() const noexcept { return static_cast<bool>(connecting_); }

 protected:
  // The protocol of the outgoing connection; override to use a subclass of ProxyClient.
  virtual std::unique_ptr<RelayProtocol> buildClient();

 private:
  void targetConnected(Protocol* client);
  void targetFailed(const Failure& reason);

  std::shared_ptr<IStreamClientEndpoint> target_;
  Deferred<Protocol*> connecting_{nullptr};
  // Lets the connect's callbacks tell whether this protocol still exists.
  std::shared_ptr<ProxyServer*> self_;
};

// Builds a ProxyServer for each accepted connection, all forwarding to one target.
class ProxyFactory : public Factory {
 public:
  // Forwards to `target` (shared by every connection; must stay usable while the factory is).
  explicit ProxyFactory(std::shared_ptr<IStreamClientEndpoint> target);
  // Forwards to host:port over TCP (Twisted's ProxyFactory(host, port)); `host` may be a
  // name, resolved for each connection (HostnameEndpoint, IPv4 and IPv6). `net` must outlive
  // the factory.
  ProxyFactory(IReactorNet& net, std::string host, std::uint16_t port);

  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;

  const std::shared_ptr<IStreamClientEndpoint>& target() const noexcept { return target_; }

 private:
  std::shared_ptr<IStreamClientEndpoint> target_;
};

}  // namespace torsion::protocols
