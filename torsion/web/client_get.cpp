#include <utility>

#include "torsion/web/client.hpp"

namespace torsion::web {

namespace {

constexpr std::size_t kErrorBodyMax = 64 * 1024;

// The body of a 2xx response, or HTTPError for another status. The agents live in this frame
// until the exchange is over.
Deferred<std::string> fetch(IReactorNet& net, std::string method, std::string url,
                            std::shared_ptr<IBodyProducer> body, RequestOptions options) {
  std::optional<Agent> own;
  IAgent* base = options.agent;
  if (base == nullptr) {
    AgentOptions agentOptions = std::move(options.agentOptions);
    if (!agentOptions.pool) {
      agentOptions.pool = HTTPConnectionPool::create(net, PoolOptions{.persistent = false});
    }
    own.emplace(net, std::move(agentOptions));
    base = &*own;
  }
  RedirectAgent agent(*base, options.maxRedirects);
  std::unique_ptr<Response> response =
      co_await agent.request(method, url, std::move(options.headers), std::move(body));
  const int code = response->code;
  if (code < 200 || code > 299) {
    std::string phrase = response->phrase;
    std::string errorBody;
    try {
      errorBody =
          co_await readBody(std::move(response), options.maxBodySize.value_or(kErrorBodyMax));
    } catch (const PartialDownloadError& e) {
      errorBody = e.body();
    } catch (const CancelledError&) {
      throw;
    } catch (const std::exception&) {
      // The status is the news; a body that could not be read adds nothing.
    }
    throw HTTPError(code, phrase, std::move(errorBody));
  }
  try {
    co_return co_await readBody(std::move(response), options.maxBodySize);
  } catch (const PartialDownloadError& e) {
    // treq's choice: a body delimited by the end of the connection is the body.
    co_return e.body();
  }
}

Deferred<std::string> withTimeout(IReactorNet& net, Deferred<std::string> d, Seconds timeout) {
  if (timeout <= Seconds(0)) return d;
  return d.addTimeout(timeout, net);
}

}  // namespace

Deferred<std::string> get(IReactorNet& net, std::string url, RequestOptions options) {
  const Seconds timeout = options.timeout;
  return withTimeout(net, fetch(net, "GET", std::move(url), nullptr, std::move(options)), timeout);
}

Deferred<std::string> post(IReactorNet& net, std::string url, std::string body,
                           std::string contentType, RequestOptions options) {
  const Seconds timeout = options.timeout;
  if (!options.headers.hasHeader("Content-Type")) {
    options.headers.setHeader("Content-Type", contentType);
  }
  return withTimeout(
      net,
      fetch(net, "POST", std::move(url), std::make_shared<StringBodyProducer>(std::move(body)),
            std::move(options)),
      timeout);
}

}  // namespace torsion::web
