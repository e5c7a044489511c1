#include "torsion/protocols/wire.hpp"

#include <array>
#include <cstdint>
#include <ctime>

namespace torsion::protocols {

namespace {

// RFC 864: line n holds the 72 printable characters starting n places further into the 95
// printable ASCII characters (' ' to '~'), wrapping around; after 95 lines it repeats.
constexpr std::size_t kPrintable = 95;
constexpr std::size_t kLineWidth = 72;
constexpr std::size_t kLineSize = kLineWidth + 2;

std::string makePattern() {
  std::string out;
  out.reserve(kPrintable * kLineSize);
  for (std::size_t line = 0; line < kPrintable; ++line) {
    for (std::size_t i = 0; i < kLineWidth; ++i) {
      out.push_back(static_cast<char>(' ' + (line + i) % kPrintable));
    }
    out.append("\r\n");
  }
  return out;
}

// Seconds from 1900-01-01 to 1970-01-01 (RFC 868).
constexpr std::int64_t kEpoch1900 = 2208988800;

}  // namespace

void Echo::dataReceived(std::string_view data) { transport->write(data); }

std::string_view Chargen::pattern() noexcept {
  static const std::string period = makePattern();
  return period;
}

void Chargen::connectionMade() { transport->registerProducer(*this, false); }

void Chargen::resumeProducing() {
  if (stopped_ || transport == nullptr) return;
  transport->write(pattern());
}

void QOTD::connectionMade() {
  transport->write(getQuote());
  transport->loseConnection();
}

void Who::connectionMade() {
  transport->write(getUsers());
  transport->loseConnection();
}

std::string Daytime::format(std::chrono::system_clock::time_point t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 64> text{};
  // asctime's layout: the day of the month padded with a space.
  const std::size_t n = std::strftime(text.data(), text.size(), "%a %b %e %H:%M:%S %Y\r\n", &utc);
  return std::string(text.data(), n);
}

void Daytime::connectionMade() {
  transport->write(format(now_()));
  transport->loseConnection();
}

std::string Time::encode(std::chrono::system_clock::time_point t) {
  const auto sinceEpoch =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  const auto value =
      static_cast<std::uint32_t>(static_cast<std::uint64_t>(sinceEpoch + kEpoch1900));
  return {static_cast<char>(value >> 24U), static_cast<char>((value >> 16U) & 0xFFU),
          static_cast<char>((value >> 8U) & 0xFFU), static_cast<char>(value & 0xFFU)};
}

void Time::connectionMade() {
  transport->write(encode(now_()));
  transport->loseConnection();
}

}  // namespace torsion::protocols
