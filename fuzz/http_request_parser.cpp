// Fuzzes RequestParser (torsion/web/http_parser.hpp): the same bytes fed whole, cut in two, in
// small chunks and with a pause after every event must give the same events, the same error
// status and the same end-of-stream verdict; see http_parser_fuzz.hpp for the checks.
//
// Input: [settings][cut][seed][request bytes...]; settings bit 0 selects small limits.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http_parser_fuzz.hpp"

namespace {

using torsion::fuzz::check;
namespace web = torsion::web;

class RequestSide : public web::RequestParser::Handler {
 public:
  void onRequestHead(const web::RequestHead& h) override {
    check(web::isToken(h.method), "a method that is not a token");
    check(!h.target.empty(), "an empty target");
    std::string text = "req " + std::string(h.method) + " " + std::string(h.target) + " 1." +
                       std::to_string(h.versionMinor) +
                       " form=" + std::to_string(static_cast<int>(h.targetForm)) +
                       " host=" + std::string(h.host) + (h.expectContinue ? " continue" : "") +
                       (h.upgrade ? " upgrade" : "");
    log.head(h, std::move(text));
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
  web::RequestParser* parser = nullptr;

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
  const bool eof = (data[0] & 0x02U) != 0;
  torsion::fuzz::differential<RequestSide>(
      data, size,
      [&](RequestSide& handler) { return std::make_unique<web::RequestParser>(handler, limits); },
      eof);
  return 0;
}
