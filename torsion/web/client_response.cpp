#include "torsion/web/client_response.hpp"

#include <utility>

#include "torsion/defer/errors.hpp"
#include "torsion/web/client_errors.hpp"
#include "torsion/web/client_protocol.hpp"

namespace torsion::web {

Response::Response(std::shared_ptr<detail::ResponseBody> body) : body_(std::move(body)) {}

Response::~Response() {
  if (body_ && !body_->delivered) body_->discard();
}

void Response::deliverBody(std::unique_ptr<BodyReceiver> receiver) {
  if (!body_) throw std::logic_error("Response::deliverBody: this response has no body channel");
  body_->deliver(std::move(receiver));
}

void Response::discardBody() {
  if (body_) body_->discard();
}

namespace {

// What readBody's canceller reaches: the producer of the body while it is being read.
struct ReadBodyLink {
  IProducer* producer = nullptr;
  bool cancelled = false;
};

class ReadBodyReceiver final : public BodyReceiver {
 public:
  ReadBodyReceiver(Deferred<std::string> done, std::shared_ptr<ReadBodyLink> link,
                   std::optional<std::size_t> maxSize, int code, std::string phrase,
                   std::optional<std::uint64_t> length)
      : done_(std::move(done)),
        link_(std::move(link)),
        maxSize_(maxSize),
        code_(code),
        phrase_(std::move(phrase)),
        length_(length) {}
  ~ReadBodyReceiver() override { link_->producer = nullptr; }

  void connectionMade() override {
    link_->producer = producer;
    if (maxSize_ && length_ && *length_ > *maxSize_) tooLarge();
  }

  void dataReceived(std::string_view data) override {
    if (done_.called() || link_->cancelled) return;
    if (maxSize_ && data.size() > *maxSize_ - body_.size()) {
      tooLarge();
      return;
    }
    body_.append(data);
  }

  void connectionLost(const Failure& reason) override {
    link_->producer = nullptr;
    if (done_.called() || link_->cancelled) return;
    if (reason.check<ResponseDone>()) {
      done_.callback(std::move(body_));
    } else if (reason.check<PotentialDataLoss>()) {
      done_.errback(PartialDownloadError(code_, phrase_, std::move(body_)));
    } else {
      done_.errback(reason);
    }
  }

 private:
  void tooLarge() {
    done_.errback(BodyTooLarge(*maxSize_));
    if (producer != nullptr) producer->stopProducing();
  }

  Deferred<std::string> done_;
  std::shared_ptr<ReadBodyLink> link_;
  std::optional<std::size_t> maxSize_;
  int code_;
  std::string phrase_;
  std::optional<std::uint64_t> length_;
  std::string body_;
};

}  // namespace

Deferred<std::string> readBody(std::unique_ptr<Response> response,
                               std::optional<std::size_t> maxSize) {
  if (!response) return fail<std::string>(std::invalid_argument("readBody: null response"));
  auto link = std::make_shared<ReadBodyLink>();
  Deferred<std::string> done([link](Deferred<std::string>&) {
    // Twisted's readBody cancels by aborting the connection; the Deferred then fails with
    // CancelledError and the receiver's end is ignored.
    // The abort may end the body at once; that end is not the answer.
    link->cancelled = true;
    if (link->producer != nullptr) link->producer->stopProducing();
  });
  response->deliverBody(std::make_unique<ReadBodyReceiver>(done, link, maxSize, response->code,
                                                           response->phrase, response->length));
  return done;
}

}  // namespace torsion::web
