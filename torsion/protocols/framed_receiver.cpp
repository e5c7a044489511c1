#include "torsion/protocols/framed_receiver.hpp"

#include <utility>

namespace torsion::protocols {

namespace {

// Clears the busy flag and the view into the caller's buffer however parse() leaves, so that
// a throwing callback cannot leave input_ dangling or the receiver deaf.
class ParsingScope {
 public:
  ParsingScope(bool& busy, std::string_view& input) : busy_(busy), input_(input) { busy_ = true; }
  ~ParsingScope() {
    busy_ = false;
    input_ = {};
  }
  ParsingScope(const ParsingScope&) = delete;
  ParsingScope& operator=(const ParsingScope&) = delete;

 private:
  bool& busy_;
  std::string_view& input_;
};

}  // namespace

void FramedReceiver::dataReceived(std::string_view data) {
  if (busy_ || paused_) {
    pending_.append(data);
    return;
  }
  ParsingScope scope(busy_, input_);
  if (pending_.empty()) {
    input_ = data;
  } else {
    // Held-back bytes come first; parse them from the queue with `data` behind them.
    pending_.append(data);
  }
  for (;;) {
    if (!parse()) {
      holdBack();
      return;
    }
    if (pending_.empty() || paused_) return;
    work_.swap(pending_);
    pending_.clear();
    input_ = work_;
  }
}

void FramedReceiver::holdBack() {
  if (buffer_.empty() && input_.empty()) return;
  std::string rest;
  rest.reserve(buffer_.size() + input_.size() + pending_.size());
  rest.append(buffer_).append(input_).append(pending_);
  buffer_.clear();
  input_ = {};
  pending_.swap(rest);
}

std::string FramedReceiver::takeUnparsed() {
  std::string all;
  all.reserve(unparsedBytes());
  all.append(buffer_).append(input_).append(pending_);
  discardUnparsed();
  return all;
}

void FramedReceiver::discardUnparsed() {
  buffer_.clear();
  input_ = {};
  pending_.clear();
}

void FramedReceiver::pauseProducing() {
  paused_ = true;
  if (transport != nullptr) transport->pauseProducing();
}

void FramedReceiver::resumeProducing() {
  paused_ = false;
  if (transport != nullptr) transport->resumeProducing();
  dataReceived({});
}

void FramedReceiver::stopProducing() {
  paused_ = true;
  if (transport != nullptr) transport->stopProducing();
}

}  // namespace torsion::protocols
