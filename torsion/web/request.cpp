#include "torsion/web/request.hpp"

#include <ctime>
#include <stdexcept>

#include "torsion/net/errors.hpp"
#include "torsion/net/transport.hpp"
#include "torsion/tls/tls_protocol.hpp"
#include "torsion/web/channel.hpp"
#include "torsion/web/http_syntax.hpp"
#include "torsion/web/server.hpp"

namespace torsion::web {
namespace {

// The Date header's value, made at most once per second per thread.
std::string_view currentDate() {
  thread_local std::time_t cachedAt = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cachedAt) {
    cachedAt = now;
    cached = httpDate(std::chrono::system_clock::from_time_t(now));
  }
  return cached;
}

bool bodyAllowed(int code) { return !(code == 204 || code == 304 || (code >= 100 && code < 200)); }

}  // namespace

Request::Request(HTTPChannel* channel, Site* site) : channel_(channel), site_(site) {}

Request::~Request() = default;

std::string_view Request::clientproto() const noexcept {
  return versionMinor_ == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

std::optional<std::string_view> Request::getCookie(std::string_view name) const {
  for (auto header : requestHeaders_.getRawHeaders("Cookie")) {
    while (!header.empty()) {
      auto semi = header.find(';');
      std::string_view pair = header.substr(0, semi);
      header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        return pair.substr(eq + 1);
      }
    }
  }
  return std::nullopt;
}

Address Request::getClientAddress() const {
  if (auto* t = connection()) {
    return t->getPeer();
  }
  return Address::ip("0.0.0.0", 0);
}

Address Request::getHost() const {
  if (auto* t = connection()) {
    return t->getHost();
  }
  return Address::ip("0.0.0.0", 0);
}

std::string Request::getRequestHostname() const {
  if (auto host = getHeader("Host")) {
    std::string_view h = *host;
    if (!h.empty() && h.front() == '[') {
      auto close = h.find(']');
      return std::string(h.substr(1, close == std::string_view::npos ? h.size() : close - 1));
    }
    return std::string(h.substr(0, h.find(':')));
  }
  return getHost().host();
}

bool Request::isSecure() const noexcept {
  if (channel_ == nullptr || lost_ || channel_->transport == nullptr) return false;
  return dynamic_cast<const tls::ISSLTransport*>(channel_->transport) != nullptr;
}

std::string Request::prePathURL() const {
  std::string url = isSecure() ? "https://" : "http://";
  if (auto host = getHeader("Host")) {
    url.append(*host);
  } else {
    url.append(getHost().host());
  }
  for (const auto& segment : prepath_) {
    url += '/';
    url += segment;
  }
  if (prepath_.empty()) {
    url += '/';
  }
  return url;
}

void Request::receiveBody(RequestBodyReceiver& receiver) {
  if (lost_) {
    receiver.bodyFailed(*lost_);
    return;
  }
  if (!pendingBody_.empty()) {
    std::string held = std::move(pendingBody_);
    pendingBody_.clear();
    receiver.bodyDataReceived(held);
  }
  if (bodyDone_) {
    receiver.bodyComplete();
    return;
  }
  bodyReceiver_ = &receiver;
}

// Forwards to the connection while there is one: a resource may keep the producer (inside
// the request it holds) past the connection's end, when pausing it does nothing.
void Request::BodyProducer::pauseProducing() {
  if (request_.channel_ != nullptr) request_.channel_->pauseProducing();
}
void Request::BodyProducer::resumeProducing() {
  if (request_.channel_ != nullptr) request_.channel_->resumeProducing();
}
void Request::BodyProducer::stopProducing() {
  if (request_.channel_ != nullptr) request_.channel_->stopProducing();
}

void Request::setResponseCode(int code, std::string_view message) {
  if (startedWriting_) {
    throw std::logic_error("Request::setResponseCode after the response started");
  }
  if (code < 100 || code > 999) {
    throw std::invalid_argument("Request::setResponseCode: invalid status " + std::to_string(code));
  }
  if (!message.empty() && !isFieldValue(message)) {
    throw std::invalid_argument("Request::setResponseCode: invalid reason phrase");
  }
  code_ = code;
  message_.assign(message);
}

