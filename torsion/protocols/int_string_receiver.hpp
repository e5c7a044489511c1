// Length-prefixed strings: Int8StringReceiver, Int16StringReceiver, Int32StringReceiver, after
// Twisted's twisted.protocols.basic.IntNStringReceiver and its subclasses.
//
// Each string is preceded by its length as an unsigned big-endian integer of 1, 2 or 4 bytes.
// A string whose prefix and payload lie in one chunk reaches stringReceived as a view into the
// read buffer; only a string split across chunks is copied.
//
// A prefix announcing more than maxLength (Twisted's MAX_LENGTH, 99999) bytes goes to
// lengthLimitExceeded, which by default loses the connection, before any of its payload is
// buffered. The receiver then ignores the rest of the stream: once a prefix is refused there
// is no way to find where the next string starts (Twisted keeps the bytes and refuses the
// same prefix again on each later read).
//
// As in Twisted, delivery goes on after a stringReceived that disconnects; it stops while the
// receiver is paused (see FramedReceiver).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "torsion/core/errors.hpp"
#include "torsion/protocols/framed_receiver.hpp"

namespace torsion::protocols {

// sendString was given more bytes than the prefix can count (Twisted's StringTooLongError).
class StringTooLongError : public Error {
 public:
  using Error::Error;
};

// The shared implementation; use Int8StringReceiver, Int16StringReceiver or
// Int32StringReceiver.
class IntNStringReceiver : public FramedReceiver {
 public:
  // The longest string accepted (Twisted's MAX_LENGTH). Change it before data arrives, or
  // between strings.
  std::size_t maxLength = 99999;

  // A string arrived, prefix removed; `data` is valid only during the call.
  virtual void stringReceived(std::string_view data) = 0;

  // A prefix announced `length` > maxLength bytes. The default loses the connection. The
  // rest of the stream is ignored whatever this does.
  virtual void lengthLimitExceeded(std::size_t length);

  // Writes the prefix and `data` as one write (no copy: writeSequence). Throws
  // StringTooLongError if data.size() >= 2^(8 * prefixLength()) (the prefix cannot count it),
  // std::logic_error before makeConnection.
  void sendString(std::string_view data);

  // The size of the length prefix in bytes: 1, 2 or 4.
  std::size_t prefixLength() const noexcept { return prefixLength_; }
  // True once a prefix over maxLength was received.
  bool lengthExceeded() const noexcept { return lengthExceeded_; }

 protected:
  // `prefixLength` is 1, 2 or 4 (anything else: std::invalid_argument).
  explicit IntNStringReceiver(std::size_t prefixLength);
  bool parse() override;

 private:
  std::uint32_t decodeLength(std::string_view prefix) const noexcept;
  // Calls lengthLimitExceeded and makes the receiver ignore the rest of the stream.
  void refuse(std::size_t length);

  std::size_t prefixLength_;
  bool lengthExceeded_ = false;
  std::string frame_;  // a string delivered from across chunks
};

// Strings with a 1-byte length prefix (at most 255 bytes).
class Int8StringReceiver : public IntNStringReceiver {
 protected:
  Int8StringReceiver() : IntNStringReceiver(1) {}
};

// Strings with a 2-byte big-endian length prefix (at most 65535 bytes).
class Int16StringReceiver : public IntNStringReceiver {
 protected:
  Int16StringReceiver() : IntNStringReceiver(2) {}
};

// Strings with a 4-byte big-endian length prefix (maxLength bounds what is accepted).
class Int32StringReceiver : public IntNStringReceiver {
 protected:
  Int32StringReceiver() : IntNStringReceiver(4) {}
};

}  // namespace torsion::protocols
