// HTTP11ClientProtocol: one HTTP/1.1 client connection, one request at a time (Twisted's
// twisted.web._newclient.HTTP11ClientProtocol). Agent and HTTPConnectionPool use it; a test or
// a program with its own connection may too:
//
//   auto d = protocol.request({.method = "GET", .target = "/", .headers = {{"Host", "x"}}});
//   d.addCallback([](std::unique_ptr<Response> r) { return readBody(std::move(r)); });
//
// Life of a request: request() writes the head (and starts the body producer); the Deferred
// fires with the Response once its head arrived (1xx interim responses are skipped); the body
// follows through Response::deliverBody. Once the response body is complete, and the request
// body too, the connection either goes back to Quiescent and calls quiescentCallback (the pool
// keeps it for the next request), or, when the exchange forbids reuse (Connection: close from
// either side, a close-delimited body, an early response, bytes after the response, a
// non-persistent request), closes. Without a quiescentCallback a reusable connection stays
// open and idle; the owner decides.
//
// How a request fails is described in client_errors.hpp. Cancelling the request's Deferred
// before it fired aborts the connection and fails it with CancelledError (Twisted fails it with
// ResponseNeverReceived wrapping CancelledError; a plain CancelledError is what
// Deferred::addTimeout turns into TimeoutError). Requests are not pipelined: request() on a
// connection that is not Quiescent fails with RequestNotSent.
//
// The protocol is owned by its connection, like any Protocol; a Response and its body keep no
// pointer to it past connectionLost. Everything happens on the reactor thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "torsion/core/function.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/web/client_body.hpp"
#include "torsion/web/client_errors.hpp"
#include "torsion/web/client_response.hpp"
#include "torsion/web/headers.hpp"
#include "torsion/web/http_parser.hpp"

namespace torsion::web {

class HTTP11ClientProtocol;

// What to send (Twisted's _newclient.Request).
struct ClientRequest {
  std::string method = "GET";
  // The request-target as sent: "/path?query", or an absolute URL for a forwarding proxy.
  std::string target = "/";
  // Sent in this order (the Agent puts Host first). Content-Length and Transfer-Encoding are
  // the body producer's business: fields of those names here are not sent.
  Headers headers;
  // Null: no body ("Content-Length: 0" for POST and PUT, as Twisted sends).
  std::shared_ptr<IBodyProducer> body;
  // False sends "Connection: close" and closes the connection after the response.
  bool persistent = true;
  // For Response::request: the URL this request is for (empty: not known).
  std::string absoluteURI;
};

namespace detail {

// The shared state of one response body, between the Response (the caller's) and the
// connection (which may go away first). Also the producer a BodyReceiver controls.
struct ResponseBody final : IProducer {
  // The connection receiving the body; null once the body ended or the connection is gone.
  HTTP11ClientProtocol* conn = nullptr;
  std::unique_ptr<BodyReceiver> receiver;
  // Body bytes received before deliverBody (only when the connection ended first).
  std::string buffered;
  // How the body ended, when it ended before deliverBody.
  std::optional<Failure> end;
  bool delivered = false;                 // deliverBody or discardBody was called
  bool discarding = false;                // discardBody: nobody wants the bytes
  bool finished = false;                  // the end was reached (delivered or stored)
  bool delivering = false;                // inside the receiver's connectionMade
  std::unique_ptr<BodyReceiver> retired;  // ended while delivering, destroyed with this

  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;

  void deliver(std::unique_ptr<BodyReceiver> r);
  void discard();
  // The body ended with `reason` (ResponseDone, PotentialDataLoss, ResponseFailed).
  void finish(const Failure& reason);
  // Body bytes for the receiver (or the buffer, or nowhere).
  void data(std::string_view bytes);
};

class BodyEncoder;

}  // namespace detail

class HTTP11ClientProtocol final : public Protocol, private ResponseParser::Handler {
 public:
  enum class State {
    Quiescent,     // connected and idle: request() may be called
    Transmitting,  // writing a request (head sent, body under way)
    Waiting,       // the request is written; its response has not ended
    Closed,        // closing or closed: no more requests
  };

