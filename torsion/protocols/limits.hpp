// Connection limits: LimitTotalConnectionsFactory and LimitConnectionsByPeer (Twisted's
// policies of the same names), both WrappingFactories around the factory whose connections
// they count.
//
// A connection counts from the moment its wrapper is connected (makeConnection) until it is
// lost. buildProtocol returns null to refuse one (the port closes the socket).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "torsion/protocols/wrapping.hpp"

namespace torsion::protocols {

// At most connectionLimit connections at a time. Beyond it, a connection gets
// overflowProtocol's protocol (say, one that writes "busy, try later" and hangs up) if one is
// given, otherwise it is refused. Overflow connections count too, as in Twisted.
class LimitTotalConnectionsFactory : public WrappingFactory {
 public:
  using MakeProtocol = std::function<std::unique_ptr<Protocol>()>;

  explicit LimitTotalConnectionsFactory(std::shared_ptr<Factory> wrapped,
                                        std::optional<std::size_t> connectionLimit = std::nullopt,
                                        MakeProtocol overflowProtocol = {});

  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;

  // No limit when empty (Twisted's None). May be changed at any time; it applies to the
  // connections made afterwards.
  std::optional<std::size_t> connectionLimit;
  // Builds the protocol of connections beyond the limit; empty: refuse them. The protocol's
  // `factory` is set to this factory.
  MakeProtocol overflowProtocol;

  // Connections currently counted.
  std::size_t connectionCount() const noexcept { return protocols().size(); }
};

// At most maxConnectionsPerPeer connections from one peer host at a time (5 by default);
// beyond it connections from that host are refused. A peer is its IP address (any port); for
// Unix sockets it is the peer's socket name, usually empty, so local clients count as one
// peer.
class LimitConnectionsByPeer : public WrappingFactory {
 public:
  using WrappingFactory::WrappingFactory;

  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;
  void registerProtocol(ProtocolWrapper& wrapper) override;
  void unregisterProtocol(ProtocolWrapper& wrapper) override;

  std::size_t maxConnectionsPerPeer = 5;

  // Live connections from `host` (an IP address as Address::host() spells it).
  std::size_t connectionsFrom(const std::string& host) const;

 private:
  std::unordered_map<std::string, std::size_t> peerConnections_;
  std::unordered_map<const ProtocolWrapper*, std::string> peerOf_;
};

}  // namespace torsion::protocols
