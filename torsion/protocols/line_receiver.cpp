#include "torsion/protocols/line_receiver.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

namespace torsion::protocols {

void LineParser::lineLengthExceeded(std::string_view data) {
  (void)data;
  if (transport != nullptr) transport->loseConnection();
}

void LineParser::sendLine(std::string_view line) {
  if (transport == nullptr) throw std::logic_error("sendLine: the protocol is not connected");
  const std::array<std::string_view, 2> pieces{line, delimiter};
  transport->writeSequence(pieces);
}

// Paused, or the transport is closing: a line behind a "QUIT" is not delivered.
bool LineParser::mustStop() const {
  return paused() || (transport != nullptr && transport->disconnecting());
}

std::size_t LineParser::findDelimiter(std::size_t from) const {
  const std::string_view d = delimiter;
  const std::string_view buf = buffer_;
  // Wholly inside the buffer (only possible when the delimiter changed since buffer_ was
  // scanned): these start before any straddling match.
  if (const std::size_t p = buf.find(d, from); p != std::string_view::npos) return p;
  // Straddling the buffer and the new chunk: at most d - 1 candidate positions.
  const std::size_t straddleFrom = std::max(from, buf.size() - std::min(buf.size(), d.size() - 1));
  for (std::size_t i = straddleFrom; i < buf.size(); ++i) {
    const std::size_t head = buf.size() - i;
    if (buf.substr(i) == d.substr(0, head) && input_.substr(0, d.size() - head) == d.substr(head)) {
      return i;
    }
  }
  const std::size_t p = input_.find(d);
  return p == std::string_view::npos ? p : buf.size() + p;
}

void LineParser::exceeded() {
  const std::string data = takeUnparsed();
  lineLengthExceeded(data);
}

bool LineParser::parse() {
  while (!mustStop()) {
    if (!lineMode_) {
      if (!buffer_.empty()) {
        line_.swap(buffer_);
        buffer_.clear();
        deliverRaw(line_);
      } else if (!input_.empty()) {
        const std::string_view chunk = input_;
        input_ = {};
        deliverRaw(chunk);
      } else {
        return true;
      }
      continue;
    }

    if (delimiter.empty()) throw std::invalid_argument("LineReceiver: the delimiter is empty");
    const std::size_t d = delimiter.size();
    // This many bytes without a delimiter can no longer end as a line of maxLength bytes.
    const std::size_t hopeless =
        maxLength > std::numeric_limits<std::size_t>::max() - d ? maxLength : maxLength + d;

    if (buffer_.empty()) {
      // The hot path: lines are views into the chunk.
      if (input_.empty()) return true;
      const std::size_t p = input_.find(delimiter);
      if (p == std::string_view::npos) {
        if (input_.size() >= hopeless) {
          exceeded();
          continue;
        }
        buffer_.assign(input_);
        input_ = {};
        scannedWith_ = delimiter;
        return true;
      }
      if (p > maxLength) {
        exceeded();
        continue;
      }
      const std::string_view line = input_.substr(0, p);
      input_.remove_prefix(p + d);
      lineReceived(line);
    } else {
      // A line begun in an earlier chunk: its delimiter may straddle the two.
      const std::size_t from =
          scannedWith_ == delimiter ? buffer_.size() - std::min(buffer_.size(), d - 1) : 0;
      const std::size_t p = findDelimiter(from);
      if (p == std::string_view::npos) {
        if (buffer_.size() + input_.size() >= hopeless) {
          exceeded();
          continue;
        }
        buffer_.append(input_);
        input_ = {};
        scannedWith_ = delimiter;
        return true;
      }
      if (p > maxLength) {
        exceeded();
        continue;
      }
      if (p + d <= buffer_.size()) {
        // The delimiter changed while buffer_ waited: the rest of buffer_ is scanned again.
        line_.assign(buffer_, 0, p);
        buffer_.erase(0, p + d);
        scannedWith_.clear();
      } else {
        const std::size_t taken = p + d - buffer_.size();
        line_.swap(buffer_);
        buffer_.clear();
        line_.append(input_.substr(0, taken));
        line_.resize(p);
        input_.remove_prefix(taken);
      }
      lineReceived(line_);
    }
  }
  return false;
}

void LineReceiver::setLineMode(std::string_view extra) {
  lineMode_ = true;
  if (!extra.empty()) dataReceived(extra);
}

void LineReceiver::rawDataReceived(std::string_view data) {
  (void)data;
  throw std::logic_error("LineReceiver::rawDataReceived is not overridden");
}

}  // namespace torsion::protocols
