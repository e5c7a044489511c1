// Line framing: LineReceiver (lines and raw data) and LineOnlyReceiver (lines only), after
// Twisted's twisted.protocols.basic.
//
//   class Chat : public torsion::protocols::LineReceiver {
//     void lineReceived(std::string_view line) override { sendLine(line); }
//   };
//
// Lines are split on `delimiter` ("\r\n" by default) and handed to lineReceived without it.
// A complete line inside one chunk arrives as a view into the read buffer (valid only during
// the call: copy what you keep); only a line split across chunks is copied. A line longer than
// `maxLength` (Twisted's MAX_LENGTH, 16384) goes to lineLengthExceeded instead, which by
// default loses the connection; so does an incomplete line that can no longer become short
// enough (maxLength + delimiter.size() bytes without a delimiter), which bounds the buffer.
//
// Before each line the receiver stops if the transport is disconnecting (a "QUIT" line ends the
// parse: the lines behind it are not delivered) or if it was paused (see FramedReceiver); it
// is safe to call dataReceived, sendLine, setRawMode, setLineMode, clearLineBuffer, the
// producer methods and the transport from inside any callback.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torsion/protocols/framed_receiver.hpp"

namespace torsion::protocols {

// What LineReceiver and LineOnlyReceiver share; derive from one of those.
class LineParser : public FramedReceiver {
 public:
  // The line separator, for reading and for sendLine. It may be changed at any time, even
  // from lineReceived (the rest is then split on the new one). Must not be empty: parsing with
  // an empty delimiter throws std::invalid_argument (which drops the connection).
  std::string delimiter = "\r\n";
  // The longest line accepted, delimiter excluded (Twisted's MAX_LENGTH).
  std::size_t maxLength = 16384;

  // A line arrived, delimiter removed. `line` is valid only during the call.
  virtual void lineReceived(std::string_view line) = 0;

  // A line longer than maxLength arrived, or maxLength + delimiter.size() bytes arrived with
  // no delimiter. `data` is everything received and not yet delivered, from the start of the
  // offending line (it may hold more lines behind it, or only the start of the long line);
  // it is dropped from the receiver before the call. The default loses the connection. An
  // override may keep the connection, and may feed some of `data` back (setLineMode(extra) or
  // dataReceived): parsing goes on after it returns unless it disconnected or paused.
  virtual void lineLengthExceeded(std::string_view data);

  // Writes `line` followed by the delimiter, as one write (no copy: writeSequence).
  void sendLine(std::string_view line);

  // Removes and returns everything received and not yet delivered (Twisted's
  // clearLineBuffer). From inside lineReceived it drops the rest of the current chunk too, so
  // the lines behind the current one are never delivered.
  std::string clearLineBuffer() { return takeUnparsed(); }

 protected:
  bool parse() override;
  // Raw data, for LineReceiver (LineOnlyReceiver never leaves line mode).
  virtual void deliverRaw(std::string_view data) { (void)data; }
  bool lineMode_ = true;

 private:
  // The index in buffer_ + input_ where the first delimiter starts, searching buffer_ from
  // `from`; npos if there is none.
  std::size_t findDelimiter(std::size_t from) const;
  // Calls lineLengthExceeded with everything unparsed (which it drops).
  void exceeded();
  bool mustStop() const;

  std::string line_;         // a line assembled across chunks, or a raw chunk held back
  std::string scannedWith_;  // the delimiter buffer_ was already searched for
};

// Lines only (Twisted's LineOnlyReceiver). Twisted has it as the faster LineReceiver; here both
// split lines in place at the same speed, and this one only drops raw mode from the API.
class LineOnlyReceiver : public LineParser {};

// Lines, and raw data in between (Twisted's LineReceiver): HTTP, SMTP, POP3 and IRC-style
// protocols that switch to a byte count and back.
class LineReceiver : public LineParser {
 public:
  // From now on bytes go to rawDataReceived, including the rest of the current chunk when
  // called from lineReceived.
  void setRawMode() { lineMode_ = false; }
  // Back to lines. `extra` (say, the bytes a rawDataReceived did not use) is parsed as lines
  // before anything received later; called outside a callback, that happens before this
  // returns. Twisted's advice stands: pass no extra from lineReceived (it would come after
  // the rest of the current chunk).
  void setLineMode(std::string_view extra = {});
  bool lineMode() const noexcept { return lineMode_; }

  // Bytes received in raw mode; chunk boundaries carry no meaning. The default throws
  // std::logic_error (Twisted's NotImplementedError): a protocol that calls setRawMode must
  // override it.
  virtual void rawDataReceived(std::string_view data);

 protected:
  void deliverRaw(std::string_view data) final { rawDataReceived(data); }
};

}  // namespace torsion::protocols
