// Fuzzes NetstringReceiver, fed in chunks whose sizes come from the input, against a
// reference parser that reads the whole input at once. A payload "P..." pauses the receiver
// (resumed before a later chunk).
//
// Invariants: the receiver delivers exactly the reference's netstrings and calls the peer
// broken exactly when the reference finds malformed input; re-encoding what it delivered
// with sendString gives back the bytes it consumed; it never buffers more than a netstring of
// maxLength needs.
#include "torsion/protocols/netstring_receiver.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "torsion/testing/string_transport.hpp"

namespace {

using torsion::fuzz::check;

class Receiver : public torsion::protocols::NetstringReceiver {
 public:
  void stringReceived(std::string_view data) override {
    received.emplace_back(data);
    if (!data.empty() && data.front() == 'P' && !transport->disconnecting()) pauseProducing();
  }
  std::vector<std::string> received;
};

struct Reference {
  std::vector<std::string> strings;
  std::size_t consumed = 0;  // bytes of the complete netstrings
  bool malformed = false;
};

Reference malformed(Reference& r) {
  r.malformed = true;
  return r;
}

// The netstring grammar, read straight from the spec.
Reference parse(std::string_view in, std::size_t maxLength) {
  Reference out;
  std::size_t i = 0;
  for (;;) {
    std::size_t length = 0;
    std::size_t digits = 0;
    while (i < in.size() && in[i] >= '0' && in[i] <= '9') {
      if (digits == 1 && length == 0) return malformed(out);
      length = length * 10 + static_cast<std::size_t>(in[i] - '0');
      if (length > maxLength) return malformed(out);
      ++digits;
      ++i;
    }
    if (i == in.size()) return out;
    if (digits == 0 || in[i] != ':') return malformed(out);
    ++i;
    if (in.size() - i < length + 1) {
      // Incomplete, unless a comma is already missing.
      return out;
    }
    if (in[i + length] != ',') return malformed(out);
    out.strings.emplace_back(in.substr(i, length));
    i += length + 1;
    out.consumed = i;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torsion::fuzz::FuzzInput input(data, size);
  torsion::testing::StringTransport transport;
  Receiver receiver;
  receiver.maxLength = input.byte() % 128U;
  receiver.makeConnection(transport);

  std::string fed;
  while (!input.empty()) {
    bool resume = false;
    const std::string_view chunk = input.chunk(resume);
    if (resume && receiver.paused() && !transport.disconnecting()) receiver.resumeProducing();
    fed.append(chunk);
    receiver.dataReceived(chunk);
    if (!receiver.paused()) {
      // The length digits are not kept; the payload and the comma are.
      check(receiver.unparsedBytes() <= receiver.maxLength, "the buffer outgrew maxLength");
    }
  }
  // Each resume delivers at least one string before the next pause.
  for (std::size_t i = 0; i <= fed.size() && receiver.paused() && !transport.disconnecting(); ++i) {
    receiver.resumeProducing();
  }

  const Reference expected = parse(fed, receiver.maxLength);
  if (!receiver.paused()) {
    check(receiver.received == expected.strings, "strings differ from the reference");
    check(receiver.brokenPeer() == expected.malformed, "brokenPeer differs from the reference");
    check(receiver.brokenPeer() == transport.disconnecting(), "broken but connected");
  }
  // Whatever it delivered is a prefix of the reference, and encodes back to the input.
  check(receiver.received.size() <= expected.strings.size(), "more strings than the reference");
  torsion::testing::StringTransport out;
  Receiver encoder;
  encoder.makeConnection(out);
  for (const std::string& s : receiver.received) encoder.sendString(s);
  check(std::string_view(fed).starts_with(out.value()), "re-encoding differs from the input");
  if (receiver.received.size() == expected.strings.size()) {
    check(out.value().size() == expected.consumed, "consumed a different number of bytes");
  }
  return 0;
}
