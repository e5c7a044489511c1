// The HTTP/1.1 server: Site (the factory, Twisted's twisted.web.server.Site) and HTTPChannel (the
// protocol of one connection, Twisted's http.HTTPChannel).
//
//   auto root = std::make_shared<Resource>();
//   root->putChild("hello", std::make_shared<Hello>());
//   auto site = std::make_shared<Site>(root, reactor);
//   network(reactor).listenTCP(8080, site);
//
// One connection answers its requests strictly in order: while a response is unfinished, the
// requests pipelined behind it wait (bounded: reading stops once maxPipelinedBytes wait). A
// malformed request gets its 4xx/5xx (400, 413, 414, 431, 501, 505) and the connection closes
// once it is written; other connections are unaffected. Keep-alive follows HTTP/1.1 (and
// HTTP/1.0's "Connection: keep-alive"). A connection idle between requests for idleTimeout, or
// slower than headerTimeout to send a request head, is closed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "torsion/core/time.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/web/http_parser.hpp"
#include "torsion/web/request.hpp"
#include "torsion/web/resource.hpp"

namespace torsion::web {

struct SiteOptions {
  Limits limits;
  // The largest request body buffered for a resource that does not stream (413 beyond).
  std::uint64_t maxRequestBody = 64 * 1024 * 1024;
  // Close a connection idle this long between requests (Twisted's timeOut, 60 s).
  Seconds idleTimeout = Seconds(60);
  // Close a connection that has not sent a whole request head this long after its first byte.
  Seconds headerTimeout = Seconds(30);
  // Bytes of pipelined requests held while an earlier response is unfinished, before reading
  // pauses.
  std::size_t maxPipelinedBytes = 64 * 1024;
  // TCP_NODELAY on every connection (as nginx does on keep-alive ones): a response written in
  // parts (a head, then chunks) is not held back by Nagle's algorithm waiting for an ACK.
  // Responses to the requests of one read are written together in any case.
  bool tcpNoDelay = true;
  // The Server header ("" for none).
  std::string serverName = "torsion";
  // Each finished request in combined log format, without the newline.
  std::function<void(std::string_view line)> accessLog;
  // Sessions expire after this long without use (Twisted's sessionTimeout, 15 minutes).
  Seconds sessionTimeout = Seconds(900);
  std::string sessionCookieName = "TORSION_SESSION";
  // Every exception from a resource is logged; with displayTracebacks the 500 page shows it.
  bool displayTracebacks = false;
};

// A server-side session (Twisted's server.Session): found through a cookie, expired after the
// Site's sessionTimeout without use.
class Session {
 public:
  const std::string& uid() const noexcept { return uid_; }
  // Values a resource keeps per client.
  std::unordered_map<std::string, std::string> values;
  // Ends the session now: expiry callbacks run, the Site forgets it.
  void expire();
  // Runs `f` when the session expires.
  void notifyOnExpire(std::function<void()> f) { onExpire_.push_back(std::move(f)); }
  // Pushes the expiry back (done on every request that uses it).
  void touch();

 private:
  friend class Site;
  Session(Site& site, std::string uid) : site_(&site), uid_(std::move(uid)) {}
  Site* site_;
  std::string uid_;
  DelayedCall expireCall_;
  std::vector<std::function<void()>> onExpire_;
};

class Site : public Factory {
 public:
  // `clock` runs the timeouts and session expiry (the reactor); it must outlive the Site.
  Site(std::shared_ptr<Resource> root, IReactorTime& clock, SiteOptions options = {});
  ~Site() override;

  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;

  const std::shared_ptr<Resource>& resource() const noexcept { return root_; }
  const SiteOptions& options() const noexcept { return options_; }
  SiteOptions& options() noexcept { return options_; }
  IReactorTime& clock() const noexcept { return clock_; }

  // Walks the tree for `request` (Twisted's getResourceFor): fills prepath/postpath and
  // returns the resource to render (an error page if none).
  std::shared_ptr<Resource> getResourceFor(Request& request);

  // Sessions (Twisted's makeSession / getSession).
  std::shared_ptr<Session> makeSession();
  std::shared_ptr<Session> getSession(std::string_view uid) const;

 private:
  friend class Session;
  std::shared_ptr<Resource> root_;
  IReactorTime& clock_;
  SiteOptions options_;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;
};

// Serves one resource per Host header (Twisted's vhost.NameVirtualHost); `default_` when no
// host matches (404 if none).
class NameVirtualHost : public Resource {
 public:
  void addHost(std::string name, std::shared_ptr<Resource> resource);
  void removeHost(std::string_view name);
  void setDefault(std::shared_ptr<Resource> resource) { default_ = std::move(resource); }

  std::shared_ptr<Resource> getChild(std::string_view path, Request& request) override;
  RenderResult render(Request& request) override;

 private:
  std::shared_ptr<Resource> hostResource(Request& request);
  std::map<std::string, std::shared_ptr<Resource>, std::less<>> hosts_;
  std::shared_ptr<Resource> default_;
};

}  // namespace torsion::web
