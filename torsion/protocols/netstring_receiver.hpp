// NetstringReceiver: netstrings (http://cr.yp.to/proto/netstrings.txt), after Twisted's
// twisted.protocols.basic.NetstringReceiver.
//
// A netstring is "<decimal length>:<bytes>," ("5:hello,"). The length has no leading zeros
// ("0:," is the empty string, "05:" is malformed) and may not exceed maxLength (Twisted's
// MAX_LENGTH, 99999), which is checked digit by digit, so a peer cannot make the receiver
// buffer an endless length or more than maxLength payload bytes.
//
// Malformed input (no digits, a leading zero, a length over maxLength, anything but ':' after
// the digits or ',' after the payload) makes the peer "broken" (Twisted's NetstringParseError):
// the receiver loses the connection and ignores everything received after that (Twisted keeps
// the bad bytes and fails on them again with each later read; after a framing error there is
// nothing left to parse).
//
// As in Twisted, delivery goes on after a stringReceived that disconnects (the strings behind it
// in the same read still arrive); it stops while the receiver is paused (see FramedReceiver).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torsion/protocols/framed_receiver.hpp"

namespace torsion::protocols {

class NetstringReceiver : public FramedReceiver {
 public:
  // The longest payload accepted (Twisted's MAX_LENGTH). Change it before data arrives, or
  // between strings.
  std::size_t maxLength = 99999;

  // A netstring arrived: `data` is its payload, valid only during the call.
  virtual void stringReceived(std::string_view data) = 0;

  // Writes `data` as one netstring, as one write (no copy: writeSequence). Throws
  // std::logic_error before makeConnection.
  void sendString(std::string_view data);

  // True once malformed input was received (Twisted's brokenPeer).
  bool brokenPeer() const noexcept { return brokenPeer_; }

 protected:
  bool parse() override;

 private:
  enum class State : unsigned char { length, payload, comma };
  // Marks the peer broken, loses the connection, forgets the input; returns parse()'s result.
  bool fail();

  State state_ = State::length;
  bool brokenPeer_ = false;
  std::size_t digits_ = 0;
  std::size_t length_ = 0;
  std::string payload_;  // a payload delivered from across chunks
};

}  // namespace torsion::protocols
