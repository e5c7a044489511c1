#include "torsion/protocols/int_string_receiver.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace torsion::protocols {

namespace {

// What a partial string may reserve from its prefix alone: a peer announcing a huge string
// must send it before the buffer grows to match.
constexpr std::size_t kMaxReserve = 64 * 1024;

}  // namespace

IntNStringReceiver::IntNStringReceiver(std::size_t prefixLength) : prefixLength_(prefixLength) {
  if (prefixLength != 1 && prefixLength != 2 && prefixLength != 4) {
    throw std::invalid_argument("IntNStringReceiver: the prefix length must be 1, 2 or 4");
  }
}

void IntNStringReceiver::lengthLimitExceeded(std::size_t length) {
  (void)length;
  if (transport != nullptr) transport->loseConnection();
}

void IntNStringReceiver::sendString(std::string_view data) {
  const std::uint64_t limit = std::uint64_t{1} << (8 * prefixLength_);
  if (data.size() >= limit) {
    throw StringTooLongError("Try to send " + std::to_string(data.size()) +
                             " bytes whereas maximum is " + std::to_string(limit));
  }
  if (transport == nullptr) throw std::logic_error("sendString: the protocol is not connected");
  std::array<char, 4> prefix{};
  auto size = static_cast<std::uint32_t>(data.size());
  for (std::size_t i = prefixLength_; i-- > 0;) {
    prefix[i] = static_cast<char>(size & 0xFFU);
    size >>= 8U;
  }
  const std::array<std::string_view, 2> pieces{std::string_view(prefix.data(), prefixLength_),
                                               data};
  transport->writeSequence(pieces);
}

std::uint32_t IntNStringReceiver::decodeLength(std::string_view prefix) const noexcept {
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < prefixLength_; ++i) {
    length = (length << 8U) | static_cast<unsigned char>(prefix[i]);
  }
  return length;
}

void IntNStringReceiver::refuse(std::size_t length) {
  lengthExceeded_ = true;
  discardUnparsed();
  lengthLimitExceeded(length);
}

bool IntNStringReceiver::parse() {
  const std::size_t p = prefixLength_;
  while (!paused()) {
    if (lengthExceeded_) {
      discardUnparsed();
      return true;
    }
    if (!buffer_.empty()) {
      // A string begun in an earlier chunk: complete its prefix, then its payload.
      if (buffer_.size() < p) {
        const std::size_t take = std::min(p - buffer_.size(), input_.size());
        buffer_.append(input_.substr(0, take));
        input_.remove_prefix(take);
        if (buffer_.size() < p) return true;
      }
      const std::size_t length = decodeLength(buffer_);
      if (length > maxLength) {
        refuse(length);
        continue;
      }
      if (buffer_.size() == p) buffer_.reserve(p + std::min(length, kMaxReserve));
      const std::size_t take = std::min(p + length - buffer_.size(), input_.size());
      buffer_.append(input_.substr(0, take));
      input_.remove_prefix(take);
      if (buffer_.size() < p + length) return true;
      frame_.swap(buffer_);
      buffer_.clear();
      stringReceived(std::string_view(frame_).substr(p));
      continue;
    }
    if (input_.size() < p) {
      buffer_.assign(input_);
      input_ = {};
      return true;
    }
    // The hot path: strings are views into the chunk.
    const std::size_t length = decodeLength(input_);
    if (length > maxLength) {
      refuse(length);
      continue;
    }
    if (input_.size() - p < length) {
      buffer_.reserve(p + std::min(length, kMaxReserve));
      buffer_.assign(input_);
      input_ = {};
      return true;
    }
    const std::string_view data = input_.substr(p, length);
    input_.remove_prefix(p + length);
    stringReceived(data);
  }
  return false;
}

}  // namespace torsion::protocols
