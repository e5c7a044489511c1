#include "torsion/protocols/wrapping.hpp"

#include <stdexcept>
#include <utility>

namespace torsion::protocols {

// ---- ProtocolWrapper ------------------------------------------------------------------------

ProtocolWrapper::ProtocolWrapper(WrappingFactory& factory, std::unique_ptr<Protocol> wrapped)
    : wrapped_(std::move(wrapped)), wrappingFactory_(&factory) {
  if (!wrapped_) throw std::invalid_argument("ProtocolWrapper: no protocol to wrap");
  this->factory = &factory;
}

ProtocolWrapper::~ProtocolWrapper() {
  if (registered_) wrappingFactory_->unregisterProtocol(*this);
}

ITransport& ProtocolWrapper::real() const {
  if (transport == nullptr) throw std::logic_error("ProtocolWrapper: not connected");
  return *transport;
}

void ProtocolWrapper::makeConnection(ITransport& t) {
  Protocol::makeConnection(t);
  wrappingFactory_->registerProtocol(*this);
  registered_ = true;
  wrapped_->makeConnection(*this);
}

void ProtocolWrapper::dataReceived(std::string_view data) { wrapped_->dataReceived(data); }

void ProtocolWrapper::connectionLost(const Failure& reason) {
  if (registered_) {
    registered_ = false;
    wrappingFactory_->unregisterProtocol(*this);
  }
  wrapped_->connectionLost(reason);
}

void ProtocolWrapper::write(std::string_view data) { real().write(data); }

void ProtocolWrapper::writeSequence(std::span<const std::string_view> pieces) {
  real().writeSequence(pieces);
}

void ProtocolWrapper::loseConnection() {
  disconnecting_ = true;
  real().loseConnection();
}

void ProtocolWrapper::abortConnection() {
  disconnecting_ = true;
  real().abortConnection();
}

void ProtocolWrapper::loseWriteConnection() { real().loseWriteConnection(); }

bool ProtocolWrapper::disconnecting() const noexcept {
  return disconnecting_ || (transport != nullptr && transport->disconnecting());
}

std::size_t ProtocolWrapper::bufferedBytes() const noexcept {
  return transport != nullptr ? transport->bufferedBytes() : 0;
}

void ProtocolWrapper::setWriteBufferSize(std::size_t bytes) { real().setWriteBufferSize(bytes); }
Address ProtocolWrapper::getHost() const { return real().getHost(); }
Address ProtocolWrapper::getPeer() const { return real().getPeer(); }
void ProtocolWrapper::setTcpNoDelay(bool enabled) { real().setTcpNoDelay(enabled); }
bool ProtocolWrapper::getTcpNoDelay() const { return real().getTcpNoDelay(); }
void ProtocolWrapper::setTcpKeepAlive(bool enabled) { real().setTcpKeepAlive(enabled); }
bool ProtocolWrapper::getTcpKeepAlive() const { return real().getTcpKeepAlive(); }

void ProtocolWrapper::registerProducer(IProducer& producer, bool streaming) {
  real().registerProducer(producer, streaming);
}

void ProtocolWrapper::unregisterProducer() { real().unregisterProducer(); }
void ProtocolWrapper::pauseProducing() { real().pauseProducing(); }
void ProtocolWrapper::resumeProducing() { real().resumeProducing(); }
void ProtocolWrapper::stopProducing() { real().stopProducing(); }

// ---- WrappingFactory ------------------------------------------------------------------------

WrappingFactory::WrappingFactory(std::shared_ptr<Factory> wrapped) : wrapped_(std::move(wrapped)) {
  if (!wrapped_) throw std::invalid_argument("WrappingFactory: no factory to wrap");
}

std::unique_ptr<Protocol> WrappingFactory::buildProtocol(const Address& addr) {
  std::unique_ptr<Protocol> inner = wrapped_->buildProtocol(addr);
  if (!inner) return nullptr;
  std::unique_ptr<ProtocolWrapper> wrapper = wrapProtocol(std::move(inner));
  if (wrapper) wrapper->factory = this;
  return wrapper;
}

std::unique_ptr<ProtocolWrapper> WrappingFactory::wrapProtocol(std::unique_ptr<Protocol> wrapped) {
  return std::make_unique<ProtocolWrapper>(*this, std::move(wrapped));
}

void WrappingFactory::startFactory() { wrapped_->doStart(); }
void WrappingFactory::stopFactory() { wrapped_->doStop(); }

void WrappingFactory::startedConnecting(IConnector& connector) {
  if (auto* client = dynamic_cast<ClientFactory*>(wrapped_.get())) {
    client->startedConnecting(connector);
  }
}

void WrappingFactory::clientConnectionFailed(IConnector& connector, const Failure& reason) {
  if (auto* client = dynamic_cast<ClientFactory*>(wrapped_.get())) {
    client->clientConnectionFailed(connector, reason);
  }
}

void WrappingFactory::clientConnectionLost(IConnector& connector, const Failure& reason) {
  if (auto* client = dynamic_cast<ClientFactory*>(wrapped_.get())) {
    client->clientConnectionLost(connector, reason);
  }
}

void WrappingFactory::registerProtocol(ProtocolWrapper& wrapper) { protocols_.insert(&wrapper); }

void WrappingFactory::unregisterProtocol(ProtocolWrapper& wrapper) { protocols_.erase(&wrapper); }

}  // namespace torsion::protocols
