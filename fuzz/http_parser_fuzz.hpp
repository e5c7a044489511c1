// What the two HTTP parser fuzz targets share: the input read as [settings][cut][seed][bytes...],
// the bytes parsed four ways by fresh parsers (whole; cut in two; in chunks of 1..16 bytes; whole
// but pausing after every event and feeding the rest again), and checks that all four saw the
// same events (body bytes merged), failed alike with the same status, and kept the contract:
// everything consumed unless failed or upgraded, a bounded buffer, valid views, bodies of the
// announced length, nothing consumed after failing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "torsion/web/http_parser.hpp"

namespace torsion::fuzz {

// Small limits (settings bit 0) make the limit paths reachable from short inputs.
inline web::Limits fuzzLimits(std::uint8_t settings) {
  web::Limits limits;
  if ((settings & 0x01U) != 0) {
    limits.maxStartLine = 48;
    limits.maxFieldLine = 40;
    limits.maxFieldSection = 160;
    limits.maxFieldCount = 6;
    limits.maxChunkLine = 12;
  }
  return limits;
}

inline std::size_t bufferBound(const web::Limits& limits) {
  return limits.maxStartLine + limits.maxFieldSection + limits.maxFieldLine + limits.maxChunkLine +
         8;
}

// Events as text; checks what each event must satisfy on its own.
class EventLog {
 public:
  void head(const web::MessageHead& h, std::string text) {
    check(!inMessage_, "a head inside a message");
    check(h.versionMinor == 0 || h.versionMinor == 1, "a version other than 1.0 or 1.1");
    for (const web::HeaderField& f : h.fields) {
      check(web::isToken(f.name), "a field name that is not a token");
      check(web::isFieldValue(f.value), "a field value with forbidden bytes");
      text.append(" ").append(f.name).append(":").append(f.value);
    }
    text += " framing=" + std::to_string(static_cast<int>(h.framing));
    text += h.keepAlive ? " ka" : " close";
    if (h.contentLength) text += " cl=" + std::to_string(*h.contentLength);
    if (h.framing == web::BodyFraming::ContentLength) {
      check(h.contentLength.has_value(), "ContentLength framing without a length");
      expected_ = *h.contentLength;
      counted_ = true;
    } else {
      counted_ = h.framing == web::BodyFraming::None;
      expected_ = 0;
    }
    bodyBytes_ = 0;
    inMessage_ = true;
    events.push_back(std::move(text));
  }

  void body(std::string_view data) {
    check(inMessage_, "body outside a message");
    check(!data.empty(), "an empty body event");
    bodyBytes_ += data.size();
    if (!events.empty() && events.back().starts_with("body ")) {
      events.back().append(data);
    } else {
      events.push_back("body " + std::string(data));
    }
  }

  void trailers(std::span<const web::HeaderField> fields) {
    check(inMessage_, "trailers outside a message");
    check(!fields.empty(), "an empty trailer section delivered");
    std::string text = "trailers";
    for (const web::HeaderField& f : fields) {
      check(web::isToken(f.name), "a trailer name that is not a token");
      check(web::isFieldValue(f.value), "a trailer value with forbidden bytes");
      text.append(" ").append(f.name).append(":").append(f.value);
    }
    events.push_back(std::move(text));
  }

  void complete() {
    check(inMessage_, "complete outside a message");
    if (counted_) check(bodyBytes_ == expected_, "a body of another length than announced");
    inMessage_ = false;
    events.push_back("complete");
  }

  std::vector<std::string> events;
  bool pauseEveryEvent = false;
  bool paused = false;

 private:
  bool inMessage_ = false;
  bool counted_ = false;
  std::uint64_t expected_ = 0;
  std::uint64_t bodyBytes_ = 0;
};

// What one way of feeding produced.
struct Run {
  std::vector<std::string> events;
  bool failed = false;
  int status = 0;
  bool eofClean = false;
  web::Phase phase = web::Phase::Idle;
};

// Parses `bytes` with a fresh Parser (made by `make(handler)`), fed by `how`: 0 whole, 1 cut at
// `cut`, 2 chunks sized from `seed`, 3 whole with a pause after every event. Ends with feedEof
// when `eof`.
template <class Handler, class Make>
Run parseOnce(std::string_view bytes, int how, std::size_t cut, std::uint32_t seed, bool eof,
              Make&& make) {
  Handler handler;
  handler.log.pauseEveryEvent = how == 3;
  auto parser = make(handler);
  handler.parser = parser.get();
  const std::size_t bound = bufferBound(parser->limits());
  auto feed = [&](std::string_view piece) {
    const std::size_t used = parser->feed(piece);
    check(used <= piece.size(), "consumed more than was fed");
    check(parser->bufferedBytes() <= bound, "the buffer outgrew the limits");
    const web::Phase phase = parser->phase();
    if (used < piece.size()) {
      check(phase == web::Phase::Failed || phase == web::Phase::Upgraded || handler.log.paused,
            "bytes left over without a pause, an error or an upgrade");
    }
    if (phase == web::Phase::Failed) check(parser->feed(piece) == 0, "a failed parser consumed");
    return used;
  };
  switch (how) {
    case 0:
      feed(bytes);
      break;
    case 1:
      feed(bytes.substr(0, cut));
      if (!parser->failed()) feed(bytes.substr(cut));
      break;
    case 2: {
      std::uint32_t state = seed | 1U;
      std::size_t i = 0;
      while (i < bytes.size() && !parser->failed()) {
        state = state * 1103515245U + 12345U;
        const std::size_t size = 1 + (state >> 16) % 16;
        feed(bytes.substr(i, size));
        i += size;
      }
      break;
    }
    default: {
      std::string_view rest = bytes;
      // Each round delivers at least one event or ends; events are bounded by the bytes.
      for (std::size_t round = 0;; ++round) {
        check(round <= 4 * bytes.size() + 8, "pausing never ends");
        handler.log.paused = false;
        rest.remove_prefix(feed(rest));
        if (!handler.log.paused || parser->failed()) break;
      }
      break;
    }
  }
  Run run;
  if (eof) run.eofClean = parser->feedEof();
  run.events = handler.log.events;
  run.failed = parser->failed();
  run.status = parser->error().status;
  run.phase = parser->phase();
  return run;
}

// Parses the input the four ways and compares.
template <class Handler, class Make>
void differential(const std::uint8_t* data, std::size_t size, Make&& make, bool eof) {
  if (size < 3) return;
  // data[0] holds the settings, read by the caller through `make`.
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t cut = data[1] * (bytes.size() + 1) / 256;
  const std::uint32_t seed = static_cast<std::uint32_t>(data[2]) << 8U;
  const Run whole = parseOnce<Handler>(bytes, 0, cut, seed, eof, make);
  for (int how = 1; how < 4; ++how) {
    const Run other = parseOnce<Handler>(bytes, how, cut, seed, eof, make);
    check(other.events == whole.events, "events differ between ways of feeding");
    check(other.failed == whole.failed, "one way of feeding failed, another did not");
    check(other.status == whole.status, "error statuses differ between ways of feeding");
    check(other.eofClean == whole.eofClean, "end of stream judged differently");
    check(other.phase == whole.phase, "phases differ at the end");
  }
}

}  // namespace torsion::fuzz