void Request::addCookie(std::string_view name, std::string_view value,
                        const CookieOptions& options) {
  std::string cookie;
  cookie.append(name).append("=").append(value);
  if (options.expires) cookie.append("; Expires=").append(*options.expires);
  if (options.maxAge) cookie.append("; Max-Age=").append(std::to_string(*options.maxAge));
  if (!options.domain.empty()) cookie.append("; Domain=").append(options.domain);
  if (!options.path.empty()) cookie.append("; Path=").append(options.path);
  if (options.secure) cookie.append("; Secure");
  if (options.httpOnly) cookie.append("; HttpOnly");
  if (!options.sameSite.empty()) cookie.append("; SameSite=").append(options.sameSite);
  responseHeaders_.addRawHeader("Set-Cookie", cookie);  // refuses CR/LF and control bytes
}

void Request::redirect(std::string_view url) {
  setResponseCode(302);
  setHeader("Location", url);
}

CacheState Request::setLastModified(std::chrono::system_clock::time_point when) {
  auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(when);
  setHeader("Last-Modified", httpDate(seconds));
  // If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
  if (getHeader("If-None-Match")) {
    return CacheState::fresh;
  }
  if (auto since = getHeader("If-Modified-Since")) {
    auto parsed = parseHttpDate(*since);
    if (parsed && seconds <= *parsed && (method_ == "GET" || method_ == "HEAD")) {
      setResponseCode(304);
      return CacheState::cached;
    }
  }
  return CacheState::fresh;
}

CacheState Request::setETag(std::string_view etag) {
  setHeader("ETag", etag);
  if (auto match = getHeader("If-None-Match")) {
    std::string_view list = *match;
    auto weakless = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
    bool found = false;
    while (!list.empty()) {
      auto comma = list.find(',');
      std::string_view tag = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
      while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
      if (tag == "*" || weakless(tag) == weakless(etag)) {
        found = true;
        break;
      }
    }
    if (found) {
      setResponseCode(method_ == "GET" || method_ == "HEAD" ? 304 : 412);
      return CacheState::cached;
    }
  }
  return CacheState::fresh;
}

void Request::sendHeaders() {
  startedWriting_ = true;
  // Built in pendingHead_, whose capacity a reused Request keeps: no allocation per response.
  std::string& head = pendingHead_;
  head.clear();
  head.append("HTTP/1.1 ").append(std::to_string(code_)).append(" ");
  head.append(message_.empty() ? reasonPhrase(code_) : std::string_view(message_));
  head.append("\r\nDate: ").append(currentDate()).append("\r\n");
  const std::string& server = site_->options().serverName;
  if (!server.empty() && !responseHeaders_.hasHeader("Server")) {
    head.append("Server: ").append(server).append("\r\n");
  }
  bool hasLength = responseHeaders_.hasHeader("Content-Length");
  if (!bodyAllowed(code_)) {
    responseHeaders_.removeHeader("Content-Length");
    responseHeaders_.removeHeader("Transfer-Encoding");
  } else if (!hasLength) {
    if (head_) {
      // A HEAD response without a length says nothing about the body; fine.
    } else if (versionMinor_ >= 1) {
      chunked_ = true;
      responseHeaders_.setHeader("Transfer-Encoding", "chunked");
    } else {
      closeAfter_ = true;  // HTTP/1.0: the body ends when the connection closes
    }
  }
  if (channel_ != nullptr && !channel_->requestBodyComplete() && !bodyDone_) {
    // Answered before the body was read: the rest of it cannot be told from the next request.
    closeAfter_ = true;
  }
  if (responseHeaders_.hasHeader("Connection")) {
    auto value = *responseHeaders_.getHeader("Connection");
    if (listContains(value, "close")) {
      closeAfter_ = true;
    }
  } else if (!keepAlive_ || closeAfter_) {
    head.append("Connection: close\r\n");
  } else if (versionMinor_ == 0) {
    head.append("Connection: keep-alive\r\n");
  }
  responseHeaders_.serialize(head);
  head.append("\r\n");
}

