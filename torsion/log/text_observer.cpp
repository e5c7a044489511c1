#include "torsion/log/text_observer.hpp"

#include <time.h>

#include <array>
#include <ctime>

namespace torsion {

std::string formatLogTime(std::chrono::system_clock::time_point when, LogTimeZone zone) {
  if (when == std::chrono::system_clock::time_point{}) return "-";
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  const bool converted = zone == LogTimeZone::utc ? gmtime_r(&seconds, &parts) != nullptr
                                                  : localtime_r(&seconds, &parts) != nullptr;
  std::array<char, 64> buffer{};
  const std::size_t length =
      converted ? std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%S%z", &parts) : 0;
  return length > 0 ? std::string(buffer.data(), length) : std::string("-");
}

std::string formatEventAsText(const LogEvent& event, LogTimeZone zone) {
  std::string text = formatEvent(event);
  if (event.failure) {
    if (!text.empty()) text += '\n';
    text += event.failure->describe();
  }
  if (text.empty()) return text;

  std::string out = formatLogTime(event.time, zone);
  out += " [";
  const FieldValue* system = event.field("log_system");
  if (const std::string* name = system != nullptr ? system->getIf<std::string>() : nullptr) {
    out += *name;
  } else {
    out += event.logNamespace.empty() ? std::string_view("-") : event.logNamespace;
    out += '#';
    out += toString(event.level);
  }
  out += "] ";
  for (const char c : text) {
    out += c;
    if (c == '\n') out += '\t';
  }
  out += '\n';
  return out;
}

LogObserver textFileObserver(std::FILE* out, LogTimeZone zone) {
  return [out, zone](const LogEvent& event) {
    const std::string text = formatEventAsText(event, zone);
    if (text.empty()) return;
    flockfile(out);
    std::fwrite(text.data(), 1, text.size(), out);
    std::fflush(out);
    funlockfile(out);
  };
}

}  // namespace torsion
