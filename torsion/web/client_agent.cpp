#include <stdexcept>
#include <utility>

#include "torsion/web/client.hpp"
#include "torsion/web/http_syntax.hpp"

namespace torsion::web {

namespace {

Deferred<HTTP11ClientProtocol*> asClientProtocol(Deferred<Protocol*> connected) {
  return connected.addCallback([](Protocol* p) {
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

HTTPConnectionPool::Connect Agent::connector(const URL& destination,
                                             std::optional<std::string> tunnel) {
  return [&net = net_, destination, tunnel = std::move(tunnel), timeout = options_.connectTimeout,
          bind = options_.bindAddress, limits = options_.limits, headers = options_.proxyHeaders,
          makeEndpoint = options_.endpointFactory]() {
    std::shared_ptr<IStreamClientEndpoint> endpoint;
    if (makeEndpoint) {
      endpoint = makeEndpoint(destination);
    } else {
      endpoint = std::make_shared<TCP4ClientEndpoint>(net, destination.host, destination.port,
                                                      timeout, bind);
    }
    auto factory = std::make_shared<Factory>([limits]() -> std::unique_ptr<Protocol> {
      return std::make_unique<HTTP11ClientProtocol>(limits);
    });
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
    if (u.scheme == "https") {
      return fail<R>(
          SchemeNotSupported("https is not supported yet: TLS is not available in torsion (" +
                             std::string(url) + ")"));
    }
    if (u.scheme != "http") return fail<R>(SchemeNotSupported("unsupported scheme: " + u.scheme));

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
      key = "http://" + u.authority();
      connect = connector(u, std::nullopt);
    } else if (options_.proxyMode == ProxyMode::Forward) {
      key = "proxy:" + proxy_->authority();
      req.target = u.toString();
      for (const Headers::Field f : options_.proxyHeaders)
        req.headers.addRawHeader(f.name, f.value);
      connect = connector(*proxy_, std::nullopt);
    } else {
      key = "tunnel:" + proxy_->authority() + ">" + u.authority();
      connect = connector(*proxy_, u.authority());
    }
    return pool_->request(key, std::move(connect), std::move(req));
  } catch (...) {
    return fail<R>(Failure::current());
  }
}

}  // namespace torsion::web