void Request::flushHead(std::string_view body) {
  channel_->send(pendingHead_, body);
  pendingHead_.clear();
}

void Request::write(std::string_view data) {
  if (finished_) {
    throw std::logic_error("Request::write after finish()");
  }
  if (lost_ || channel_ == nullptr) {
    return;
  }
  if (!startedWriting_) {
    sendHeaders();
  }
  bool body = !head_ && bodyAllowed(code_);
  std::string_view payload = body ? data : std::string_view();
  bytesSent_ += payload.size();
  if (!pendingHead_.empty()) {
    if (chunked_ && !payload.empty()) {
      flushHead();
      channel_->sendChunk(payload);
    } else {
      flushHead(payload);
    }
    return;
  }
  if (payload.empty()) {
    return;
  }
  if (chunked_) {
    channel_->sendChunk(payload);
  } else {
    channel_->send(payload, {});
  }
}

bool Request::beginRawBody() {
  if (!startedWriting_) {
    sendHeaders();
  }
  if (!pendingHead_.empty() && channel_ != nullptr) {
    flushHead();
  }
  return !chunked_ && !head_ && bodyAllowed(code_) && channel_ != nullptr && !lost_;
}

void Request::finish() {
  if (finished_) {
    throw std::logic_error("Request::finish called twice");
  }
  if (lost_ || channel_ == nullptr) {
    finished_ = true;
    return;
  }
  if (!startedWriting_) {
    if (bodyAllowed(code_) && !responseHeaders_.hasHeader("Content-Length") && !head_) {
      setHeader("Content-Length", "0");
    }
    sendHeaders();
  }
  if (!pendingHead_.empty()) {
    flushHead(chunked_ ? std::string_view("0\r\n\r\n") : std::string_view());
  } else if (chunked_) {
    channel_->send("0\r\n\r\n", {});
  }
  finished_ = true;
  auto waiters = std::move(finishWaiters_);
  finishWaiters_.clear();
  auto self = shared_from_this();  // a waiter may drop the last other reference
  for (auto& d : waiters) {
    d.callback();
  }
  if (auto* channel = std::exchange(channel_, nullptr)) {
    // From now on the request no longer reaches the connection (which may go away while a
    // resource still holds the request).
    channel->requestFinished(*this);
  }
}

Deferred<void> Request::notifyFinish() {
  if (lost_) {
    return fail<void>(*lost_);
  }
  if (finished_) {
    return succeed();
  }
  Deferred<void> d;
  finishWaiters_.push_back(d);
  return d;
}

void Request::registerProducer(IProducer& producer, bool streaming) {
  if (auto* t = transport()) {
    t->registerProducer(producer, streaming);
  }
}

void Request::unregisterProducer() {
  if (auto* t = transport()) {
    t->unregisterProducer();
  }
}

ITransport* Request::connection() const noexcept {
  return channel_ != nullptr && !lost_ ? channel_->transport : nullptr;
}

ITransport* Request::transport() const {
  ITransport* t = connection();
  if (t != nullptr) {
    channel_->flushOutput();  // what the channel gathered goes before anything sent past it
  }
  return t;
}

std::shared_ptr<Session> Request::getSession() {
  if (session_) {
    session_->touch();
    return session_;
  }
  const std::string& cookie = site_->options().sessionCookieName;
  if (auto uid = getCookie(cookie)) {
    if (auto existing = site_->getSession(*uid)) {
      session_ = existing;
      session_->touch();
      return session_;
    }
  }
  session_ = site_->makeSession();
  CookieOptions options;
  options.path = "/";
  options.httpOnly = true;
  addCookie(cookie, session_->uid(), options);
  return session_;
}

void Request::connectionLost(const Failure& reason) {
  lost_ = reason;
  channel_ = nullptr;
  if (bodyReceiver_ != nullptr && !bodyDone_) {
    auto* receiver = std::exchange(bodyReceiver_, nullptr);
    receiver->bodyFailed(reason);
  }
  if (finished_) {
    return;
  }
  auto waiters = std::move(finishWaiters_);
  finishWaiters_.clear();
  for (auto& d : waiters) {
    d.errback(reason);
  }
}

}  // namespace torsion::web
