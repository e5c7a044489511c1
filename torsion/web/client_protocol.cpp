#include "torsion/web/client_protocol.hpp"

#include <array>
#include <charconv>
#include <span>
#include <stdexcept>
#include <utility>

#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/web/http_chars.hpp"
#include "torsion/web/http_syntax.hpp"

namespace torsion::web {

namespace {

const Logger& clientLog() {
  static const Logger logger("torsion.web.client");
  return logger;
}

}  // namespace

// ---- one request and its response ------------------------------------------------------------

struct HTTP11ClientProtocol::Exchange {
  std::uint64_t generation = 0;
  Deferred<std::unique_ptr<Response>> deferred = nullptr;
  bool deferredFired = false;
  std::string method;
  std::string absoluteURI;
  Headers requestHeaders;
  bool persistent = true;

  // The request body.
  std::shared_ptr<IBodyProducer> body;
  std::unique_ptr<detail::BodyEncoder> encoder;
  bool producerRegistered = false;
  bool producerActive = false;  // started and neither finished nor stopped
  bool transmitted = false;     // the whole request was written

  // The response.
  bool responseStarted = false;  // a final response head arrived
  bool earlyResponse = false;    // ... before the request was written completely
  bool unexpectedUpgrade = false;
  std::unique_ptr<Response> response;  // built, not handed over yet
  std::shared_ptr<detail::ResponseBody> responseBody;
  bool bodyEmpty = false;
  bool closeDelimited = false;
  bool keepAlive = true;
  bool messageComplete = false;
};

namespace detail {

// The consumer a body producer writes to: frames the bytes (chunked) or counts them against
// the announced length, and while `cork` is set appends them to the request head, so that a
// small body leaves in the same write as its head.
class BodyEncoder final : public IConsumer {
 public:
  BodyEncoder(HTTP11ClientProtocol& owner, std::optional<std::uint64_t> length)
      : owner_(owner), length_(length) {}

  void registerProducer(IProducer&, bool) override {
    throw std::logic_error("a request body producer is registered by the connection itself");
  }
  void unregisterProducer() override {
    throw std::logic_error("a request body producer is registered by the connection itself");
  }

  void write(std::string_view data) override {
    if (closed_ || data.empty()) return;
    if (length_) {
      if (data.size() > *length_ - written_) {
        closed_ = true;
        owner_.bodyWriteFailed(
            Failure(WrongBodyLength("the body producer wrote more than its length of " +
                                    std::to_string(*length_) + " bytes")));
        return;
      }
      written_ += data.size();
      send(data);
      return;
    }
    std::array<char, 20> size{};
    auto [end, ec] = std::to_chars(size.data(), size.data() + size.size() - 2, data.size(), 16);
    (void)ec;
    *end++ = '\r';
    *end++ = '\n';
    const std::string_view pieces[] = {std::string_view(size.data(), end - size.data()), data,
                                       "\r\n"};
    send(pieces);
  }

  // The producer is done: ends a chunked body; checks a counted one. Returns false (after
  // failing the request) when the length does not match.
  bool finish() {
    if (closed_) return false;
    closed_ = true;
    if (!length_) {
      send("0\r\n\r\n");
      return true;
    }
    if (written_ != *length_) {
      owner_.bodyWriteFailed(
          Failure(WrongBodyLength("the body producer finished after " + std::to_string(written_) +
                                  " of its " + std::to_string(*length_) + " bytes")));
      return false;
    }
    return true;
  }

  void close() noexcept { closed_ = true; }
  void cork(std::string* head) noexcept { cork_ = head; }

 private:
  static constexpr std::size_t kMaxCork = 64 * 1024;

  void send(std::string_view data) {
    if (cork_ != nullptr && cork_->size() + data.size() <= kMaxCork) {
      cork_->append(data);
      return;
    }
    uncork();
    owner_.transport->write(data);
  }
  void send(std::span<const std::string_view> pieces) {
    std::size_t total = 0;
    for (auto p : pieces) total += p.size();
    if (cork_ != nullptr && cork_->size() + total <= kMaxCork) {
      for (auto p : pieces) cork_->append(p);
      return;
    }
    uncork();
    owner_.transport->writeSequence(pieces);
  }
  void uncork() {
    if (cork_ == nullptr) return;
    if (!cork_->empty()) owner_.transport->write(*cork_);
    cork_->clear();
    cork_ = nullptr;
  }