  // Most a discarded body may hold before the connection is closed instead of drained.
  static constexpr std::size_t kMaxDiscardBytes = 64 * 1024;

  explicit HTTP11ClientProtocol(const Limits& limits = {});
  HTTP11ClientProtocol(const HTTP11ClientProtocol&) = delete;
  HTTP11ClientProtocol& operator=(const HTTP11ClientProtocol&) = delete;
  // Fails a request still waiting (a protocol destroyed without connectionLost, in tests).
  ~HTTP11ClientProtocol() override;

  // Sends `request` (see above). Fails at once with RequestNotSent when not Quiescent,
  // std::invalid_argument for a method that is not a token, InvalidURL for a target holding
  // bytes a request-target may not hold.
  Deferred<std::unique_ptr<Response>> request(ClientRequest request);

  State state() const noexcept { return state_; }

  // Called (from inside the connection's event handling) each time the connection becomes
  // Quiescent after a response: Twisted's quiescentCallback. It may call request() or close.
  UniqueFunction<void(HTTP11ClientProtocol&)> quiescentCallback;
  // Called once, at the end of connectionLost.
  UniqueFunction<void(HTTP11ClientProtocol&)> lostCallback;

  // Closes the connection after what is queued (an idle pooled connection's end).
  void loseConnection();
  // Drops the connection at once.
  void abort();

  // ---- Protocol ------------------------------------------------------------------------------
  void connectionMade() override;
  void dataReceived(std::string_view data) override;
  void connectionLost(const Failure& reason) override;

 private:
  friend struct detail::ResponseBody;
  friend class detail::BodyEncoder;

  struct Exchange;

  // ResponseParser::Handler
  void onResponseHead(const ResponseHead& head) override;
  void onBody(std::string_view data) override;
  void onMessageComplete() override;

  bool canFeed() const noexcept;
  void feedOnce(std::string_view data, bool fresh);
  void drive();
  void afterFeed();
  void handOverResponse();
  void finishResponse(const Failure& end);
  void failExchange(const Failure& failure, bool abortConnection);
  void handleLost();
  void updateReading();
  void stopBodyProducer(Exchange& ex);
  void producerFinished(std::uint64_t generation, Result<void> result);
  void bodyWriteFailed(const Failure& failure);
  void cancelRequest(std::uint64_t generation);

  // Called by the body's producer.
  void pauseBody();
  void resumeBody();
  void stopBody();
  void bodyWanted();

  ResponseParser parser_;
  State state_ = State::Quiescent;
  std::unique_ptr<Exchange> ex_;
  std::uint64_t generation_ = 0;
  std::uint64_t events_ = 0;  // parser events, to see whether a feed moved anything
  // Bytes read and not fed yet (the body is paused or waits for deliverBody).
  std::string pending_;
  std::size_t pendingHead_ = 0;
  std::optional<Failure> lost_;
  bool lostHandled_ = false;
  bool driving_ = false;
  bool closing_ = false;  // handling connectionLost: feed what is left, ignore pauses
  bool aborted_ = false;  // this side dropped the connection on purpose
  bool bodyPaused_ = false;
  bool readingPaused_ = false;
  bool interim_ = false;       // the message being parsed is a 1xx
  std::size_t discarded_ = 0;  // bytes of a discarded body so far
  std::optional<Failure> receiverFailure_;
  // The body producer of an exchange that failed, kept until the next request: the failure
  // often comes from inside the producer's own write (too many bytes, a lost connection), and
  // the exchange may hold the last reference to it.
  std::shared_ptr<IBodyProducer> failedBody_;
  // Flags for callbacks that may outlive the protocol (a body producer firing late).
  std::shared_ptr<HTTP11ClientProtocol*> self_;
};

}  // namespace torsion::web
