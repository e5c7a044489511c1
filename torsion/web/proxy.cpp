#include "torsion/web/proxy.hpp"

#include "torsion/log/logger.hpp"
#include "torsion/net/network.hpp"
#include "torsion/net/port.hpp"
#include "torsion/web/http_parser.hpp"
#include "torsion/web/http_syntax.hpp"
#include "torsion/web/request.hpp"

namespace torsion::web {
namespace {

const Logger& log() {
  static const Logger logger("torsion.web.proxy");
  return logger;
}

bool hopByHop(std::string_view name, std::string_view connectionValue) {
  static constexpr std::string_view kFields[] = {
      "Connection",        "Keep-Alive",        "Proxy-Connection", "TE",
      "Trailer",           "Transfer-Encoding", "Upgrade",          "Proxy-Authorization",
      "Proxy-Authenticate"};
  for (auto f : kFields) {
    if (equalsIgnoreCase(name, f)) {
      return true;
    }
  }
  return listContains(connectionValue, name);
}

void badGateway(Request& request, std::string_view why) {
  if (request.finished()) {
    return;
  }
  if (request.startedWriting()) {
    if (auto* t = request.transport()) {
      t->loseConnection();  // half a response cannot be repaired
    }
    return;
  }
  std::string body = errorPageHtml(502, "Bad Gateway", why);
  request.setResponseCode(502);
  request.responseHeaders().clear();
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  request.setHeader("Content-Length", std::to_string(body.size()));
  request.write(body);
  request.finish();
}

// The upstream connection of one proxied request.
class ProxyClient final : public Protocol, private ResponseParser::Handler {
 public:
  ProxyClient(std::shared_ptr<Request> request, std::string head)
      : request_(std::move(request)), head_(std::move(head)), parser_(*this) {
    parser_.setRequestMethod(request_->method());
  }

  void connectionMade() override {
    if (request_->finished() || request_->transport() == nullptr) {
      transport->abortConnection();  // the client left while we connected
      return;
    }
    std::string_view pieces[] = {head_, request_->content()};
    transport->writeSequence(pieces);
    head_.clear();
    // The client's connection paces this one: a slow reader pauses the upstream.
    request_->registerProducer(*transport, true);
    registered_ = true;
    request_->notifyFinish().addErrback([this, alive = alive_](Failure) {
      if (*alive && transport != nullptr) {
        transport->abortConnection();
      }
    });
  }

  void dataReceived(std::string_view data) override {
    parser_.feed(data);
    if (parser_.failed()) {
      log().warn("Invalid response from upstream: {reason}",
                 {{"reason", std::string(parser_.error().reason)}});
      badGateway(*request_, "The upstream server sent an invalid response.");
      transport->abortConnection();
    }
  }

  void connectionLost(const Failure&) override {
    *alive_ = false;
    if (registered_ && request_->transport() != nullptr) {
      request_->unregisterProducer();
    }
    if (!done_) {
      if (parser_.feedEof() && done_) {
        return;
      }
      badGateway(*request_, "The upstream server closed the connection before it answered.");
    }
  }

 private:
  void onResponseHead(const ResponseHead& head) override {
    if (head.status < 200) {
      return;  // interim responses are not relayed
    }
    if (request_->finished() || request_->transport() == nullptr) {
      return;
    }
    request_->setResponseCode(head.status);
    std::string_view connection = findField(head.fields, "Connection");
    for (const auto& field : head.fields) {
      if (!hopByHop(field.name, connection) && !equalsIgnoreCase(field.name, "Date") &&
          !equalsIgnoreCase(field.name, "Server")) {
        request_->responseHeaders().addRawHeader(field.name, field.value);
      }
    }
    if (head.contentLength && !request_->responseHeaders().hasHeader("Content-Length")) {
      request_->setHeader("Content-Length", std::to_string(*head.contentLength));
    }
    started_ = true;
  }

  void onBody(std::string_view data) override {
    if (!request_->finished() && request_->transport() != nullptr) {
      request_->write(data);
    }
  }

  void onMessageComplete() override {
    if (!started_) {
      return;  // the end of an interim response
    }
    done_ = true;
    if (!request_->finished()) {
      request_->finish();
    }
    transport->loseConnection();
  }

  std::shared_ptr<Request> request_;
  std::string head_;
  ResponseParser parser_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool registered_ = false;
  bool started_ = false;
  bool done_ = false;
};

class ProxyClientFactory final : public ClientFactory {
 public:
  ProxyClientFactory(std::shared_ptr<Request> request, std::string head)
      : request_(std::move(request)), head_(std::move(head)) {}

  std::unique_ptr<Protocol> buildProtocol(const Address&) override {
    auto p = std::make_unique<ProxyClient>(request_, std::move(head_));
    p->factory = this;
    return p;
  }

  void clientConnectionFailed(IConnector&, const Failure& reason) override {
    log().info("Cannot reach the upstream server: {why}", {{"why", reason.getErrorMessage()}});
    badGateway(*request_, "The upstream server cannot be reached.");
  }

 private:
  std::shared_ptr<Request> request_;
  std::string head_;
};

}  // namespace

ReverseProxyResource::ReverseProxyResource(IReactorNet& net, std::string host, std::uint16_t port,
                                           std::string path)
    : net_(net), host_(std::move(host)), port_(port), path_(std::move(path)) {}

std::shared_ptr<Resource> ReverseProxyResource::getChild(std::string_view segment, Request&) {
  return std::make_shared<ReverseProxyResource>(
      net_, host_, port_, path_ + "/" + percentEncode(segment, "!$&'()*+,;=:@"));
}

RenderResult ReverseProxyResource::render(Request& request) {
  std::string target = path_.empty() ? "/" : path_;
  if (!request.query().empty()) {
    target += "?";
    target += request.query();
  }
  std::string head;
  head.append(request.method()).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  head.append(host_);
  if (port_ != 80) {
    head.append(":").append(std::to_string(port_));
  }
  head.append("\r\n");
  std::string_view connection = request.getHeader("Connection").value_or("");
  std::string forwardedFor;
  for (auto [name, value] : request.requestHeaders()) {
    if (equalsIgnoreCase(name, "Host") || equalsIgnoreCase(name, "Content-Length") ||
        hopByHop(name, connection)) {
      continue;
    }
    if (equalsIgnoreCase(name, "X-Forwarded-For")) {
      forwardedFor.append(value).append(", ");
      continue;
    }
    head.append(name).append(": ").append(value).append("\r\n");
  }
  forwardedFor.append(request.getClientAddress().host());
  head.append("X-Forwarded-For: ").append(forwardedFor).append("\r\n");
  if (!request.content().empty() || request.method() == "POST" || request.method() == "PUT") {
    head.append("Content-Length: ").append(std::to_string(request.content().size())).append("\r\n");
  }
  head.append("Connection: close\r\n\r\n");
  auto factory = std::make_shared<ProxyClientFactory>(request.shared(), std::move(head));
  net_.connectTCP(host_, port_, factory);
  return notDoneYet;
}

}  // namespace torsion::web
