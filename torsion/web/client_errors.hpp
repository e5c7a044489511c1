// The errors of the HTTP client, after twisted.web._newclient, twisted.web.client and
// twisted.web.error.
//
// How a request ends, and what the caller sees:
//   - the request Deferred fails with ResponseNeverReceived (the connection went away after
//     the request was sent and before any byte of a response), RequestTransmissionFailed (it
//     went away, or the body producer misbehaved, while the request was being written),
//     RequestGenerationFailed (the body producer's Deferred failed), ResponseFailed (a
//     response started but could not be read: its `reasons` say why, e.g. a
//     ResponseParseError), CancelledError (the caller cancelled it), or a ConnectError from
//     torsion/net/errors.hpp (the connection could not be made);
//   - a body receiver's connectionLost gets ResponseDone (the whole body arrived),
//     PotentialDataLoss (the body was delimited by the server closing the connection, so a
//     truncated body cannot be told from a whole one) or ResponseFailed.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/net/errors.hpp"

namespace torsion::web {

class Response;

// Base of the errors that wrap the failures that caused them (Twisted's _WrapperException).
// what() is the class's message followed by the reasons' messages.
class WrapperError : public torsion::Error {
 public:
  WrapperError(const std::string& what, std::vector<Failure> reasons);
  const std::vector<Failure>& reasons() const noexcept { return reasons_; }
  // Whether one of the reasons wraps one of E....
  template <class... E>
  bool hasReason() const {
    for (const Failure& f : reasons_) {
      if (f.check<E...>()) return true;
    }
    return false;
  }

 private:
  std::vector<Failure> reasons_;
};

// A response could not be received completely. `response()` is the response concerned when
// there is one (set by RedirectAgent, whose refusals carry the 3xx response).
class ResponseFailed : public WrapperError {
 public:
  explicit ResponseFailed(std::vector<Failure> reasons, std::shared_ptr<Response> response = {});
  const std::shared_ptr<Response>& response() const noexcept { return response_; }

 protected:
  ResponseFailed(const std::string& what, std::vector<Failure> reasons);

 private:
  std::shared_ptr<Response> response_;
};

// The connection was lost after the request was written and before any byte of a response
// (a subclass of ResponseFailed, as in Twisted). On a reused connection this is what a server
// closing an idle connection looks like, so the pool retries idempotent requests once.
class ResponseNeverReceived : public ResponseFailed {
 public:
  explicit ResponseNeverReceived(std::vector<Failure> reasons);
};

// The request could not be written completely: the connection was lost meanwhile, or the
// body producer wrote more or fewer bytes than its length (WrongBodyLength).
class RequestTransmissionFailed : public WrapperError {
 public:
  explicit RequestTransmissionFailed(std::vector<Failure> reasons);
};

// The body producer failed (its startProducing Deferred failed, or it threw).
class RequestGenerationFailed : public WrapperError {
 public:
  explicit RequestGenerationFailed(std::vector<Failure> reasons);
};

// The request was not sent at all (the connection was busy or already closed).
class RequestNotSent : public torsion::Error {
 public:
  RequestNotSent() : Error("The request was not sent: the connection was not idle.") {}
};

// A body producer wrote more bytes than its length, or finished with fewer.
class WrongBodyLength : public torsion::Error {
 public:
  using Error::Error;
};

// The response body has been received completely (the normal end of a body).
class ResponseDone : public torsion::Error {
 public:
  ResponseDone() : Error("The response body was received completely.") {}
};

// The response body was delimited by the end of the connection: it may have been cut short.
class PotentialDataLoss : public torsion::Error {
 public:
  PotentialDataLoss()
      : Error("The response body ended with the connection: it may be incomplete.") {}
};

// The bytes from the server are not a valid HTTP/1.1 response (the ResponseParser failed).
// Found as a reason of ResponseFailed.
class ResponseParseError : public torsion::Error {
 public:
  explicit ResponseParseError(const std::string& reason)
      : Error("Invalid HTTP response: " + reason), reason_(reason) {}
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

// The URL's scheme is not one the agent speaks (ftp:, ...).
class SchemeNotSupported : public torsion::Error {
 public:
  using Error::Error;
};

// The URL cannot be parsed, or holds bytes that may not go into a request line.
class InvalidURL : public torsion::Error {
 public:
  using Error::Error;
};

// An HTTP status the caller did not want (twisted.web.error.Error): web::get's answer to a
// non-2xx response. `body()` holds the response body when it was read.
class HTTPError : public torsion::Error {
 public:
  HTTPError(int code, const std::string& message, std::string body = {});
  int code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& body() const noexcept { return body_; }

 protected:
  HTTPError(int code, const std::string& message, const std::string& what, std::string body);

 private:
  int code_;
  std::string message_;
  std::string body_;
};

// A redirect that was not followed: RedirectAgent does not repeat a request other than GET or
// HEAD on 301/302/307/308 (twisted.web.error.PageRedirect). `location()` is the URL asked.
class PageRedirect : public HTTPError {
 public:
  PageRedirect(int code, const std::string& location);
  const std::string& location() const noexcept { return location_; }

 private:
  std::string location_;
};

// More redirects than the limit (twisted.web.error.InfiniteRedirection).
class InfiniteRedirection : public HTTPError {
 public:
  InfiniteRedirection(int code, const std::string& location);
  const std::string& location() const noexcept { return location_; }

 private:
  std::string location_;
};

// A redirect status without a Location field (twisted.web.error.RedirectWithNoLocation).
class RedirectWithNoLocation : public HTTPError {
 public:
  RedirectWithNoLocation(int code, const std::string& uri);
  const std::string& uri() const noexcept { return uri_; }

 private:
  std::string uri_;
};

// readBody's Deferred when the connection ended a close-delimited body
// (twisted.web.client.PartialDownloadError): `body()` holds what arrived.
class PartialDownloadError : public HTTPError {
 public:
  PartialDownloadError(int code, const std::string& message, std::string body);
};

// readBody (or web::get) with a maximum size, and a longer body.
class BodyTooLarge : public torsion::Error {
 public:
  explicit BodyTooLarge(std::size_t maxSize);
  std::size_t maxSize() const noexcept { return maxSize_; }

 private:
  std::size_t maxSize_;
};

// A proxy refused to open a CONNECT tunnel (answered other than 2xx), or did not answer it.
// `code()` is the proxy's status, 0 when it sent none.
class ProxyConnectError : public ConnectError {
 public:
  ProxyConnectError(int code, const std::string& what);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

}  // namespace torsion::web
