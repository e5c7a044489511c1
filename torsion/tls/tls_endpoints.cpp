#include "torsion/tls/tls_endpoints.hpp"

#include <stdexcept>
#include <utility>

#include "torsion/tls/tls_protocol.hpp"

namespace torsion::tls {

SSL4ServerEndpoint::SSL4ServerEndpoint(IReactorNet& net, std::uint16_t port,
                                       std::shared_ptr<const TLSContext> context, int backlog,
                                       std::string interface)
    : TCP4ServerEndpoint(net, port, backlog, std::move(interface)), context_(std::move(context)) {
  if (!context_ || context_->side() != TLSSide::server) {
    throw std::invalid_argument("SSL4ServerEndpoint needs a server TLS context");
  }
}

Deferred<std::shared_ptr<IListeningPort>> SSL4ServerEndpoint::listen(
    std::shared_ptr<Factory> factory) {
  return TCP4ServerEndpoint::listen(
      std::make_shared<TLSMemoryBIOFactory>(context_, std::move(factory)));
}

TLSClientEndpoint::TLSClientEndpoint(std::shared_ptr<const TLSContext> context,
                                     std::unique_ptr<IStreamClientEndpoint> inner)
    : context_(std::move(context)), inner_(std::move(inner)) {
  if (!context_ || context_->side() != TLSSide::client || !inner_) {
    throw std::invalid_argument("TLSClientEndpoint needs a client TLS context and an endpoint");
  }
}

Deferred<Protocol*> TLSClientEndpoint::connect(std::shared_ptr<Factory> factory) {
  return inner_->connect(std::make_shared<TLSMemoryBIOFactory>(context_, std::move(factory)))
      .addCallback([](Protocol* p) -> Protocol* {
        auto* tls = dynamic_cast<TLSMemoryBIOProtocol*>(p);
        return tls != nullptr ? &tls->wrappedProtocol() : p;
      });
}

std::unique_ptr<TLSClientEndpoint> wrapClientTLS(const CertificateOptions& options,
                                                 std::unique_ptr<IStreamClientEndpoint> inner) {
  return std::make_unique<TLSClientEndpoint>(TLSContext::make(options, TLSSide::client),
                                             std::move(inner));
}

}  // namespace torsion::tls
