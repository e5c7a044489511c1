#include "torsion/protocols/netstring_receiver.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

namespace torsion::protocols {

void NetstringReceiver::sendString(std::string_view data) {
  if (transport == nullptr) throw std::logic_error("sendString: the protocol is not connected");
  std::array<char, 24> digits{};
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), data.size());
  (void)ec;  // 24 characters hold any size_t
  const std::array<std::string_view, 4> pieces{
      std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())), ":", data,
      ","};
  transport->writeSequence(pieces);
}

bool NetstringReceiver::fail() {
  brokenPeer_ = true;
  discardUnparsed();
  if (transport != nullptr) transport->loseConnection();
  return true;
}

bool NetstringReceiver::parse() {
  while (!paused()) {
    if (brokenPeer_) {
      discardUnparsed();
      return true;
    }
    if (input_.empty()) return true;
    switch (state_) {
      case State::length: {
        const char c = input_.front();
        if (c == ':') {
          if (digits_ == 0) return fail();
          input_.remove_prefix(1);
          state_ = State::payload;
          continue;
        }
        if (c < '0' || c > '9') return fail();
        if (digits_ == 1 && length_ == 0) return fail();  // a leading zero
        const auto digit = static_cast<std::size_t>(c - '0');
        // length_ * 10 + digit > maxLength, without overflow.
        if (digit > maxLength || length_ > (maxLength - digit) / 10) return fail();
        length_ = length_ * 10 + digit;
        ++digits_;
        input_.remove_prefix(1);
        continue;
      }
      case State::payload: {
        if (buffer_.empty() && input_.size() > length_) {
          // The hot path: the payload and its comma are in this chunk.
          if (input_[length_] != ',') return fail();
          const std::string_view data = input_.substr(0, length_);
          input_.remove_prefix(length_ + 1);
          state_ = State::length;
          digits_ = length_ = 0;
          stringReceived(data);
          continue;
        }
        const std::size_t take = std::min(length_ - buffer_.size(), input_.size());
        if (buffer_.empty()) buffer_.reserve(length_);
        buffer_.append(input_.substr(0, take));
        input_.remove_prefix(take);
        if (buffer_.size() < length_) return true;
        state_ = State::comma;
        continue;
      }
      case State::comma: {
        if (input_.front() != ',') return fail();
        input_.remove_prefix(1);
        state_ = State::length;
        digits_ = length_ = 0;
        payload_.swap(buffer_);
        buffer_.clear();
        stringReceived(payload_);
        continue;
      }
    }
  }
  return false;
}

}  // namespace torsion::protocols
