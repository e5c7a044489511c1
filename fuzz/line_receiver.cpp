// Fuzzes LineReceiver: lines, raw mode switched by the lines themselves ("R<n>": the next n
// bytes are raw, then back to lines), delimiter changes ("D"), pauses ("P", resumed before a
// later chunk) and clearLineBuffer ("C"), fed in chunks whose sizes come from the input.
//
// Invariants: every byte fed comes back exactly once, in order, as a line and its delimiter,
// raw data, data passed to lineLengthExceeded, data cleared, or what is still buffered at the
// end; no line is longer than maxLength or contains its delimiter; between reads the buffer
// holds less than maxLength + delimiter bytes unless the receiver is paused or in raw mode.
#include "torsion/protocols/line_receiver.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "torsion/testing/string_transport.hpp"

namespace {

using torsion::fuzz::check;

constexpr std::string_view kDelimiters[] = {"\r\n", "\n", "<END>", "aa"};

class Receiver : public torsion::protocols::LineReceiver {
 public:
  void lineReceived(std::string_view line) override {
    check(line.size() <= maxLength, "a line longer than maxLength");
    check(line.find(delimiter) == std::string_view::npos, "a line holding its delimiter");
    seen.append(line).append(delimiter);
    if (line.empty()) return;
    switch (line.front()) {
      case 'R':
        rawLeft = line.size() > 1 ? static_cast<unsigned char>(line[1]) % 16U : 0U;
        setRawMode();
        break;
      case 'D':
        delimiter = kDelimiters[(line.size() > 1 ? static_cast<unsigned char>(line[1]) : 0U) % 4];
        break;
      case 'P':
        if (!transport->disconnecting()) pauseProducing();
        break;
      case 'C':
        seen += clearLineBuffer();
        break;
      default:
        break;
    }
  }

  void rawDataReceived(std::string_view data) override {
    const std::size_t mine = std::min(rawLeft, data.size());
    seen.append(data.substr(0, mine));
    rawLeft -= mine;
    if (rawLeft == 0) setLineMode(data.substr(mine));
  }

  void lineLengthExceeded(std::string_view data) override {
    seen.append(data);
    if (loseOnExceeded) transport->loseConnection();
  }

  std::string seen;
  std::size_t rawLeft = 0;
  bool loseOnExceeded = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torsion::fuzz::FuzzInput input(data, size);
  torsion::testing::StringTransport transport;
  Receiver receiver;
  const std::uint8_t settings = input.byte();
  receiver.delimiter = kDelimiters[settings % 4];
  receiver.loseOnExceeded = (settings & 0x04U) != 0;
  receiver.maxLength = input.byte() % 64U;
  receiver.makeConnection(transport);

  std::string fed;
  while (!input.empty()) {
    bool resume = false;
    const std::string_view chunk = input.chunk(resume);
    if (resume && receiver.paused() && !transport.disconnecting()) receiver.resumeProducing();
    fed.append(chunk);
    receiver.dataReceived(chunk);
    if (!receiver.paused() && !transport.disconnecting() && receiver.lineMode()) {
      check(receiver.unparsedBytes() < receiver.maxLength + receiver.delimiter.size(),
            "the buffer outgrew the longest line");
    }
  }
  check(receiver.seen + receiver.clearLineBuffer() == fed, "bytes lost, duplicated or reordered");
  return 0;
}
