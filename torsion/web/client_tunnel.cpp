#include "torsion/web/client_tunnel.hpp"

#include <utility>

#include "torsion/net/errors.hpp"
#include "torsion/web/client_errors.hpp"

namespace torsion::web {

namespace {

class TunnelProtocol;

// One connect(): shared by the endpoint's callbacks and the protocol on the proxy connection.
struct TunnelAttempt {
  Deferred<Protocol*> result = nullptr;
  // The connection to the proxy (its callbacks hold this attempt until it fired).
  Deferred<Protocol*> connecting = nullptr;
  TunnelProtocol* proto = nullptr;
};

class TunnelProtocol final : public Protocol, private ResponseParser::Handler {
 public:
  TunnelProtocol(std::shared_ptr<TunnelAttempt> attempt, IReactorTime& clock, std::string authority,
                 Headers headers, Seconds timeout, std::shared_ptr<Factory> factory,
                 const Limits& limits)
      : attempt_(std::move(attempt)),
        clock_(clock),
        authority_(std::move(authority)),
        headers_(std::move(headers)),
        timeout_(timeout),
        factory_(std::move(factory)),
        parser_(*this, limits) {
    parser_.setRequestMethod("CONNECT");
  }

  ~TunnelProtocol() override {
    if (attempt_->proto == this) attempt_->proto = nullptr;
    if (timer_.active()) timer_.cancel();
  }

  void connectionMade() override {
    attempt_->proto = this;
    std::string out = "CONNECT " + authority_ + " HTTP/1.1\r\nHost: " + authority_ + "\r\n";
    headers_.serialize(out);
    out += "\r\n";
    transport->write(out);
    timer_ = clock_.callLater(timeout_, [this] {
      failWith(Failure(ConnectTimeoutError()));
      transport->abortConnection();
    });
  }

  void dataReceived(std::string_view data) override {
    if (inner_) {
      inner_->dataReceived(data);
      return;
    }
    if (done_) return;
    const std::size_t n = parser_.feed(data);
    if (parser_.failed()) {
      failWith(
          Failure(ProxyConnectError(0, "invalid answer from the proxy to CONNECT " + authority_ +
                                           ": " + std::string(parser_.error().reason))));
      transport->abortConnection();
      return;
    }
    if (status_ >= 300) {
      failWith(Failure(ProxyConnectError(status_, "the proxy refused CONNECT " + authority_ + ": " +
                                                      std::to_string(status_) + " " + reason_)));
      transport->loseConnection();
      return;
    }
    if (parser_.phase() == Phase::Upgraded) establish(data.substr(n));
  }

  void connectionLost(const Failure& reason) override {
    if (timer_.active()) timer_.cancel();
    if (inner_) {
      inner_->connectionLost(reason);
      return;
    }
    failWith(
        Failure(ProxyConnectError(0, "the proxy connection ended before the tunnel to " +
                                         authority_ + " was open: " + reason.getErrorMessage())));
  }

  // The caller cancelled: drop the connection; the Deferred fails with CancelledError.
  void abortAttempt() {
    done_ = true;
    if (timer_.active()) timer_.cancel();
    if (connected) transport->abortConnection();
  }

 private:
  void onResponseHead(const ResponseHead& head) override {
    if (head.status < 200) return;  // interim
    status_ = head.status;
    reason_ = std::string(head.reason);
    if (status_ >= 300) parser_.pause();
  }
  void onBody(std::string_view) override {}
  void onMessageComplete() override {}

  void establish(std::string_view leftover) {
    if (timer_.active()) timer_.cancel();
    if (done_ || attempt_->result.called()) {
      transport->abortConnection();
      return;
    }
    std::unique_ptr<Protocol> p;
    try {
      p = factory_->buildProtocol(transport->getPeer());
    } catch (...) {
      failWith(Failure::current());
      transport->abortConnection();
      return;
    }
    if (!p) {
      failWith(Failure(NoProtocolError()));
      transport->loseConnection();
      return;
    }
    done_ = true;
    inner_ = std::move(p);
    inner_->makeConnection(*transport);
    Deferred<Protocol*> result = attempt_->result;
    result.callback(inner_.get());
    if (!leftover.empty() && inner_->connected) inner_->dataReceived(leftover);
  }

  void failWith(const Failure& f) {
    if (done_) return;
    done_ = true;
    Deferred<Protocol*> result = attempt_->result;
    if (!result.called()) result.errback(f);
  }

  std::shared_ptr<TunnelAttempt> attempt_;
  IReactorTime& clock_;
  std::string authority_;
  Headers headers_;
  Seconds timeout_;
  std::shared_ptr<Factory> factory_;
  ResponseParser parser_;
  DelayedCall timer_;
  std::unique_ptr<Protocol> inner_;
  int status_ = 0;
  std::string reason_;
  bool done_ = false;
};

}  // namespace

HTTPTunnelEndpoint::HTTPTunnelEndpoint(IReactorTime& clock,
                                       std::shared_ptr<IStreamClientEndpoint> proxy,
                                       std::string authority, Headers proxyHeaders, Seconds timeout,
                                       Limits limits)
    : clock_(clock),
      proxy_(std::move(proxy)),
      authority_(std::move(authority)),
      proxyHeaders_(std::move(proxyHeaders)),
      timeout_(timeout),
      limits_(limits) {}

Deferred<Protocol*> HTTPTunnelEndpoint::connect(std::shared_ptr<Factory> factory) {
  auto attempt = std::make_shared<TunnelAttempt>();
  std::weak_ptr<TunnelAttempt> weak = attempt;
  attempt->result = Deferred<Protocol*>([weak](Deferred<Protocol*>&) {
    auto a = weak.lock();
    if (!a) return;
    if (a->connecting && !a->connecting.called()) {
      Deferred<Protocol*> c = a->connecting;
      c.cancel();
    } else if (a->proto != nullptr) {
      a->proto->abortAttempt();
    }
  });
  Deferred<Protocol*> result = attempt->result;
  auto tunnelFactory = std::make_shared<Factory>(
      [attempt, &clock = clock_, authority = authority_, headers = proxyHeaders_,
       timeout = timeout_, factory = std::move(factory), limits = limits_]() {
        return std::make_unique<TunnelProtocol>(attempt, clock, authority, headers, timeout,
                                                factory, limits);
      });
  attempt->connecting = proxy_->connect(std::move(tunnelFactory));
  // These callbacks hold the attempt until the connection is made or has failed (the
  // endpoint always fires); the protocol holds it from then on.
  attempt->connecting.addCallbacks([attempt](Protocol*) {},
                                   [attempt](const Failure& f) {
                                     if (!attempt->result.called()) attempt->result.errback(f);
                                   });
  return result;
}

}  // namespace torsion::web
