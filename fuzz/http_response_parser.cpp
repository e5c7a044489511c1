// Fuzzes ResponseParser (torsion/web/http_parser.hpp), the client's parser of untrusted server
// bytes: the same bytes fed whole, cut in two, in small chunks and with a pause after every
// event must give the same events, the same error and the same end-of-stream verdict; see
// http_parser_fuzz.hpp for the checks.
//
// Input: [settings][cut][seed][response bytes...]; settings bit 0 selects small limits, bits 1-2
// the request method (GET, HEAD, CONNECT, POST), bit 3 an end of stream after the bytes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http_parser_fuzz.hpp"

namespace {

using torsion::fuzz::check;
namespace web = torsion::web;

constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT", "POST"};

class ResponseSide : public web::ResponseParser::Handler {
 public:
  void onResponseHead(const web::ResponseHead& h) override {
    check(h.status >= 100 && h.status <= 599, "a status out of range");
    log.head(h, "resp " + std::to_string(h.status) + " " + std::string(h.reason) + " 1." +
                    std::to_string(h.versionMinor) + (h.upgrade ? " upgrade" : ""));
    maybePause();
  }
  void onBody(std::string_view data) override {
    log.body(data);
    maybePause();
  }
  void onTrailers(std::span<const web::HeaderField> fields) override {
    log.trailers(fields);
    maybePause();
  }
  void onMessageComplete() override {
    log.complete();
    maybePause();
  }

  torsion::fuzz::EventLog log;
  web::ResponseParser* parser = nullptr;

 private:
  void maybePause() {
    if (!log.pauseEveryEvent) return;
    parser->pause();
    log.paused = true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const web::Limits limits = torsion::fuzz::fuzzLimits(data[0]);
  const std::string_view method = kMethods[(data[0] >> 1U) & 0x03U];
  const bool eof = (data[0] & 0x08U) != 0;
  torsion::fuzz::differential<ResponseSide>(
      data, size,
      [&](ResponseSide& handler) {
        auto parser = std::make_unique<web::ResponseParser>(handler, limits);
        parser->setRequestMethod(method);
        return parser;
      },
      eof);
  return 0;
}
