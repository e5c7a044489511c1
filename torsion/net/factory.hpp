// Factories: who builds the protocol of each new connection (Twisted's Factory,
// ClientFactory).
//
// A listening port calls buildProtocol(peerAddress) for every accepted connection; returning
// null refuses it (the socket is closed). The ports and connections using a factory hold it
// through a shared_ptr, so it lives as long as any of them. startFactory() runs when the first
// port (or connector) starts using the factory and stopFactory() when the last one stops,
// counted as Twisted's doStart/doStop count them. All calls happen on the reactor thread.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "torsion/defer/failure.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion {

class IConnector;

class Factory : public std::enable_shared_from_this<Factory> {
 public:
  Factory() = default;
  // A factory whose buildProtocol calls `make` (and sets the protocol's `factory`).
  explicit Factory(std::function<std::unique_ptr<Protocol>()> make) : make_(std::move(make)) {}
  virtual ~Factory() = default;

  // A factory that builds `P(args...)` for each connection (Twisted's Factory.forProtocol).
  template <class P, class... Args>
  static std::shared_ptr<Factory> forProtocol(Args... args) {
    return std::make_shared<Factory>(
        [args...]() -> std::unique_ptr<Protocol> { return std::make_unique<P>(args...); });
  }

  // Builds the protocol for a connection from `addr` (the peer). The default calls the
  // function given at construction and sets the protocol's `factory` to this. Return null to
  // refuse the connection. An exception is logged and refuses the connection.
  virtual std::unique_ptr<Protocol> buildProtocol(const Address& addr);

  // Called once before the first port starts using this factory, and after the last one
  // stopped; override to open and close shared resources.
  virtual void startFactory() {}
  virtual void stopFactory() {}

  // The counting wrappers ports call (Twisted's doStart/doStop).
  void doStart();
  void doStop();
  int numPorts() const noexcept { return numPorts_; }

 private:
  std::function<std::unique_ptr<Protocol>()> make_;
  int numPorts_ = 0;
};

// A factory for outgoing connections: it hears how each attempt went.
class ClientFactory : public Factory {
 public:
  using Factory::Factory;
  template <class P, class... Args>
  static std::shared_ptr<ClientFactory> forProtocol(Args... args) {
    return std::make_shared<ClientFactory>(
        [args...]() -> std::unique_ptr<Protocol> { return std::make_unique<P>(args...); });
  }
  // The connector started an attempt (before the socket connects).
  virtual void startedConnecting(IConnector& connector) { (void)connector; }
  // The attempt failed: reason wraps a ConnectError (ConnectionRefusedError,
  // ConnectTimeoutError, DNSLookupError, UserError after stopConnecting...).
  virtual void clientConnectionFailed(IConnector& connector, const Failure& reason) {
    (void)connector;
    (void)reason;
  }
  // An established connection ended (after the protocol's connectionLost).
  virtual void clientConnectionLost(IConnector& connector, const Failure& reason) {
    (void)connector;
    (void)reason;
  }
};

}  // namespace torsion
