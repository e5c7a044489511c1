#include "torsion/protocols/limits.hpp"

#include <utility>

namespace torsion::protocols {

namespace {

// Address::host() and Address::name() share their storage: the host for IP addresses, the
// socket name for Unix ones.
const std::string& peerKey(const Address& addr) { return addr.host(); }

}  // namespace

LimitTotalConnectionsFactory::LimitTotalConnectionsFactory(std::shared_ptr<Factory> wrapped,
                                                           std::optional<std::size_t> limit,
                                                           MakeProtocol overflow)
    : WrappingFactory(std::move(wrapped)),
      connectionLimit(limit),
      overflowProtocol(std::move(overflow)) {}

std::unique_ptr<Protocol> LimitTotalConnectionsFactory::buildProtocol(const Address& addr) {
  if (!connectionLimit || connectionCount() < *connectionLimit) {
    return WrappingFactory::buildProtocol(addr);
  }
  if (!overflowProtocol) return nullptr;
  std::unique_ptr<Protocol> inner = overflowProtocol();
  if (!inner) return nullptr;
  inner->factory = this;
  std::unique_ptr<ProtocolWrapper> wrapper = wrapProtocol(std::move(inner));
  if (wrapper) wrapper->factory = this;
  return wrapper;
}

std::unique_ptr<Protocol> LimitConnectionsByPeer::buildProtocol(const Address& addr) {
  if (connectionsFrom(peerKey(addr)) >= maxConnectionsPerPeer) return nullptr;
  return WrappingFactory::buildProtocol(addr);
}

void LimitConnectionsByPeer::registerProtocol(ProtocolWrapper& wrapper) {
  WrappingFactory::registerProtocol(wrapper);
  std::string host = peerKey(wrapper.getPeer());
  ++peerConnections_[host];
  peerOf_[&wrapper] = std::move(host);
}

void LimitConnectionsByPeer::unregisterProtocol(ProtocolWrapper& wrapper) {
  WrappingFactory::unregisterProtocol(wrapper);
  // The peer recorded at registration: the transport may be gone when a wrapper is destroyed
  // without having been told of the loss.
  const auto it = peerOf_.find(&wrapper);
  if (it == peerOf_.end()) return;
  if (const auto count = peerConnections_.find(it->second); count != peerConnections_.end()) {
    if (--count->second == 0) peerConnections_.erase(count);
  }
  peerOf_.erase(it);
}

std::size_t LimitConnectionsByPeer::connectionsFrom(const std::string& host) const {
  const auto it = peerConnections_.find(host);
  return it == peerConnections_.end() ? 0 : it->second;
}

}  // namespace torsion::protocols
