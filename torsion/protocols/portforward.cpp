#include "torsion/protocols/portforward.hpp"

#include <utility>

#include "torsion/defer/errors.hpp"
#include "torsion/log/logger.hpp"

namespace torsion::protocols {

namespace {

const Logger& portforwardLog() {
  static const Logger logger("torsion.protocols.portforward");
  return logger;
}

}  // namespace

// ---- ProxyServer ----------------------------------------------------------------------------

ProxyServer::ProxyServer(std::shared_ptr<IStreamClientEndpoint> target)
    : target_(std::move(target)) {}

ProxyServer::~ProxyServer() {
  self_.reset();
  if (connecting_) std::exchange(connecting_, nullptr).cancel();
}

std::unique_ptr<RelayProtocol> ProxyServer::buildClient() {
  return std::make_unique<ProxyClient>();
}

void ProxyServer::connectionMade() {
  // Nothing is read until there is somewhere to send it (Twisted pauses the same way).
  awaitPeer();
  self_ = std::make_shared<ProxyServer*>(this);
  std::weak_ptr<ProxyServer*> weak = self_;
  // A local handle: the callbacks may run at once and reset connecting_.
  Deferred<Protocol*> attempt = connectProtocol(*target_, buildClient());
  connecting_ = attempt;
  attempt.addCallbacks(
      [weak](Protocol* client) {
        if (auto self = weak.lock()) {
          (*self)->targetConnected(client);
        } else if (client->transport != nullptr) {
          client->transport->loseConnection();
        }
      },
      [weak](const Failure& reason) {
        if (auto self = weak.lock()) (*self)->targetFailed(reason);
      });
}

void ProxyServer::connectionLost(const Failure& reason) {
  if (connecting_) std::exchange(connecting_, nullptr).cancel();
  RelayProtocol::connectionLost(reason);
}

void ProxyServer::targetConnected(Protocol* client) {
  connecting_ = nullptr;
  auto* relay = dynamic_cast<RelayProtocol*>(client);
  if (!connected || relay == nullptr) {
    // This side went away meanwhile (or the client is not a relay): nothing to forward.
    if (client->transport != nullptr) client->transport->loseConnection();
    if (connected) transport->loseConnection();
    return;
  }
  RelayProtocol::splice(*this, *relay);
}

void ProxyServer::targetFailed(const Failure& reason) {
  connecting_ = nullptr;
  if (!connected) return;  // cancelled by connectionLost
  portforwardLog().info(
      "Could not connect to the target for {peer}: {reason}",
      {{"peer", transport->getPeer().toString()}, {"reason", reason.getErrorMessage()}});
  transport->loseConnection();
}

// ---- ProxyFactory ---------------------------------------------------------------------------

ProxyFactory::ProxyFactory(std::shared_ptr<IStreamClientEndpoint> target)
    : target_(std::move(target)) {}

ProxyFactory::ProxyFactory(IReactorNet& net, std::string host, std::uint16_t port)
    : target_(std::make_shared<HostnameEndpoint>(net, std::move(host), port)) {}

std::unique_ptr<Protocol> ProxyFactory::buildProtocol(const Address& addr) {
  (void)addr;
  auto protocol = std::make_unique<ProxyServer>(target_);
  protocol->factory = this;
  return protocol;
}

}  // namespace torsion::protocols
