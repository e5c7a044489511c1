// The body of the Int16/Int32StringReceiver fuzz targets: the receiver, fed in chunks whose
// sizes come from the input, against a reference parser that reads the whole input at once.
// A string "P..." pauses the receiver (resumed before a later chunk).
//
// Invariants: the receiver delivers exactly the reference's strings and refuses a length
// exactly when the reference finds one over maxLength; re-encoding what it delivered with
// sendString gives back the bytes it consumed; between reads it buffers at most one prefix
// and maxLength bytes unless paused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "torsion/protocols/int_string_receiver.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::fuzz {

template <class Base>
class IntReceiver : public Base {
 public:
  void stringReceived(std::string_view data) override {
    received.emplace_back(data);
    if (!data.empty() && data.front() == 'P' && !this->transport->disconnecting()) {
      this->pauseProducing();
    }
  }
  std::vector<std::string> received;
};

struct IntReference {
  std::vector<std::string> strings;
  std::size_t consumed = 0;
  bool exceeded = false;
};

inline IntReference parseIntStrings(std::string_view in, std::size_t prefix,
                                    std::size_t maxLength) {
  IntReference out;
  std::size_t i = 0;
  while (in.size() - i >= prefix) {
    std::size_t length = 0;
    for (std::size_t k = 0; k < prefix; ++k) {
      length = length * 256 + static_cast<unsigned char>(in[i + k]);
    }
    if (length > maxLength) {
      out.exceeded = true;
      break;
    }
    if (in.size() - i - prefix < length) break;
    out.strings.emplace_back(in.substr(i + prefix, length));
    i += prefix + length;
    out.consumed = i;
  }
  return out;
}

template <class Base>
int fuzzIntStrings(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  testing::StringTransport transport;
  IntReceiver<Base> receiver;
  // Small limits make refusals likely; 0xFF lifts the limit to every length the prefix holds.
  const std::uint8_t limit = input.byte();
  receiver.maxLength = limit == 0xFF ? 0xFFFFFFFFU : limit;
  receiver.makeConnection(transport);
  const std::size_t prefix = receiver.prefixLength();

  std::string fed;
  while (!input.empty()) {
    bool resume = false;
    const std::string_view chunk = input.chunk(resume);
    if (resume && receiver.paused() && !transport.disconnecting()) receiver.resumeProducing();
    fed.append(chunk);
    receiver.dataReceived(chunk);
    if (!receiver.paused()) {
      check(receiver.unparsedBytes() <= prefix + receiver.maxLength,
            "the buffer outgrew one string");
    }
  }
  for (std::size_t i = 0; i <= fed.size() && receiver.paused() && !transport.disconnecting(); ++i) {
    receiver.resumeProducing();
  }

  const IntReference expected = parseIntStrings(fed, prefix, receiver.maxLength);
  if (!receiver.paused()) {
    check(receiver.received == expected.strings, "strings differ from the reference");
    check(receiver.lengthExceeded() == expected.exceeded, "refusal differs from the reference");
    check(receiver.lengthExceeded() == transport.disconnecting(), "refused but connected");
  }
  check(receiver.received.size() <= expected.strings.size(), "more strings than the reference");
  testing::StringTransport out;
  IntReceiver<Base> encoder;
  encoder.makeConnection(out);
  for (const std::string& s : receiver.received) encoder.sendString(s);
  check(std::string_view(fed).starts_with(out.value()), "re-encoding differs from the input");
  if (receiver.received.size() == expected.strings.size()) {
    check(out.value().size() == expected.consumed, "consumed a different number of bytes");
  }
  return 0;
}

}  // namespace torsion::fuzz
