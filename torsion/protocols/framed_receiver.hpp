// FramedReceiver: the reassembly machinery every framing of torsion::protocols shares (the
// line, netstring and length-prefixed receivers), and what makes each of them a push
// producer that can be paused (Twisted's _PauseableMixin).
//
// A subclass parses its framing in parse(); this base takes care of three things Twisted's
// receivers do by hand, each the same way:
//  - No copy on the hot path. dataReceived's view is parsed in place: a frame that lies wholly
//    inside one chunk reaches the callback as a view into the reactor's read buffer. Only the
//    incomplete frame at the end of a chunk is copied, into a buffer that keeps its capacity.
//  - Re-entrancy. A callback may call dataReceived again (setLineMode(extra), a loopback peer
//    answering synchronously): the new bytes are queued after what is not yet parsed and are
//    parsed once the current callback returns, never in the middle of another frame.
//  - Pausing. pauseProducing() (from a callback or from outside) stops delivery after the
//    current frame: what is left waits until resumeProducing(), which parses it at once, and
//    bytes arriving meanwhile wait behind it. The transport is paused too, so it stops reading.
//
// All calls happen on the reactor thread, like every Protocol call.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::protocols {

class FramedReceiver : public Protocol, public IProducer {
 public:
  // Parses `data` (with whatever was kept from earlier chunks), calling the subclass's frame
  // callbacks. Re-entrant calls and calls while paused queue `data` instead.
  void dataReceived(std::string_view data) override;

  // As an IPushProducer of frames: pauseProducing() stops delivering frames (after the one
  // being delivered, if any) and pauses the transport; resumeProducing() resumes the transport
  // and delivers what was held back, before returning; stopProducing() stops delivery for
  // good and stops the transport (which loses the connection). Each is a no-op on the
  // transport side before makeConnection.
  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;
  bool paused() const noexcept { return paused_; }

  // Bytes received and not yet delivered: the incomplete frame, plus whatever is held back
  // while paused or queued by a re-entrant call. Bounded by the framing's maximum frame
  // size unless the receiver is paused.
  std::size_t unparsedBytes() const noexcept {
    return buffer_.size() + input_.size() + pending_.size();
  }

 protected:
  FramedReceiver() = default;

  // Consumes input_ (and buffer_), delivering frames. Returns true once everything it was
  // given is consumed or kept in buffer_ as an incomplete frame; returns false to stop early,
  // after a callback paused the receiver or disconnected: then buffer_, input_ and what is
  // queued are kept, in that order, to be parsed again from the start on the next call.
  // An exception escaping it leaves the receiver consistent (the transport drops the
  // connection anyway).
  virtual bool parse() = 0;

  // Removes and returns everything received and not yet delivered, in order.
  std::string takeUnparsed();
  // Forgets everything received and not yet delivered.
  void discardUnparsed();

  // The unparsed rest of the chunk being parsed (a view into the caller's buffer or into the
  // queue); empty outside parse().
  std::string_view input_;
  // The framing's own buffer: an incomplete frame from earlier chunks. Parsed before input_.
  std::string buffer_;

 private:
  // Puts buffer_ + input_ + the queue back into the queue (stop: parse() returned false).
  void holdBack();

  std::string pending_;  // bytes that arrived during a callback or while paused
  std::string work_;     // the queue being parsed (input_ may view it)
  bool busy_ = false;
  bool paused_ = false;
};

}  // namespace torsion::protocols
