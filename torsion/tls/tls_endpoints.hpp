// TLS endpoints (Twisted's SSL4ServerEndpoint, wrapClientTLS): the endpoints that the `ssl:`
// and `tls:` descriptions of serverFromString/clientFromString make (torsion/net/endpoints.hpp).
//
// Both wrap the user's factory in a TLSMemoryBIOFactory for every listen()/connect(), sharing
// one TLSContext (made, and so checked, when the endpoint is made).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/tls/options.hpp"

namespace torsion::tls {

// listenTCP on IPv4 with every connection in TLS (a server context). A TCP4ServerEndpoint, so
// setReusePort (torsiond --workers) applies.
class SSL4ServerEndpoint : public TCP4ServerEndpoint {
 public:
  SSL4ServerEndpoint(IReactorNet& net, std::uint16_t port,
                     std::shared_ptr<const TLSContext> context, int backlog = 50,
                     std::string interface = "");
  // Listens with a TLSMemoryBIOFactory around `factory`; as TCP4ServerEndpoint::listen.
  Deferred<std::shared_ptr<IListeningPort>> listen(std::shared_ptr<Factory> factory) override;
  const std::shared_ptr<const TLSContext>& context() const noexcept { return context_; }

 private:
  std::shared_ptr<const TLSContext> context_;
};

// An endpoint that connects through `inner` and runs TLS over the connection (a client
// context) (Twisted's wrapClientTLS). connect() fires with the user's protocol once the
// connection below is up, before the handshake, as Twisted's does: what the protocol writes
// meanwhile is sent after the handshake; a failed handshake reaches its connectionLost.
// Cancelling is inner's cancelling.
class TLSClientEndpoint : public IStreamClientEndpoint {
 public:
  TLSClientEndpoint(std::shared_ptr<const TLSContext> context,
                    std::unique_ptr<IStreamClientEndpoint> inner);
  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override;
  const std::shared_ptr<const TLSContext>& context() const noexcept { return context_; }

 private:
  std::shared_ptr<const TLSContext> context_;
  std::unique_ptr<IStreamClientEndpoint> inner_;
};

// Twisted's wrapClientTLS(connectionCreator, wrappedEndpoint). Throws CertificateError for
// unusable options.
std::unique_ptr<TLSClientEndpoint> wrapClientTLS(const CertificateOptions& options,
                                                 std::unique_ptr<IStreamClientEndpoint> inner);

}  // namespace torsion::tls
