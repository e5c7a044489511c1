#include <stdexcept>
#include <utility>

#include "torsion/tls/tls_protocol.hpp"
#include "torsion/web/client.hpp"
#include "torsion/web/http_syntax.hpp"

namespace torsion::web {

namespace {

Deferred<HTTP11ClientProtocol*> asClientProtocol(Deferred<Protocol*> connected) {
  return connected.addCallback([](Protocol* p) {
    if (auto* tls = dynamic_cast<tls::TLSMemoryBIOProtocol*>(p)) p = &tls->wrappedProtocol();
    auto* c = dynamic_cast<HTTP11ClientProtocol*>(p);
    if (c == nullptr) throw std::logic_error("the endpoint built another protocol");
    return c;
  });
}

}  // namespace

Agent::Agent(IReactorNet& net, AgentOptions options) : net_(net), options_(std::move(options)) {
  if (!options_.proxy.empty()) {
    proxy_ = URL::parse(options_.proxy);
    if (proxy_->scheme != "http") {
      throw SchemeNotSupported("proxy scheme not supported: " + proxy_->scheme);
    }
  }
  pool_ = options_.pool;
  if (!pool_) {
    pool_ = HTTPConnectionPool::create(net_);
    ownsPool_ = true;
  }
}

Agent::~Agent() {
  if (ownsPool_) pool_->close();
}

std::shared_ptr<const tls::TLSContext> Agent::tlsContext(const URL& destination) {
  const std::string key = destination.authority();
  auto found = tlsContexts_.find(key);
  if (found != tlsContexts_.end()) return found->second;
  const tls::CertificateOptions options = options_.tlsOptions
                                              ? options_.tlsOptions(destination)
                                              : tls::optionsForClientTLS(destination.host);
  auto context = tls::TLSContext::make(options, tls::TLSSide::client);
  tlsContexts_.emplace(key, context);
  return context;
}

HTTPConnectionPool::Connect Agent::connector(const URL& destination,
                                             std::optional<std::string> tunnel,
                                             std::shared_ptr<const tls::TLSContext> tls) {
  return [&net = net_, destination, tunnel = std::move(tunnel), timeout = options_.connectTimeout,
          bind = options_.bindAddress, limits = options_.limits, headers = options_.proxyHeaders,
          makeEndpoint = options_.endpointFactory, context = std::move(tls)]() {
    std::shared_ptr<IStreamClientEndpoint> endpoint;
    if (makeEndpoint) {
      endpoint = makeEndpoint(destination);
    } else {
      endpoint = std::make_shared<TCP4ClientEndpoint>(net, destination.host, destination.port,
                                                      timeout, bind);
    }
    std::shared_ptr<Factory> factory =
        std::make_shared<Factory>([limits]() -> std::unique_ptr<Protocol> {
          return std::make_unique<HTTP11ClientProtocol>(limits);
        });
    if (context) {
      factory = std::make_shared<tls::TLSMemoryBIOFactory>(context, std::move(factory));
    }
    if (!tunnel) return asClientProtocol(endpoint->connect(std::move(factory)));
    HTTPTunnelEndpoint through(net, std::move(endpoint), *tunnel, headers, timeout, limits);
    return asClientProtocol(through.connect(std::move(factory)));
  };
}

Deferred<std::unique_ptr<Response>> Agent::request(std::string_view method, std::string_view url,
                                                   Headers headers,
                                                   std::shared_ptr<IBodyProducer> body) {
  using R = std::unique_ptr<Response>;
  try {
    if (!isToken(method))
      throw std::invalid_argument("invalid HTTP method: " + std::string(method));
    if (method == "CONNECT") {
      throw std::invalid_argument("Agent does not send CONNECT requests (use AgentOptions::proxy)");
    }
    const URL u = URL::parse(url);
    if (u.scheme != "http" && u.scheme != "https") {
      return fail<R>(SchemeNotSupported("unsupported scheme: " + u.scheme));
    }
    const bool secure = u.scheme == "https";
    auto context = secure ? tlsContext(u) : nullptr;

    ClientRequest req;
    req.method = std::string(method);
    req.target = u.path;
    req.body = std::move(body);
    req.persistent = pool_->persistent();
    req.absoluteURI = u.toString();
    if (!headers.hasHeader("Host")) req.headers.addRawHeader("Host", u.hostValue());
    for (const Headers::Field f : headers) req.headers.addRawHeader(f.name, f.value);

    std::string key;
    HTTPConnectionPool::Connect connect;
    if (!proxy_) {
      key = u.scheme + "://" + u.authority();
      connect = connector(u, std::nullopt, std::move(context));
    } else if (options_.proxyMode == ProxyMode::Forward && !secure) {
      key = "proxy:" + proxy_->authority();
      req.target = u.toString();
      for (const Headers::Field f : options_.proxyHeaders)
        req.headers.addRawHeader(f.name, f.value);
      connect = connector(*proxy_, std::nullopt, nullptr);
    } else {
      key = "tunnel:" + proxy_->authority() + ">" + u.scheme + "://" + u.authority();
      connect = connector(*proxy_, u.authority(), std::move(context));
    }
    return pool_->request(key, std::move(connect), std::move(req));
  } catch (...) {
    return fail<R>(Failure::current());
  }
}

}  // namespace torsion::web
