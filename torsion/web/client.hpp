// The HTTP/1.1 client (Twisted's twisted.web.client): Agent, RedirectAgent, proxies, and the
// short form web::get / web::post.
//
//   auto& net = torsion::network(reactor);
//   web::Agent agent(net);
//   std::unique_ptr<web::Response> r = co_await agent.request("GET", "http://example.com/");
//   std::string body = co_await web::readBody(std::move(r));
//
//   std::string page = co_await web::get(net, "http://example.com/");   // redirects followed
//
// Related headers, included here: client_response.hpp (Response, BodyReceiver, readBody),
// client_body.hpp (request bodies), client_errors.hpp, client_pool.hpp (HTTPConnectionPool),
// client_url.hpp (URL), client_protocol.hpp (one connection), client_tunnel.hpp (CONNECT).
//
// Agents, their pools and the Deferreds they return are used on the reactor thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/network.hpp"
#include "torsion/tls/options.hpp"
#include "torsion/web/client_body.hpp"
#include "torsion/web/client_errors.hpp"
#include "torsion/web/client_pool.hpp"
#include "torsion/web/client_protocol.hpp"
#include "torsion/web/client_response.hpp"
#include "torsion/web/client_tunnel.hpp"
#include "torsion/web/client_url.hpp"
#include "torsion/web/headers.hpp"
#include "torsion/web/http_parser.hpp"

namespace torsion::web {

// Something that makes HTTP requests (Twisted's IAgent).
class IAgent {
 public:
  virtual ~IAgent() = default;
  // Requests `url` with `method`. The Deferred fires with the Response once its head arrived
  // (its body follows: Response::deliverBody, readBody), whatever its status; it fails as
  // client_errors.hpp says (SchemeNotSupported and InvalidURL for a URL it cannot use).
  // Cancelling it before it fired stops the connection attempt or aborts the connection, and
  // fails it with CancelledError; Deferred::addTimeout therefore gives a total timeout.
  // `headers` are sent after Host (unless they hold one); Content-Length and
  // Transfer-Encoding come from `body`.
  virtual Deferred<std::unique_ptr<Response>> request(std::string_view method, std::string_view url,
                                                      Headers headers = {},
                                                      std::shared_ptr<IBodyProducer> body = {}) = 0;
};

enum class ProxyMode {
  // Every request goes through a CONNECT tunnel to its host:port (one tunnel per connection,
  // kept alive and reused like a direct connection).
  Tunnel,
  // Every request is sent to the proxy with an absolute-form target
  // ("GET http://host/path HTTP/1.1"), Twisted's ProxyAgent.
  Forward,
};

struct AgentOptions {
  // For the TCP connection (to the server or the proxy), and for a proxy's answer to CONNECT.
  Seconds connectTimeout = Seconds(30);
  std::optional<Address> bindAddress = {};
  // Null: the agent makes its own persistent pool and closes it when destroyed.
  std::shared_ptr<HTTPConnectionPool> pool = {};
  // "http://proxyhost:port": every request goes through this proxy, as proxyMode says.
  std::string proxy = {};
  ProxyMode proxyMode = ProxyMode::Tunnel;
  // Sent to the proxy: with CONNECT (Tunnel) or with each request (Forward).
  Headers proxyHeaders = {};
  // Limits for the response heads (the body has none: the caller's receiver decides).
  Limits limits = {};
  // The TLS settings for an https:// destination (Twisted's
  // BrowserLikePolicyForHTTPS.creatorForNetloc). Null: tls::optionsForClientTLS(host), i.e.
  // the platform's trusted CAs and the host name checked against the certificate. Asked once
  // per host and port; the TLSContext made from it is kept by the Agent.
  std::function<tls::CertificateOptions(const URL& destination)> tlsOptions = {};
  // Makes the endpoint to connect to a host (Twisted's Agent.usingEndpointFactory). Null:
  // TCP4ClientEndpoint (which resolves names and takes IPv6 literals too).
  std::function<std::unique_ptr<IStreamClientEndpoint>(const URL& destination)> endpointFactory =
      {};
};

// Twisted's Agent (with HTTPConnectionPool), for http:// and https:// URLs (TLS over the
// connection, as AgentOptions::tlsOptions says; a certificate the options refuse fails the
// request with tls::CertificateVerifyError inside ResponseNeverReceived/RequestNotSent, as the
// connection is lost). Through a proxy an https:// request always goes through a CONNECT
// tunnel, whatever proxyMode says: a forwarding proxy would see the plaintext. An Agent may be
// destroyed while its requests are under way: they go on (the pool stays alive with them).
class Agent : public IAgent {
 public:
  explicit Agent(IReactorNet& net, AgentOptions options = {});
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  // Closes the pool it made itself (not one given in the options).
  ~Agent() override;

