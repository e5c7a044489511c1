#include "torsion/testing/string_transport.hpp"

#include <stdexcept>

#include "torsion/defer/failure.hpp"
#include "torsion/net/errors.hpp"

namespace torsion::testing {

StringTransport::StringTransport()
    : StringTransport(Address::ip("10.0.0.1", 12345), Address::ip("192.168.1.1", 54321)) {}

StringTransport::StringTransport(Address host, Address peer)
    : host_(std::move(host)), peer_(std::move(peer)) {}

void StringTransport::write(std::string_view data) {
  written_.append(data);
  ++writeCount_;
}

void StringTransport::writeSequence(std::span<const std::string_view> pieces) {
  for (const std::string_view piece : pieces) written_.append(piece);
  ++writeCount_;
}

void StringTransport::loseConnection() { disconnecting_ = true; }

void StringTransport::abortConnection() {
  aborted_ = true;
  disconnecting_ = true;
}

void StringTransport::loseWriteConnection() { writeConnectionLost_ = true; }

void StringTransport::registerProducer(IProducer& producer, bool streaming) {
  if (producer_ != nullptr) throw std::logic_error("Cannot register two producers");
  producer_ = &producer;
  streaming_ = streaming;
}

void StringTransport::unregisterProducer() {
  if (producer_ == nullptr) {
    throw std::logic_error("Cannot unregister a producer unless one is registered");
  }
  producer_ = nullptr;
  streaming_ = false;
}

// Twisted raises here so that a protocol pausing or resuming a transport it already closed
// shows up in its tests.
void StringTransport::checkState(const char* what) const {
  if (disconnecting_) {
    throw std::logic_error(std::string("Cannot ") + what + " after loseConnection");
  }
  if (producerState_ == kStopped) {
    throw std::logic_error(std::string("Cannot ") + what + " a stopped producer");
  }
}

void StringTransport::pauseProducing() {
  checkState("pause producing");
  producerState_ = kPaused;
}

void StringTransport::resumeProducing() {
  checkState("resume producing");
  producerState_ = kProducing;
}

void StringTransport::stopProducing() { producerState_ = kStopped; }

void StringTransportWithDisconnection::connect(Protocol& protocol) {
  protocol_ = &protocol;
  protocol.makeConnection(*this);
}

void StringTransportWithDisconnection::loseConnection() {
  StringTransport::loseConnection();
  disconnect(Failure(ConnectionDone()));
}

void StringTransportWithDisconnection::abortConnection() {
  StringTransport::abortConnection();
  disconnect(Failure(ConnectionAborted()));
}

void StringTransportWithDisconnection::disconnect(const Failure& reason) {
  if (!connected_) return;
  connected_ = false;
  if (protocol_ == nullptr) return;
  protocol_->connected = false;
  protocol_->connectionLost(reason);
}

}  // namespace torsion::testing
