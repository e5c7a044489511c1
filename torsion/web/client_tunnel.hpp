// HTTPTunnelEndpoint: a client endpoint that reaches its destination through an HTTP proxy's
// CONNECT tunnel (RFC 9110 §9.3.6), which Twisted's ProxyAgent cannot do (#5324, #8806). The
// Agent uses it for AgentOptions::proxy; any protocol can go through it:
//
//   auto proxy = std::make_shared<TCP4ClientEndpoint>(net, "proxy.lan", 3128);
//   HTTPTunnelEndpoint ep(net, proxy, "example.com:443");
//   Protocol* p = co_await ep.connect(factory);     // p talks to example.com:443
//
// connect(factory) connects to the proxy, sends "CONNECT authority HTTP/1.1" with a Host field
// and `proxyHeaders` (Proxy-Authorization, say), and reads the proxy's answer with a
// ResponseParser. A 2xx switches the connection to the tunnel: the protocol `factory` builds
// gets the proxy connection's transport (its writes go through the tunnel) and, first, the
// bytes that came after the proxy's answer. Anything else fails the Deferred with
// ProxyConnectError (its code() is the proxy's status; 0 for an invalid answer or a connection
// closed before it), after closing the connection; interim 1xx answers are skipped. No answer
// within `timeout` fails it with ConnectTimeoutError.
//
// Cancelling the Deferred stops the connection attempt, or drops the connection while the
// proxy has not answered, and fails it with CancelledError. The endpoint may be destroyed while
// an attempt is under way. Reactor thread only.
#pragma once

#include <memory>
#include <string>

#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/web/headers.hpp"
#include "torsion/web/http_parser.hpp"

namespace torsion::web {

class HTTPTunnelEndpoint : public IStreamClientEndpoint {
 public:
  // `authority` is the CONNECT target, "host:port" ("[::1]:443" for IPv6).
  HTTPTunnelEndpoint(IReactorTime& clock, std::shared_ptr<IStreamClientEndpoint> proxy,
                     std::string authority, Headers proxyHeaders = {},
                     Seconds timeout = Seconds(30), Limits limits = {});
  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override;

 private:
  IReactorTime& clock_;
  std::shared_ptr<IStreamClientEndpoint> proxy_;
  std::string authority_;
  Headers proxyHeaders_;
  Seconds timeout_;
  Limits limits_;
};

}  // namespace torsion::web