  HTTP11ClientProtocol& owner_;
  std::optional<std::uint64_t> length_;
  std::uint64_t written_ = 0;
  bool closed_ = false;
  std::string* cork_ = nullptr;
};

// ---- ResponseBody --------------------------------------------------------------------------

void ResponseBody::pauseProducing() {
  if (conn != nullptr && !finished) conn->pauseBody();
}

void ResponseBody::resumeProducing() {
  if (conn != nullptr && !finished) conn->resumeBody();
}

void ResponseBody::stopProducing() {
  if (conn != nullptr && !finished) conn->stopBody();
}

void ResponseBody::deliver(std::unique_ptr<BodyReceiver> r) {
  if (!r) throw std::invalid_argument("Response::deliverBody: null receiver");
  if (delivered) {
    throw std::logic_error("Response::deliverBody: the body was delivered or discarded already");
  }
  delivered = true;
  receiver = std::move(r);
  receiver->producer = this;
  delivering = true;
  receiver->connectionMade();
  delivering = false;
  if (!receiver) return;  // ended from inside connectionMade (stopProducing)
  if (!buffered.empty()) {
    std::string bytes = std::move(buffered);
    buffered.clear();
    receiver->dataReceived(bytes);
  }
  if (end) {
    const Failure reason = *end;
    end.reset();
    std::unique_ptr<BodyReceiver> r2 = std::move(receiver);
    r2->connectionLost(reason);
    return;
  }
  if (conn != nullptr) conn->bodyWanted();
}

void ResponseBody::discard() {
  if (delivered) return;
  delivered = true;
  discarding = true;
  buffered.clear();
  end.reset();
  if (conn != nullptr) conn->bodyWanted();
}

void ResponseBody::data(std::string_view bytes) {
  if (receiver) {
    receiver->dataReceived(bytes);
  } else if (!discarding) {
    buffered.append(bytes);
  }
}

void ResponseBody::finish(const Failure& reason) {
  if (finished) return;
  finished = true;
  conn = nullptr;
  if (receiver) {
    std::unique_ptr<BodyReceiver> r = std::move(receiver);
    try {
      r->connectionLost(reason);
    } catch (...) {
      clientLog().failure("A response body receiver's connectionLost threw", LogLevel::error);
    }
    // Ended from inside the receiver's own connectionMade (it stopped the body there, over a
    // transport that reports the loss at once): its frame is still running; let it go later.
    if (delivering) retired = std::move(r);
  } else if (!discarding) {
    end = reason;
  }
}

}  // namespace detail

// ---- HTTP11ClientProtocol -----------------------------------------------------------------------

HTTP11ClientProtocol::HTTP11ClientProtocol(const Limits& limits)
    : parser_(*this, limits), self_(std::make_shared<HTTP11ClientProtocol*>(this)) {}

HTTP11ClientProtocol::~HTTP11ClientProtocol() {
  *self_ = nullptr;
  if (ex_) {
    closing_ = true;
    transport = nullptr;  // may be gone already: touch nothing of the connection
    failExchange(Failure(ResponseFailed({Failure(ConnectionLost())})), false);
  }
}

void HTTP11ClientProtocol::connectionMade() { state_ = State::Quiescent; }

void HTTP11ClientProtocol::loseConnection() {
  if (state_ != State::Closed) state_ = State::Closed;
  if (transport != nullptr && connected) transport->loseConnection();
}

void HTTP11ClientProtocol::abort() {
  state_ = State::Closed;
  aborted_ = true;
  if (transport != nullptr && connected) transport->abortConnection();
}

Deferred<std::unique_ptr<Response>> HTTP11ClientProtocol::request(ClientRequest request) {
  using D = Deferred<std::unique_ptr<Response>>;
  if (state_ != State::Quiescent || !connected || transport == nullptr ||
      transport->disconnecting() || lost_) {
    return fail<std::unique_ptr<Response>>(RequestNotSent());
  }
  if (!isToken(request.method)) {
    return fail<std::unique_ptr<Response>>(
        std::invalid_argument("invalid HTTP method: " + request.method));
  }
  if (request.method == "CONNECT") {
    return fail<std::unique_ptr<Response>>(std::invalid_argument(
        "CONNECT is not a request this protocol sends (use AgentOptions::proxy)"));
  }
  if (request.target.empty() || !isTargetBytes(request.target)) {
    return fail<std::unique_ptr<Response>>(InvalidURL("invalid request-target: " + request.target));
  }

  const std::uint64_t gen = ++generation_;
  failedBody_.reset();
  ex_ = std::make_unique<Exchange>();
  Exchange& ex = *ex_;
  ex.generation = gen;
  ex.method = request.method;
  ex.absoluteURI = std::move(request.absoluteURI);
  ex.persistent = request.persistent;
  if (auto c = request.headers.getHeader("Connection"); c && listContains(*c, "close")) {
    ex.persistent = false;
  }
  std::weak_ptr<HTTP11ClientProtocol*> weak = self_;
  ex.deferred = D([weak, gen](D&) {
    if (auto s = weak.lock(); s && *s != nullptr) (*s)->cancelRequest(gen);
  });
  D result = ex.deferred;
  parser_.setRequestMethod(ex.method);
  state_ = State::Transmitting;
  interim_ = false;
  receiverFailure_.reset();

  std::string head;
  head.reserve(256);
  head.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
  request.headers.removeHeader("Content-Length");
  request.headers.removeHeader("Transfer-Encoding");
  request.headers.serialize(head);
  if (!request.persistent && !request.headers.hasHeader("Connection")) {
    head.append("Connection: close\r\n");
  }
  ex.requestHeaders = std::move(request.headers);
  std::optional<std::uint64_t> length;
  if (request.body) {
    length = request.body->length();
    if (length) {
      head.append("Content-Length: ").append(std::to_string(*length)).append("\r\n");
    } else {
      head.append("Transfer-Encoding: chunked\r\n");
    }
  } else if (request.method == "POST" || request.method == "PUT") {
    head.append("Content-Length: 0\r\n");
  }
  head.append("\r\n");

  if (!request.body) {
    transport->write(head);
    ex.transmitted = true;
    state_ = State::Waiting;
    return result;
  }

  ex.body = request.body;
  ex.encoder = std::make_unique<detail::BodyEncoder>(*this, length);
  transport->registerProducer(*ex.body, true);
  ex.producerRegistered = true;
  ex.producerActive = true;
  ex.encoder->cork(&head);
  Deferred<void> produced = nullptr;
  try {
    produced = ex.body->startProducing(*ex.encoder);
  } catch (...) {
    produced = fail<void>(Failure::current());
  }
  // The producer may have ended the exchange already (too many bytes: the connection is
  // being aborted); then the corked head is dropped with it.
  if (ex_ && ex_->generation == gen) {
    ex_->encoder->cork(nullptr);
    if (!head.empty()) transport->write(head);
  }
  produced.addBoth([weak, gen](Result<void> r) {
    if (auto s = weak.lock(); s && *s != nullptr) (*s)->producerFinished(gen, std::move(r));
  });
  return result;
}

void HTTP11ClientProtocol::producerFinished(std::uint64_t generation, Result<void> result) {
  if (!ex_ || ex_->generation != generation || !ex_->producerActive) return;
  Exchange& ex = *ex_;
  ex.producerActive = false;
  if (ex.producerRegistered) {
    ex.producerRegistered = false;
    if (transport != nullptr && connected) transport->unregisterProducer();
  }
  if (!result.ok()) {
    ex.encoder->close();
    failExchange(Failure(RequestGenerationFailed({result.failure()})), true);
    return;
  }
  if (!ex.encoder->finish()) return;  // failed the exchange
  ex.transmitted = true;
  if (state_ == State::Transmitting) state_ = State::Waiting;
}

void HTTP11ClientProtocol::bodyWriteFailed(const Failure& failure) {
  failExchange(Failure(RequestTransmissionFailed({failure})), true);
}

void HTTP11ClientProtocol::stopBodyProducer(Exchange& ex) {
  if (ex.encoder) ex.encoder->close();
  if (ex.producerRegistered) {
    ex.producerRegistered = false;
    if (transport != nullptr && connected && !lost_) transport->unregisterProducer();
  }
  if (ex.producerActive) {
    ex.producerActive = false;
    ex.body->stopProducing();
  }
}

void HTTP11ClientProtocol::cancelRequest(std::uint64_t generation) {
  if (!ex_ || ex_->generation != generation || ex_->deferredFired) return;
  failExchange(Failure(CancelledError()), true);
}

void HTTP11ClientProtocol::failExchange(const Failure& failure, bool abortConnection) {
  if (!ex_) return;
  std::unique_ptr<Exchange> ex = std::move(ex_);
  state_ = State::Closed;
  stopBodyProducer(*ex);
  failedBody_ = std::move(ex->body);
  if (abortConnection && !lost_) {
    aborted_ = true;
    if (transport != nullptr && connected) transport->abortConnection();
  }
  if (!ex->deferredFired) {
    ex->deferredFired = true;
    ex->deferred.errback(failure);
  } else if (ex->responseBody) {
    ex->responseBody->finish(failure);
  }
}

// ---- reading -----------------------------------------------------------------------------------

void HTTP11ClientProtocol::onResponseHead(const ResponseHead& head) {
  ++events_;
  Exchange& ex = *ex_;
  if (head.status < 200 && head.status != 101) {
    interim_ = true;  // 100 Continue, 103 Early Hints: the final response follows
    return;
  }
  if (head.status == 101) {
    ex.unexpectedUpgrade = true;
    parser_.pause();
    return;
  }
  ex.responseStarted = true;
  auto body = std::make_shared<detail::ResponseBody>();
  body->conn = this;
  auto r = std::make_unique<Response>(body);
  r->code = head.status;
  r->phrase = std::string(head.reason);
  r->version.minor = head.versionMinor;
  for (const HeaderField& f : head.fields) r->headers.addRawHeader(f.name, f.value);
  switch (head.framing) {
    case BodyFraming::None:
      r->length = 0;
      ex.bodyEmpty = true;
      break;
    case BodyFraming::ContentLength:
      r->length = head.contentLength;
      ex.bodyEmpty = head.contentLength.value_or(0) == 0;
      break;
    case BodyFraming::Chunked:
      break;
    case BodyFraming::UntilClose:
      ex.closeDelimited = true;
      break;
  }
  // The exchange needs these no more: the final response takes them.
  r->request.method = std::move(ex.method);
  r->request.absoluteURI = std::move(ex.absoluteURI);
  r->request.headers = std::move(ex.requestHeaders);
  ex.keepAlive = head.keepAlive;
  ex.responseBody = std::move(body);
  ex.response = std::move(r);
  if (!ex.transmitted) {
    // The server answered before the request body was written (an error, typically): stop
    // sending it; the connection cannot be reused, the server's idea of where the request
    // ends being unknown.
    ex.earlyResponse = true;
    stopBodyProducer(ex);
    ex.transmitted = true;  // as far as this request goes: what was sent is all there is
    state_ = State::Waiting;
  }
  // Hand the response over between feeds, not from inside the parser.
  parser_.pause();
}

void HTTP11ClientProtocol::onBody(std::string_view data) {
  if (!ex_ || !ex_->responseBody) return;
  detail::ResponseBody& body = *ex_->responseBody;
  if (body.discarding) {
    discarded_ += data.size();
    if (discarded_ > kMaxDiscardBytes && !closing_) {
      // Draining more would cost more than a new connection: drop this one.
      parser_.pause();
      abort();
    }
    return;
  }
  try {
    body.data(data);
  } catch (...) {
    clientLog().failure("A response body receiver's dataReceived threw", LogLevel::error);
    receiverFailure_ = Failure::current();
    parser_.pause();
    abort();
    return;
  }
  if (bodyPaused_ && !closing_) parser_.pause();
}

void HTTP11ClientProtocol::onMessageComplete() {
  ++events_;
  if (interim_) {
    interim_ = false;
    return;
  }
  if (ex_) ex_->messageComplete = true;
  parser_.pause();
}

bool HTTP11ClientProtocol::canFeed() const noexcept {
  if (!ex_ || ex_->unexpectedUpgrade || ex_->response || ex_->messageComplete) return false;
  const Phase phase = parser_.phase();
  if (phase == Phase::Failed || phase == Phase::Upgraded || phase == Phase::Closed) return false;
  if (closing_) return !aborted_;
  if (aborted_) return false;
  if (ex_->responseBody) {
    const detail::ResponseBody& body = *ex_->responseBody;
    if (!body.delivered && !ex_->bodyEmpty) return false;  // waits for deliverBody
    if (bodyPaused_ && body.receiver) return false;
  }
  return true;
}

void HTTP11ClientProtocol::dataReceived(std::string_view data) {
  if (!ex_) {
    // Bytes nobody asked for: the server is confused or hostile; this connection cannot be
    // trusted with another request.
    if (state_ == State::Quiescent) abort();
    return;
  }
  if (driving_ || pendingHead_ < pending_.size() || !canFeed()) {
    pending_.append(data);
    drive();
    return;
  }
  driving_ = true;
  feedOnce(data, true);
  driving_ = false;
  drive();
}

// One feed of `data` (fresh bytes from the transport, or pending_), keeping what the parser did
// not take in pending_, then what the events call for.
void HTTP11ClientProtocol::feedOnce(std::string_view data, bool fresh) {
  std::size_t n = 0;
  try {
    n = parser_.feed(data);
  } catch (...) {
    // feed() only lets out what a callback threw; the parser has failed.
    clientLog().failure("An HTTP client callback threw", LogLevel::error);
    receiverFailure_ = Failure::current();
  }
  if (fresh) {
    if (n < data.size()) pending_.append(data.substr(n));
  } else {
    pendingHead_ += n;
    if (pendingHead_ == pending_.size()) {
      pending_.clear();
      pendingHead_ = 0;
    }
  }
  afterFeed();
}

void HTTP11ClientProtocol::drive() {
  if (driving_) return;
  driving_ = true;
  while (!(lost_ && !lostHandled_ && !closing_) && canFeed()) {
    const std::uint64_t before = events_;
    const std::size_t head = pendingHead_;
    feedOnce(std::string_view(pending_).substr(pendingHead_), false);
    if (pendingHead_ == head && events_ == before) break;  // nothing moved
  }
  driving_ = false;
  if (lost_ && !lostHandled_ && !closing_) {
    handleLost();
    return;
  }
  updateReading();
}

void HTTP11ClientProtocol::afterFeed() {
  if (!ex_) return;
  if (parser_.failed() || receiverFailure_) {
    std::vector<Failure> reasons;
    if (receiverFailure_) {
      reasons.push_back(*receiverFailure_);
    } else {
      reasons.push_back(Failure(ResponseParseError(std::string(parser_.error().reason))));
    }
    failExchange(Failure(ResponseFailed(std::move(reasons))), true);
    return;
  }
  if (ex_->unexpectedUpgrade) {
    failExchange(Failure(ResponseFailed({Failure(ResponseParseError(
                     "unexpected 101 Switching Protocols (no upgrade was asked for)"))})),
                 true);
    return;
  }
  if (ex_->response) handOverResponse();
  // (A final response that starts before its request is written stops the request: by the
  // time the response is complete, the request is over.)
  if (ex_ && ex_->messageComplete) {
    finishResponse(ex_->closeDelimited ? Failure(PotentialDataLoss()) : Failure(ResponseDone()));
  }
}

void HTTP11ClientProtocol::handOverResponse() {
  Exchange& ex = *ex_;
  std::unique_ptr<Response> r = std::move(ex.response);
  ex.deferredFired = true;
  // The caller's callbacks run now: they may deliver the body, discard it, cancel nothing
  // (the Deferred has fired), or stop the body, which aborts the connection.
  ex.deferred.callback(std::move(r));
}

void HTTP11ClientProtocol::finishResponse(const Failure& end) {
  std::unique_ptr<Exchange> ex = std::move(ex_);
  std::shared_ptr<detail::ResponseBody> body = ex->responseBody;
  const bool reusable = ex->keepAlive && ex->persistent && !ex->earlyResponse &&
                        !ex->closeDelimited && pendingHead_ == pending_.size() &&
                        parser_.phase() == Phase::Idle && !lost_ && !aborted_ && connected &&
                        transport != nullptr && !transport->disconnecting();
  bodyPaused_ = false;
  discarded_ = 0;
  if (reusable) {
    state_ = State::Quiescent;
    updateReading();
  } else {
    state_ = State::Closed;
    if (!lost_ && transport != nullptr && connected) transport->loseConnection();
  }
  // The connection is back in the pool before the body's end is announced, so that a caller
  // who asks for the next request from there gets this connection.
  if (reusable && quiescentCallback) quiescentCallback(*this);
  if (body) body->finish(end);
}

void HTTP11ClientProtocol::updateReading() {
  if (transport == nullptr || !connected || lost_ || transport->disconnecting()) return;
  bool want = false;
  if (ex_ && ex_->responseBody && !ex_->messageComplete) {
    const detail::ResponseBody& body = *ex_->responseBody;
    want = (!body.delivered && !ex_->bodyEmpty) || (bodyPaused_ && body.receiver);
  }
  if (want == readingPaused_) return;
  readingPaused_ = want;
  if (want) {
    transport->pauseProducing();
  } else {
    transport->resumeProducing();
  }
}

// ---- the body's producer -------------------------------------------------------------------

void HTTP11ClientProtocol::pauseBody() {
  bodyPaused_ = true;
  if (!driving_) updateReading();
}

void HTTP11ClientProtocol::resumeBody() {
  bodyPaused_ = false;
  drive();
}

void HTTP11ClientProtocol::stopBody() {
  if (!ex_) return;
  ex_->persistent = false;
  if (driving_) parser_.pause();
  abort();
}

void HTTP11ClientProtocol::bodyWanted() { drive(); }

// ---- the end
// -------------------------------------------------------------------------------------

void HTTP11ClientProtocol::connectionLost(const Failure& reason) {
  lost_ = reason;
  connected = false;
  if (driving_) return;  // handled when the current feed is done
  handleLost();
}

void HTTP11ClientProtocol::handleLost() {
  lostHandled_ = true;
  state_ = State::Closed;
  const Failure reason = *lost_;
  if (ex_) {
    // What was read before the end still counts: a body paused or waiting for deliverBody is
    // read to its end now (kept for the receiver), so that the end of the body is known.
    closing_ = true;
    driving_ = true;
    while (ex_ && canFeed()) {
      const std::size_t before = pendingHead_;
      const std::uint64_t events = events_;
      feedOnce(std::string_view(pending_).substr(pendingHead_), false);
      if (pendingHead_ == before && events_ == events) break;
    }
    if (ex_ && !aborted_ && !ex_->unexpectedUpgrade && !ex_->response) {
      if (parser_.phase() == Phase::Idle && !ex_->responseStarted && !interim_) {
        // Nothing of a response: the request went unanswered.
        Failure why = ex_->transmitted ? Failure(ResponseNeverReceived({reason}))
                                       : Failure(RequestTransmissionFailed({reason}));
        driving_ = false;
        failExchange(why, false);
      } else if (parser_.feedEof()) {
        afterFeed();
      }
    }
    driving_ = false;
    if (ex_) {
      std::vector<Failure> reasons{reason};
      if (receiverFailure_) {
        reasons.insert(reasons.begin(), *receiverFailure_);
      } else if (parser_.failed()) {
        reasons.push_back(Failure(ResponseParseError(std::string(parser_.error().reason))));
      }
      failExchange(Failure(ResponseFailed(std::move(reasons))), false);
    }
    closing_ = false;
  }
  if (lostCallback) {
    auto cb = std::move(lostCallback);
    cb(*this);
  }
}

}  // namespace torsion::web
