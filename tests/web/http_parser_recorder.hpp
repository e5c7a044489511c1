// Handlers that write a parser's events down as text, so that a test can compare what two ways
// of feeding the same bytes produced, or state what one should produce.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/web/http_parser.hpp"

namespace torsion::web::test {

inline std::string describeFields(std::span<const HeaderField> fields) {
  std::string out;
  for (const HeaderField& f : fields) {
    out += ' ';
    out.append(f.name).append("=").append(f.value);
  }
  return out;
}

inline std::string describeFraming(const MessageHead& head) {
  std::string out;
  switch (head.framing) {
    case BodyFraming::None:
      out = "none";
      break;
    case BodyFraming::ContentLength:
      out = "cl:" + std::to_string(*head.contentLength);
      break;
    case BodyFraming::Chunked:
      out = "chunked";
      break;
    case BodyFraming::UntilClose:
      out = "close";
      break;
  }
  out += head.keepAlive ? " keep-alive" : " close";
  if (head.upgrade) out += " upgrade";
  return out;
}

// Events as strings: "head ...", "body <bytes>" (consecutive body pieces merged, since how a
// body is cut depends on the reads), "trailers ...", "complete".
class Events {
 public:
  void head(std::string text) { events.push_back("head " + std::move(text)); }
  void body(std::string_view data) {
    if (!events.empty() && events.back().starts_with("body ")) {
      events.back().append(data);
    } else {
      events.push_back("body " + std::string(data));
    }
    ++bodyCalls;
  }
  void trailers(std::span<const HeaderField> fields) {
    events.push_back("trailers" + describeFields(fields));
  }
  void complete() { events.push_back("complete"); }

  std::vector<std::string> events;
  std::size_t bodyCalls = 0;
};

class RequestRecorder : public RequestParser::Handler, public Events {
 public:
  void onRequestHead(const RequestHead& h) override {
    static constexpr const char* kForms[] = {"origin", "absolute", "authority", "asterisk"};
    head(std::string(h.method) + " " + std::string(h.target) + " 1." +
         std::to_string(h.versionMinor) + " " + kForms[static_cast<int>(h.targetForm)] + " " +
         describeFraming(h) + (h.expectContinue ? " continue" : "") +
         " host=" + std::string(h.host) + " |" + describeFields(h.fields));
    if (pauseOnHead && parser != nullptr) parser->pause();
  }
  void onBody(std::string_view data) override {
    body(data);
    if (pauseOnBody && parser != nullptr) parser->pause();
  }
  void onTrailers(std::span<const HeaderField> fields) override { trailers(fields); }
  void onMessageComplete() override {
    complete();
    if (pauseOnComplete && parser != nullptr) parser->pause();
  }

  RequestParser* parser = nullptr;
  bool pauseOnHead = false;
  bool pauseOnBody = false;
  bool pauseOnComplete = false;
};

class ResponseRecorder : public ResponseParser::Handler, public Events {
 public:
  void onResponseHead(const ResponseHead& h) override {
    head(std::to_string(h.status) + " " + std::string(h.reason) + " 1." +
         std::to_string(h.versionMinor) + " " + describeFraming(h) + " |" +
         describeFields(h.fields));
  }
  void onBody(std::string_view data) override { body(data); }
  void onTrailers(std::span<const HeaderField> fields) override { trailers(fields); }
  void onMessageComplete() override { complete(); }
};

// What feeding some bytes did.
struct Outcome {
  std::vector<std::string> events;
  bool failed = false;
  int status = 0;
  std::string reason;
  std::size_t consumed = 0;
};

// Feeds `bytes` to a new RequestParser in pieces of `piece` bytes (0: all at once).
inline Outcome parseRequests(std::string_view bytes, std::size_t piece = 0,
                             const Limits& limits = {}) {
  RequestRecorder recorder;
  RequestParser parser(recorder, limits);
  Outcome out;
  const std::size_t step = piece == 0 ? bytes.size() : piece;
  for (std::size_t i = 0; i < bytes.size() && !parser.failed(); i += step) {
    out.consumed += parser.feed(bytes.substr(i, step));
  }
  out.events = recorder.events;
  out.failed = parser.failed();
  out.status = parser.error().status;
  out.reason = std::string(parser.error().reason);
  return out;
}

// Feeds `bytes` to a new ResponseParser (told `method`) in pieces, then an end of stream if
// `eof`.
inline Outcome parseResponses(std::string_view bytes, std::string_view method = "GET",
                              std::size_t piece = 0, bool eof = false) {
  ResponseRecorder recorder;
  ResponseParser parser(recorder);
  parser.setRequestMethod(method);
  Outcome out;
  const std::size_t step = piece == 0 ? bytes.size() : piece;
  for (std::size_t i = 0; i < bytes.size() && !parser.failed(); i += step) {
    out.consumed += parser.feed(bytes.substr(i, step));
  }
  if (eof) parser.feedEof();
  out.events = recorder.events;
  out.failed = parser.failed();
  out.status = parser.error().status;
  out.reason = std::string(parser.error().reason);
  return out;
}

}  // namespace torsion::web::test
