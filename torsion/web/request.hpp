// Request: one HTTP request and its response (Twisted's twisted.web.server.Request /
// http.Request). The server makes it when a request head arrives, walks the resource tree,
// and calls the resource's render(); the resource answers through it.
//
// Lifetime: the connection holds the request until its response is finished and written; a
// resource that answers later (notDoneYet, a Deferred) keeps it with shared() and may call
// write()/finish() at any time on the reactor thread. If the connection is lost first,
// notifyFinish() fails with ConnectionLost / ConnectionDone and later writes are dropped.
//
// The response: setResponseCode/setHeader before the first write(); the first write() sends the
// status line and headers. Without a Content-Length the body is chunked (HTTP/1.1) or ends
// when the connection closes (HTTP/1.0). HEAD responses carry headers only. finish() ends the
// response; the connection then reads the next request (keep-alive) or closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/web/headers.hpp"

namespace torsion {
class ITransport;
}

namespace torsion::web {

class HTTPChannel;
class Site;
class Session;

// Receives a request body as it arrives (streaming resources: Resource::streamsRequestBody).
class RequestBodyReceiver {
 public:
  virtual ~RequestBodyReceiver() = default;
  // Body bytes, de-chunked, in order; the view is valid during the call only.
  virtual void bodyDataReceived(std::string_view data) = 0;
  // The whole body has arrived.
  virtual void bodyComplete() = 0;
  // The connection was lost (or the body was invalid) before the body was complete.
  virtual void bodyFailed(const Failure& reason) = 0;
};

struct CookieOptions {
  std::optional<std::string> expires;  // an HTTP date
  std::optional<std::int64_t> maxAge;  // seconds
  std::string domain;
  std::string path;
  bool secure = false;
  bool httpOnly = false;
  std::string sameSite;  // "Strict", "Lax", "None" or empty
};

// Whether a conditional request can be answered with 304 (Twisted's http.CACHED).
enum class CacheState { fresh, cached };

class Request : public std::enable_shared_from_this<Request> {
 public:
  using Args = std::map<std::string, std::vector<std::string>, std::less<>>;

  ~Request();
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // ---- the request --------------------------------------------------------------------
  std::string_view method() const noexcept { return method_; }
  // The request-target as sent ("/a/b?x=1"); for an absolute-form target, the whole URL.
  std::string_view uri() const noexcept { return uri_; }
  // The path of the target, still percent-encoded, without the query.
  std::string_view path() const noexcept { return path_; }
  // The query string without "?" (empty if none).
  std::string_view query() const noexcept { return query_; }
  // "HTTP/1.1" or "HTTP/1.0".
  std::string_view clientproto() const noexcept;
  const Headers& requestHeaders() const noexcept { return requestHeaders_; }
  // The last value of the request header `name`.
  std::optional<std::string_view> getHeader(std::string_view name) const {
    return requestHeaders_.getHeader(name);
  }
  // Arguments from the query string and, for a buffered
  // application/x-www-form-urlencoded body, from the body (Twisted's request.args).
  const Args& args() const noexcept { return args_; }
  // The body, when buffered (not for streaming resources).
  const std::string& content() const noexcept { return content_; }
  // A cookie the client sent, or nothing.
  std::optional<std::string_view> getCookie(std::string_view name) const;
  Address getClientAddress() const;
  Address getHost() const;
  // The Host header's name without the port, or the local address.
  std::string getRequestHostname() const;
  // The request came over TLS (the connection's transport is a tls::ISSLTransport); false once
  // the connection is gone. URLs built here then start with https.
  bool isSecure() const noexcept;

  // The path segments walked to reach the rendering resource, and those left below it
  // (percent-decoded). A resource's getChild may move segments between them.
  std::vector<std::string>& prepath() noexcept { return prepath_; }
  std::vector<std::string>& postpath() noexcept { return postpath_; }
  // "http://host/" + prepath joined: the URL of the resource rendering this request.
  std::string prePathURL() const;

  // Streaming resources only: where the body goes. Called from render() (or later); bytes
  // that arrived before are delivered at once. `receiver` must stay alive until bodyComplete or
  // bodyFailed. bodyProducer() pauses/resumes reading the connection (backpressure).
  void receiveBody(RequestBodyReceiver& receiver);
  IProducer& bodyProducer() noexcept { return bodyProducer_; }

