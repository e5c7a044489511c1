// ReverseProxyResource: forwards every request below it to another HTTP server (Twisted's
// twisted.web.proxy.ReverseProxyResource).
//
//   root->putChild("api", std::make_shared<ReverseProxyResource>(net, "127.0.0.1", 9000, "/v1"));
//   // GET /api/users?id=3  ->  GET /v1/users?id=3 on 127.0.0.1:9000
//
// Each request gets its own upstream connection (HTTP/1.1 with "Connection: close", as
// Twisted's proxy client does). The Host header becomes host[:port] (Twisted's behaviour);
// hop-by-hop headers (Connection and the fields it names, Keep-Alive, Proxy-Connection, TE,
// Trailer, Transfer-Encoding, Upgrade) are dropped both ways; X-Forwarded-For gains the
// client's address. The response is relayed as it arrives, with backpressure: a client that
// reads slowly pauses the upstream connection. An upstream that cannot be reached, or that
// answers with an invalid response, gives 502 Bad Gateway (Twisted: 501); a client that leaves
// closes the upstream connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "torsion/web/resource.hpp"

namespace torsion {
class IReactorNet;
}

namespace torsion::web {

class ReverseProxyResource : public Resource {
 public:
  // `path` is the upstream path prefix ("" or "/prefix"). `net` must outlive the resource.
  ReverseProxyResource(IReactorNet& net, std::string host, std::uint16_t port, std::string path);

  // Every segment below maps to path + "/" + segment.
  std::shared_ptr<Resource> getChild(std::string_view segment, Request& request) override;
  // Forwards any method.
  RenderResult render(Request& request) override;

 private:
  IReactorNet& net_;
  std::string host_;
  std::uint16_t port_;
  std::string path_;
};

}  // namespace torsion::web
