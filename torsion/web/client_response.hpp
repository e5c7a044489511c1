// Response: an HTTP response as the client hands it over (Twisted's IResponse), with its body
// still to come, and BodyReceiver, what the body is delivered to (the IProtocol Twisted's
// Response.deliverBody takes). readBody collects a body into a string.
//
// A request's Deferred fires with the Response as soon as its status line and header section
// have arrived. The body stays on the connection, unread (the connection stops reading), until
// the caller asks for it with deliverBody(receiver) or readBody(response); the receiver then
// gets the body as it arrives, and connectionLost once it is complete:
//
//   class Printer : public web::BodyReceiver {
//     void dataReceived(std::string_view data) override { std::fwrite(...); }
//     void connectionLost(const Failure& reason) override { done = reason.check<ResponseDone>(); }
//   };
//   response->deliverBody(std::make_unique<Printer>());
//
// Backpressure: the receiver's `producer` pauses and resumes the connection's reading
// (pauseProducing()/resumeProducing()), so a receiver that writes the body somewhere slow
// holds the download to its pace; stopProducing() abandons the body and closes the connection
// (the receiver then gets connectionLost with ResponseFailed).
//
// A Response destroyed (or discardBody()) without its body delivered discards the body as it
// arrives, up to 64 KiB, so that the connection can serve the next request; a longer body
// closes the connection instead. Everything happens on the reactor thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "torsion/defer/deferred.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/web/headers.hpp"

namespace torsion::web {

namespace detail {
struct ResponseBody;
}

// What the body of a response is delivered to. The connection owns it from deliverBody on and
// destroys it after connectionLost returned.
class BodyReceiver {
 public:
  virtual ~BodyReceiver() = default;

  // deliverBody was called: `producer` is set (it pauses, resumes or stops the body).
  virtual void connectionMade() {}
  // Body bytes (de-chunked), in order; valid only during the call.
  virtual void dataReceived(std::string_view data) = 0;
  // The body ended: ResponseDone (complete), PotentialDataLoss (delimited by the end of the
  // connection), or ResponseFailed (cut short, invalid, or stopped). Called once, possibly from
  // inside deliverBody when the body had ended already.
  virtual void connectionLost(const Failure& reason) = 0;

  // The body's flow control (Twisted's TransportProxyProducer), valid from connectionMade to
  // connectionLost; after the body ended its calls do nothing.
  IProducer* producer = nullptr;
};

class Response {
 public:
  struct Version {
    int major = 1;
    int minor = 1;
  };
  // What was asked (Twisted's IClientRequest).
  struct Request {
    std::string method;
    std::string absoluteURI;
    Headers headers;
  };

  explicit Response(std::shared_ptr<detail::ResponseBody> body);
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;
  // Discards the body if it was not delivered (see above).
  ~Response();

  int code = 0;
  std::string phrase;
  Version version;
  Headers headers;
  // The body's length when known before it arrives (Content-Length; 0 for a response without
  // body: HEAD, 204, 304); nothing for a chunked or close-delimited body (Twisted's
  // UNKNOWN_LENGTH).
  std::optional<std::uint64_t> length;
  Request request;
  // The response this one is the redirect target of (set by RedirectAgent): a chain back to
  // the first response. Their bodies were read and thrown away.
  std::shared_ptr<Response> previousResponse;

  // Starts delivering the body to `receiver` (see above). Throws std::logic_error if it was
  // called (or the body discarded) before.
  void deliverBody(std::unique_ptr<BodyReceiver> receiver);
  // Throws the body away as it arrives (see above). Does nothing if it was delivered already.
  void discardBody();

 private:
  std::shared_ptr<detail::ResponseBody> body_;
};

// Collects the body of `response` (Twisted's readBody). Fires with the body once complete;
// fails with BodyTooLarge (the connection is closed) when it is longer than `maxSize`,
// PartialDownloadError (its body() holds what arrived) when the body was delimited by the
// end of the connection, as Twisted does (web::get accepts such a body), or ResponseFailed.
// Cancelling it closes the connection and fails it with CancelledError.
Deferred<std::string> readBody(std::unique_ptr<Response> response,
                               std::optional<std::size_t> maxSize = {});

}  // namespace torsion::web