  // ---- the response -------------------------------------------------------------------
  // The status and its reason phrase (the standard one when empty).
  void setResponseCode(int code, std::string_view message = {});
  int code() const noexcept { return code_; }
  Headers& responseHeaders() noexcept { return responseHeaders_; }
  void setHeader(std::string_view name, std::string_view value) {
    responseHeaders_.setHeader(name, value);
  }
  void addCookie(std::string_view name, std::string_view value, const CookieOptions& options = {});
  // 302 to `url` (Twisted's redirect). The caller still finishes the request.
  void redirect(std::string_view url);
  // Conditional requests: sets Last-Modified / ETag, and returns cached when the request's
  // If-Modified-Since / If-None-Match match (the code is then 304: finish without a body).
  CacheState setLastModified(std::chrono::system_clock::time_point when);
  CacheState setETag(std::string_view etag);

  // Sends the headers (first call) and `data`. Ignored after finish() or a lost connection.
  void write(std::string_view data);
  // Ends the response. A second call throws std::logic_error (as Twisted's).
  void finish();
  bool finished() const noexcept { return finished_; }
  bool startedWriting() const noexcept { return startedWriting_; }
  // Fires once the response is finished, or fails with the reason the connection was lost
  // first. Cancelling it only stops waiting.
  Deferred<void> notifyFinish();

  // A producer of the response body (a file): registered with the connection, so it is paused
  // while the client does not read (Twisted's Request.registerProducer).
  void registerProducer(IProducer& producer, bool streaming);
  void unregisterProducer();
  // The connection's transport, or null once lost or finished (for sendfile and peer details).
  // Responses the connection gathered to write together are written first, so whatever the
  // caller sends through the transport directly comes after them.
  ITransport* transport() const;
  // Whether the body will go out unchanged (no chunking, not HEAD): what sendfile needs.
  // Call after setting Content-Length. Sends the headers.
  bool beginRawBody();
  // Body bytes sent past write() after beginRawBody() (sendfile), counted for the access log.
  void countRawBodyBytes(std::uint64_t n) noexcept { bytesSent_ += n; }

  // ---- sessions ---------------------------------------------------------------------------
  // The session for this client (a cookie), made if there is none (Twisted's getSession).
  std::shared_ptr<Session> getSession();

  Site& site() const noexcept { return *site_; }
  std::shared_ptr<Request> shared() { return shared_from_this(); }

  // For HTTPChannel (and tests): not part of the resource-facing API.
  struct Internal;

 private:
  friend class HTTPChannel;
  friend struct Internal;
  Request(HTTPChannel* channel, Site* site);

  void sendHeaders();
  // Sends the status line and headers built by sendHeaders(), with `body` after them.
  void flushHead(std::string_view body = {});
  void connectionLost(const Failure& reason);
  // The transport without flushing the channel (for addresses).
  ITransport* connection() const noexcept;

  HTTPChannel* channel_;
  Site* site_;
  std::string method_, uri_, path_, query_;
  int versionMinor_ = 1;
  bool keepAlive_ = true;
  bool head_ = false;
  Headers requestHeaders_;
  Args args_;
  std::string content_;
  std::vector<std::string> prepath_, postpath_;
  RequestBodyReceiver* bodyReceiver_ = nullptr;
  std::string pendingBody_;
  bool bodyDone_ = false;

  int code_ = 200;
  std::string message_;
  Headers responseHeaders_;
  std::string pendingHead_;  // the status line and headers, sent with the first bytes
  bool startedWriting_ = false;
  bool finished_ = false;
  bool chunked_ = false;
  bool closeAfter_ = false;
  std::uint64_t bytesSent_ = 0;
  std::vector<Deferred<void>> finishWaiters_;
  std::optional<Failure> lost_;
  std::shared_ptr<Session> session_;

  class BodyProducer final : public IProducer {
   public:
    explicit BodyProducer(Request& request) : request_(request) {}
    void pauseProducing() override;
    void resumeProducing() override;
    void stopProducing() override;

   private:
    Request& request_;
  };
  BodyProducer bodyProducer_{*this};
};

// The reason phrase of a status code ("OK", "Not Found"); "Unknown" for others.
std::string_view reasonPhrase(int code) noexcept;

// Percent-decodes `text` ("+" stays "+"); invalid escapes are kept as they are.
std::string percentDecode(std::string_view text);
// Percent-encodes every byte of `text` but RFC 3986's unreserved characters and those in
// `keep` (e.g. "!$&'()*+,;=:@", what a path segment may hold as it is).
std::string percentEncode(std::string_view text, std::string_view keep = {});
// Parses "a=1&b=2" (with "+" as space) into `args`, appending.
void parseQueryArgs(std::string_view query, Request::Args& args);
// An HTTP date (RFC 9110 IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string httpDate(std::chrono::system_clock::time_point when);
// Parses an IMF-fixdate (and the two obsolete forms); nothing if it is not a date.
std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text);

}  // namespace torsion::web
