#include "torsion/web/channel.hpp"

#include <cstdio>
#include <ctime>

#include "torsion/log/logger.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/web/server.hpp"

namespace torsion::web {

namespace {

// Responses gathered during one read are copied up to this size; a larger write goes out at
// once (behind what was gathered).
constexpr std::size_t kGatherLimit = 16 * 1024;

const Logger& log() {
  static const Logger logger("torsion.web.server");
  return logger;
}

bool isFormBody(const Request& r) {
  auto type = r.getHeader("Content-Type");
  return type && type->substr(0, 33) == "application/x-www-form-urlencoded";
}

}  // namespace

// The parts of Request the channel fills in (request.cpp defines the rest).
struct Request::Internal {
  // A new request, or `spare` made ready again when nothing else holds it (its strings and
  // header buffers keep their capacity, so a keep-alive connection allocates little).
  static std::shared_ptr<Request> make(HTTPChannel* channel, Site* site,
                                       std::shared_ptr<Request>& spare) {
    if (spare && spare.use_count() == 1) {
      Request& r = *spare;
      r.channel_ = channel;
      r.method_.clear();
      r.uri_.clear();
      r.path_.clear();
      r.query_.clear();
      r.versionMinor_ = 1;
      r.keepAlive_ = true;
      r.head_ = false;
      r.requestHeaders_.clear();
      r.args_.clear();
      r.content_.clear();
      r.prepath_.clear();
      r.postpath_.clear();
      r.bodyReceiver_ = nullptr;
      r.pendingBody_.clear();
      r.bodyDone_ = false;
      r.code_ = 200;
      r.message_.clear();
      r.responseHeaders_.clear();
      r.pendingHead_.clear();
      r.startedWriting_ = false;
      r.finished_ = false;
      r.chunked_ = false;
      r.closeAfter_ = false;
      r.bytesSent_ = 0;
      r.finishWaiters_.clear();
      r.lost_.reset();
      r.session_.reset();
      return std::move(spare);
    }
    spare.reset();
    return std::shared_ptr<Request>(new Request(channel, site));
  }
  static void fill(Request& r, const RequestHead& head) {
    r.method_.assign(head.method);
    r.uri_.assign(head.target);
    std::string_view target = head.target;
    if (head.targetForm == TargetForm::Absolute) {
      // "http://host/path?q": the path starts at the first "/" after "://".
      auto scheme = target.find("://");
      auto slash = target.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    } else if (head.targetForm != TargetForm::Origin) {
      target = std::string_view();  // "*" or an authority: no path
    }
    auto q = target.find('?');
    r.path_.assign(target.substr(0, q));
    r.query_.assign(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
    r.versionMinor_ = head.versionMinor;
    r.keepAlive_ = head.keepAlive;
    r.head_ = head.method == "HEAD";
    for (const auto& field : head.fields) {
      r.requestHeaders_.addParsedHeader(field.name, field.value);  // the parser checked them
    }
    if (!r.query_.empty()) {
      parseQueryArgs(r.query_, r.args_);
    }
  }
  static std::string& content(Request& r) { return r.content_; }
  static Request::Args& args(Request& r) { return r.args_; }
  static void deliverBody(Request& r, std::string_view data) {
    if (r.bodyReceiver_ != nullptr) {
      r.bodyReceiver_->bodyDataReceived(data);
    } else {
      r.pendingBody_.append(data);
    }
  }
  static void bodyComplete(Request& r) {
    r.bodyDone_ = true;
    if (r.bodyReceiver_ != nullptr) {
      auto* receiver = std::exchange(r.bodyReceiver_, nullptr);
      receiver->bodyComplete();
    }
  }
  static void lost(Request& r, const Failure& reason) { r.connectionLost(reason); }
  static bool keepAlive(const Request& r) { return r.keepAlive_ && !r.closeAfter_; }
  static std::uint64_t bytesSent(const Request& r) { return r.bytesSent_; }
};

HTTPChannel::HTTPChannel(Site& site) : site_(site), parser_(*this, site.options().limits) {}

HTTPChannel::~HTTPChannel() { cancelTimers(); }

void HTTPChannel::connectionMade() {
  if (site_.options().tcpNoDelay) {
    transport->setTcpNoDelay(true);
  }
  armIdleTimer();
}

void HTTPChannel::cancelTimers() {
  if (idleCall_.active()) idleCall_.cancel();
  if (headerCall_.active()) headerCall_.cancel();
}

void HTTPChannel::armIdleTimer() {
  if (headerCall_.active()) headerCall_.cancel();
  if (idleCall_.active()) {
    idleCall_.reset(site_.options().idleTimeout);
    return;
  }
  // The timers capture `this`: they are cancelled in connectionLost and the destructor.
  idleCall_ = site_.clock().callLater(site_.options().idleTimeout, [this] { closeConnection(); });
}

void HTTPChannel::armHeaderTimer() {
  if (idleCall_.active()) idleCall_.cancel();
  if (headerCall_.active()) {
    return;  // not pushed back by more bytes: a slow head must finish in time
  }
  headerCall_ = site_.clock().callLater(site_.options().headerTimeout, [this] {
    if (transport != nullptr) {
      respondError(408, "the request head took too long");
    }
  });
}

void HTTPChannel::dataReceived(std::string_view data) {
  if (closing_) {
    return;
  }
  if (current_ && messageComplete_) {
    holdPipelined(data);  // the parser waits for the current response
  } else {
    process(data);
  }
}

void HTTPChannel::holdPipelined(std::string_view data) {
  pending_.append(data);
  if (pending_.size() > site_.options().maxPipelinedBytes && !readingPaused_) {
    readingPaused_ = true;
    transport->pauseProducing();
  }
}

void HTTPChannel::process(std::string_view data) {
  if (gathering_) {
    feed(data);
    return;
  }
  gathering_ = true;
  feed(data);
  gathering_ = false;
  flushOutput();
}

void HTTPChannel::feed(std::string_view data) {
  inFeed_ = true;
  std::size_t used = parser_.feed(data);
  inFeed_ = false;
  if (closing_ || transport == nullptr) {
    return;
  }
  if (parser_.failed()) {
    const ParseError& error = parser_.error();
    respondError(error.status, error.reason);
    return;
  }
  if (used < data.size()) {
    // Paused after a complete request whose response is unfinished.
    holdPipelined(data.substr(used));
    return;
  }
  if (!current_) {
    if (parser_.phase() == Phase::Head) {
      armHeaderTimer();
    } else if (parser_.phase() == Phase::Idle) {
      armIdleTimer();
    }
  }
}

void HTTPChannel::onRequestHead(const RequestHead& head) {
  if (headerCall_.active()) headerCall_.cancel();
  if (idleCall_.active()) idleCall_.cancel();
  current_ = Request::Internal::make(this, &site_, spare_);
  messageComplete_ = false;
  Request& r = *current_;
  Request::Internal::fill(r, head);
  resource_ = site_.getResourceFor(r);
  streaming_ = resource_->streamsRequestBody(r);
  bool hasBody = head.framing != BodyFraming::None &&
                 !(head.framing == BodyFraming::ContentLength && head.contentLength == 0);
  if (!streaming_ && head.contentLength && *head.contentLength > site_.options().maxRequestBody) {
    current_.reset();
    respondError(413, "the request body is larger than this server accepts");
    parser_.pause();
    return;
  }
  if (head.expectContinue && hasBody) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    send(kContinue, {});
  }
  if (streaming_) {
    render();
  }
}

void HTTPChannel::onBody(std::string_view data) {
  if (!current_ || closing_) {
    return;
  }
  if (streaming_) {
    Request::Internal::deliverBody(*current_, data);
    return;
  }
  std::string& content = Request::Internal::content(*current_);
  if (content.size() + data.size() > site_.options().maxRequestBody) {
    current_.reset();
    respondError(413, "the request body is larger than this server accepts");
    parser_.pause();
    return;
  }
  content.append(data);
}

void HTTPChannel::onMessageComplete() {
  if (!current_ || closing_) {
    return;
  }
  messageComplete_ = true;
  auto request = current_;  // render() may finish it, which releases current_
  if (streaming_) {
    Request::Internal::bodyComplete(*request);
  } else {
    if (!request->content().empty() && isFormBody(*request)) {
      parseQueryArgs(request->content(), Request::Internal::args(*request));
    }
    render();
  }
  if (current_ == request && !request->finished()) {
    parser_.pause();  // the next request waits for this response
  }
}

void HTTPChannel::render() {
  auto request = current_;
  auto resource = resource_;
  auto failed = [request](const Failure& failure) {
    log().failure("Exception rendering {uri}", failure, LogLevel::error,
                  {{"uri", std::string(request->uri())}});
    if (request->finished() || request->transport() == nullptr) {
      return;
    }
    if (request->startedWriting()) {
      // Half a response cannot be taken back: the client sees the connection close.
      request->transport()->loseConnection();
      return;
    }
    request->setResponseCode(500);
    request->responseHeaders().clear();
    request->setHeader("Content-Type", "text/html; charset=utf-8");
    std::string detail = "An error occurred while processing this request.";
    if (request->site().options().displayTracebacks) {
      detail = failure.getErrorMessage();
    }
    std::string body = errorPageHtml(500, "Request did not complete successfully", detail);
    request->setHeader("Content-Length", std::to_string(body.size()));
    request->write(body);
    request->finish();
  };
  std::optional<RenderResult> result;
  try {
    result.emplace(resource->render(*request));
  } catch (...) {
    failed(Failure::current());
    return;
  }
  auto& value = result->value();
  if (auto* body = std::get_if<std::string>(&value)) {
    if (request->finished()) {
      return;
    }
    if (!request->startedWriting()) {
      request->setHeader("Content-Length", std::to_string(body->size()));
    }
    request->write(*body);
    request->finish();
  } else if (auto* later = std::get_if<Deferred<std::string>>(&value)) {
    later->addCallbacks(
        [request](std::string body) {
          if (request->finished()) {
            return;
          }
          if (!request->startedWriting()) {
            request->setHeader("Content-Length", std::to_string(body.size()));
          }
          request->write(body);
          request->finish();
        },
        [failed](Failure f) { failed(f); });
  } else if (auto* done = std::get_if<Deferred<void>>(&value)) {
    done->addCallbacks(
        [request]() {
          if (!request->finished()) {
            request->finish();
          }
        },
        [failed](Failure f) { failed(f); });
  }
  // notDoneYet: the resource finishes the request itself.
}

void HTTPChannel::send(std::string_view head, std::string_view body) {
  std::string_view pieces[] = {head, body};
  output(pieces);
}

void HTTPChannel::sendChunk(std::string_view data) {
  if (data.empty()) {
    return;
  }
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string_view pieces[] = {std::string_view(size, static_cast<std::size_t>(n)), data, "\r\n"};
  output(pieces);
}

void HTTPChannel::output(std::span<const std::string_view> pieces) {
  if (transport == nullptr) {
    return;
  }
  std::size_t size = 0;
  for (auto piece : pieces) {
    size += piece.size();
  }
  if (gathering_ && out_.size() + size <= kGatherLimit) {
    for (auto piece : pieces) {
      out_.append(piece);
    }
    return;
  }
  // Not gathering, or too big to copy: what was gathered goes first, in the same write.
  std::string_view all[4];
  std::size_t count = 0;
  if (!out_.empty()) {
    all[count++] = out_;
  }
  for (auto piece : pieces) {
    if (!piece.empty()) {
      all[count++] = piece;
    }
  }
  if (count == 1) {
    transport->write(all[0]);
  } else if (count > 1) {
    transport->writeSequence(std::span<const std::string_view>(all, count));
  }
  out_.clear();
}

void HTTPChannel::flushOutput() {
  if (out_.empty()) {
    return;
  }
  if (transport != nullptr) {
    transport->write(out_);
  }
  out_.clear();
}

void HTTPChannel::closeConnection() {
  flushOutput();
  if (transport != nullptr) {
    transport->loseConnection();
  }
}

void HTTPChannel::requestFinished(Request& request) {
  writeAccessLog(request);
  if (current_.get() != &request) {
    return;
  }
  bool keepAlive = Request::Internal::keepAlive(request) && messageComplete_;
  spare_ = std::move(current_);
  resource_.reset();
  if (!keepAlive) {
    closing_ = true;
    cancelTimers();
    closeConnection();
    return;
  }
  messageComplete_ = false;
  if (readingPaused_) {
    readingPaused_ = false;
    transport->resumeProducing();
  }
  if (inFeed_) {
    return;  // finished inside a parser callback: the parser goes on by itself
  }
  std::string held = std::move(pending_);
  pending_.clear();
  process(held);
}

void HTTPChannel::respondError(int status, std::string_view reason) {
  if (closing_ || transport == nullptr) {
    return;
  }
  closing_ = true;
  cancelTimers();
  std::string body = errorPageHtml(status, reasonPhrase(status), reason);
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " +
                     std::string(reasonPhrase(status)) +
                     "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  send(head, body);
  closeConnection();
}

void HTTPChannel::connectionLost(const Failure& reason) {
  cancelTimers();
  out_.clear();
  closing_ = true;
  if (current_) {
    auto request = std::move(current_);
    Request::Internal::lost(*request, reason);
  }
  resource_.reset();
}

void HTTPChannel::pauseProducing() {
  if (!bodyPaused_ && transport != nullptr) {
    bodyPaused_ = true;
    transport->pauseProducing();
  }
}

void HTTPChannel::resumeProducing() {
  if (bodyPaused_ && transport != nullptr) {
    bodyPaused_ = false;
    transport->resumeProducing();
  }
}

void HTTPChannel::stopProducing() { closeConnection(); }

void HTTPChannel::writeAccessLog(const Request& r) {
  const auto& logLine = site_.options().accessLog;
  if (!logLine) {
    return;
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char when[40];
  std::strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  auto quoted = [](std::optional<std::string_view> v) {
    std::string out = "\"";
    for (char c : v.value_or("-")) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    return out + "\"";
  };
  std::string client = "-";
  if (transport != nullptr) {
    client = transport->getPeer().host();
  }
  std::uint64_t sent = Request::Internal::bytesSent(r);
  std::string line = client + " - - [" + when + "] \"" + std::string(r.method()) + " " +
                     std::string(r.uri()) + " " + std::string(r.clientproto()) + "\" " +
                     std::to_string(r.code()) + " " + (sent ? std::to_string(sent) : "-") + " " +
                     quoted(r.getHeader("Referer")) + " " + quoted(r.getHeader("User-Agent"));
  logLine(line);
}

}  // namespace torsion::web
