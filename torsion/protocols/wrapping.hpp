// ProtocolWrapper and WrappingFactory: put a policy between a factory's protocols and their
// transports (Twisted's policies.ProtocolWrapper and WrappingFactory).
//
// A WrappingFactory wraps another factory. For each connection it asks the wrapped factory
// for a protocol and wraps it in a ProtocolWrapper, which the port connects to the real
// transport. The wrapper is at once a Protocol (towards the real transport) and an ITransport
// (towards the wrapped protocol, whose `transport` is the wrapper): by default everything
// passes straight through, both ways, so a subclass overrides only what its policy changes
// (count, throttle, time out, log...).
//
//   auto limited = std::make_shared<LimitConnectionsByPeer>(Factory::forProtocol<Echo>());
//   network(reactor).listenTCP(8000, limited);
//
// The wrapper owns the wrapped protocol. It registers with its WrappingFactory when the
// connection is made and unregisters when it is lost (or when destroyed before that), so
// protocols() is the set of live connections. The port keeps the WrappingFactory alive, and
// the WrappingFactory keeps the wrapped factory alive. All calls happen on the reactor thread.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_set>

#include "torsion/defer/failure.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/net/transport.hpp"

namespace torsion::protocols {

class WrappingFactory;

class ProtocolWrapper : public Protocol, public ITransport {
 public:
  // `wrapped` must not be null.
  ProtocolWrapper(WrappingFactory& factory, std::unique_ptr<Protocol> wrapped);
  // Unregisters from the factory if connectionLost never came.
  ~ProtocolWrapper() override;
  ProtocolWrapper(const ProtocolWrapper&) = delete;
  ProtocolWrapper& operator=(const ProtocolWrapper&) = delete;

  // ---- Protocol, towards the real transport -------------------------------------------------
  // Sets the real transport, registers with the factory, then connects the wrapped protocol
  // with this wrapper as its transport.
  void makeConnection(ITransport& t) override;
  void dataReceived(std::string_view data) override;
  // Unregisters from the factory, then passes the reason on.
  void connectionLost(const Failure& reason) override;

  // ---- ITransport, towards the wrapped protocol: each passes through ------------------------
  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  void loseConnection() override;
  void abortConnection() override;
  void loseWriteConnection() override;
  // True once the wrapped protocol called loseConnection/abortConnection on the wrapper, or
  // the real transport is disconnecting.
  bool disconnecting() const noexcept override;
  std::size_t bufferedBytes() const noexcept override;
  void setWriteBufferSize(std::size_t bytes) override;
  Address getHost() const override;
  Address getPeer() const override;
  void setTcpNoDelay(bool enabled) override;
  bool getTcpNoDelay() const override;
  void setTcpKeepAlive(bool enabled) override;
  bool getTcpKeepAlive() const override;
  void registerProducer(IProducer& producer, bool streaming) override;
  void unregisterProducer() override;
  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;

  Protocol& wrappedProtocol() const noexcept { return *wrapped_; }
  WrappingFactory& wrappingFactory() const noexcept { return *wrappingFactory_; }

 private:
  // The real transport; throws std::logic_error before makeConnection.
  ITransport& real() const;

  std::unique_ptr<Protocol> wrapped_;
  WrappingFactory* wrappingFactory_;
  bool disconnecting_ = false;
  bool registered_ = false;
};

class WrappingFactory : public ClientFactory {
 public:
  // `wrapped` must not be null.
  explicit WrappingFactory(std::shared_ptr<Factory> wrapped);

  // Asks the wrapped factory for a protocol and wraps it (wrapProtocol); null if the wrapped
  // factory refused.
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;

  // Start and stop the wrapped factory with this one.
  void startFactory() override;
  void stopFactory() override;

  // Passed on to the wrapped factory when it is a ClientFactory.
  void startedConnecting(IConnector& connector) override;
  void clientConnectionFailed(IConnector& connector, const Failure& reason) override;
  void clientConnectionLost(IConnector& connector, const Failure& reason) override;

  // Called by each wrapper when its connection is made and when it is lost. Overrides must
  // call the base.
  virtual void registerProtocol(ProtocolWrapper& wrapper);
  virtual void unregisterProtocol(ProtocolWrapper& wrapper);

  // The wrappers of the live connections.
  const std::unordered_set<ProtocolWrapper*>& protocols() const noexcept { return protocols_; }
  Factory& wrappedFactory() const noexcept { return *wrapped_; }

 protected:
  // Wraps a protocol of the wrapped factory (Twisted's `protocol` class attribute): override
  // to use a ProtocolWrapper subclass. buildProtocol sets the wrapper's `factory` to this.
  virtual std::unique_ptr<ProtocolWrapper> wrapProtocol(std::unique_ptr<Protocol> wrapped);

 private:
  std::shared_ptr<Factory> wrapped_;
  std::unordered_set<ProtocolWrapper*> protocols_;
};

}  // namespace torsion::protocols
