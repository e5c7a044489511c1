#include <array>
#include <utility>

#include "torsion/web/client.hpp"

namespace torsion::web {

namespace {

// Fields a redirect to another origin must not carry (Twisted's _sensitiveHeaderNames, plus
// Host, which named the old origin).
constexpr std::array<std::string_view, 6> kSensitive = {
    "Authorization", "Cookie", "Cookie2", "Proxy-Authorization", "WWW-Authenticate", "Host"};

bool sameOrigin(std::string_view a, std::string_view b) {
  try {
    const URL x = URL::parse(a);
    const URL y = URL::parse(b);
    return x.scheme == y.scheme && x.host == y.host && x.port == y.port;
  } catch (const InvalidURL&) {
    return false;
  }
}

// Reads a redirect's body to its end and throws it away, so that its connection serves the
// next request; a long one is cut (the connection is closed) instead. Fires at the end,
// however it ended.
class Drain final : public BodyReceiver {
 public:
  explicit Drain(Deferred<void> done) : done_(std::move(done)) {}
  void dataReceived(std::string_view data) override {
    seen_ += data.size();
    if (seen_ > HTTP11ClientProtocol::kMaxDiscardBytes && producer != nullptr) {
      producer->stopProducing();
    }
  }
  void connectionLost(const Failure&) override {
    if (!done_.called()) done_.callback();
  }

 private:
  Deferred<void> done_;
  std::size_t seen_ = 0;
};

Deferred<void> drain(Response& response) {
  Deferred<void> done;
  response.deliverBody(std::make_unique<Drain>(done));
  return done;
}

}  // namespace

RedirectAgent::RedirectAgent(IAgent& agent, int redirectLimit)
    : RedirectAgent(agent, redirectLimit, false) {}

RedirectAgent::RedirectAgent(IAgent& agent, int redirectLimit, bool browserLike)
    : agent_(agent), redirectLimit_(redirectLimit), browserLike_(browserLike) {}

Deferred<std::unique_ptr<Response>> RedirectAgent::request(std::string_view method,
                                                           std::string_view url, Headers headers,
                                                           std::shared_ptr<IBodyProducer> body) {
  return agent_.request(method, url, headers, std::move(body))
      .addCallback([this, method = std::string(method), url = std::string(url),
                    headers](std::unique_ptr<Response> r) mutable {
        return handleResponse(std::move(r), std::move(method), std::move(url), std::move(headers),
                              0);
      });
}

Deferred<std::unique_ptr<Response>> RedirectAgent::handleResponse(
    std::unique_ptr<Response> response, std::string method, std::string url, Headers headers,
    int redirects) {
  const int code = response->code;
  const bool keepMethod = browserLike_ ? (code == 307 || code == 308)
                                       : (code == 301 || code == 302 || code == 307 || code == 308);
  const bool toGet = browserLike_ ? (code == 301 || code == 302 || code == 303) : code == 303;
  if (!keepMethod && !toGet) return succeed(std::move(response));

  if (keepMethod && method != "GET" && method != "HEAD") {
    response->discardBody();
    throw ResponseFailed({Failure(PageRedirect(code, url))}, std::move(response));
  }
  if (redirects >= redirectLimit_) {
    response->discardBody();
    throw ResponseFailed({Failure(InfiniteRedirection(code, url))}, std::move(response));
  }
  const std::vector<std::string_view> locations = response->headers.getRawHeaders("Location");
  if (locations.empty()) {
    response->discardBody();
    throw ResponseFailed({Failure(RedirectWithNoLocation(code, url))}, std::move(response));
  }
  std::string location = resolveURL(url, locations.front());
  if (!sameOrigin(url, location)) {
    for (std::string_view name : kSensitive) headers.removeHeader(name);
  }
  std::string nextMethod = toGet ? "GET" : method;
  // The next request waits for the end of this response's body, which frees its connection
  // for it (a same-origin redirect then costs no new connection).
  Deferred<void> drained = drain(*response);
  std::shared_ptr<Response> previous = std::move(response);
  return drained
      .addCallback([this, nextMethod, location, headers]() {
        return agent_.request(nextMethod, location, headers);
      })
      .addCallback([this, previous, nextMethod = std::move(nextMethod),
                    location = std::move(location), headers = std::move(headers),
                    redirects](std::unique_ptr<Response> next) mutable {
        next->previousResponse = previous;
        return handleResponse(std::move(next), std::move(nextMethod), std::move(location),
                              std::move(headers), redirects + 1);
      });
}

}  // namespace torsion::web