  Deferred<std::unique_ptr<Response>> request(std::string_view method, std::string_view url,
                                              Headers headers = {},
                                              std::shared_ptr<IBodyProducer> body = {}) override;

  const std::shared_ptr<HTTPConnectionPool>& pool() const noexcept { return pool_; }

 private:
  HTTPConnectionPool::Connect connector(const URL& destination, std::optional<std::string> tunnel,
                                        std::shared_ptr<const tls::TLSContext> tls);
  // The client context for an https:// destination, made once per authority.
  std::shared_ptr<const tls::TLSContext> tlsContext(const URL& destination);

  IReactorNet& net_;
  AgentOptions options_;
  std::optional<URL> proxy_;
  std::shared_ptr<HTTPConnectionPool> pool_;
  bool ownsPool_ = false;
  std::unordered_map<std::string, std::shared_ptr<const tls::TLSContext>> tlsContexts_;
};

// Follows redirects (Twisted's RedirectAgent): 301, 302, 307 and 308 are followed with the
// same method for GET and HEAD, and refused for other methods with ResponseFailed wrapping
// PageRedirect (a body cannot be sent twice); 303 is followed with GET. The new request goes
// without body; when it leaves the origin (scheme, host or port differ), Authorization,
// Cookie, Cookie2, Proxy-Authorization, WWW-Authenticate and Host are not sent to it (as
// Twisted since CVE-2022-21712, plus Host). A relative Location is resolved against the URL
// that was redirected (Twisted resolves every hop against the first URL). After
// `redirectLimit` redirects the request fails with ResponseFailed wrapping
// InfiniteRedirection; a redirect without Location with RedirectWithNoLocation. The final
// Response's previousResponse chain holds the redirect responses (bodies discarded).
// `agent` must outlive this object, which must outlive the Deferreds it returned.
class RedirectAgent : public IAgent {
 public:
  explicit RedirectAgent(IAgent& agent, int redirectLimit = 20);
  Deferred<std::unique_ptr<Response>> request(std::string_view method, std::string_view url,
                                              Headers headers = {},
                                              std::shared_ptr<IBodyProducer> body = {}) override;

 protected:
  RedirectAgent(IAgent& agent, int redirectLimit, bool browserLike);

 private:
  Deferred<std::unique_ptr<Response>> handleResponse(std::unique_ptr<Response> response,
                                                     std::string method, std::string url,
                                                     Headers headers, int redirects);

  IAgent& agent_;
  int redirectLimit_;
  bool browserLike_;
};

// Twisted's BrowserLikeRedirectAgent: as RedirectAgent, except that 301, 302 and 303 turn any
// method into GET, as browsers do; only 307 and 308 keep the method (and refuse other than
// GET and HEAD).
class BrowserLikeRedirectAgent : public RedirectAgent {
 public:
  explicit BrowserLikeRedirectAgent(IAgent& agent, int redirectLimit = 20)
      : RedirectAgent(agent, redirectLimit, true) {}
};

// Options of the short form.
struct RequestOptions {
  Headers headers = {};
  // Total time for the request and its body; 0: none. Past it: TimeoutError.
  Seconds timeout = Seconds(0);
  int maxRedirects = 20;
  // The longest body accepted (BodyTooLarge beyond).
  std::optional<std::size_t> maxBodySize = {};
  // Used to make the agent when `agent` is null (a non-persistent pool unless one is given).
  AgentOptions agentOptions = {};
  // An agent to send the requests with (its pool is then shared); must outlive the Deferred.
  IAgent* agent = nullptr;
};

// The short form (treq's get + content, Twisted's removed getPage): GETs `url`, following
// redirects (RedirectAgent), and fires with the body of a 2xx response. A body delimited by
// the end of the connection is accepted, as treq does. Another status fails with HTTPError
// carrying the code, the reason phrase and the body (up to 64 KiB, or maxBodySize). Other
// failures are the Agent's. Cancelling it cancels the request (CancelledError).
//
//   std::string page = co_await web::get(net, "http://example.com/");
Deferred<std::string> get(IReactorNet& net, std::string url, RequestOptions options = {});

// POSTs `body` (Content-Type `contentType`) to `url`; the rest as get(). A redirect other than
// 303 fails with ResponseFailed wrapping PageRedirect.
Deferred<std::string> post(IReactorNet& net, std::string url, std::string body,
                           std::string contentType = "application/octet-stream",
                           RequestOptions options = {});

}  // namespace torsion::web
