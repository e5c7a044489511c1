#include "torsion/app/syslog_observer.hpp"

#include <cstdint>
#include <list>
#include <mutex>
#include <string_view>
#include <utility>

namespace torsion::app {
namespace {

std::optional<int> integerField(const LogEvent& event, std::string_view name) {
  const FieldValue* value = event.field(name);
  if (value == nullptr) return std::nullopt;
  if (const std::int64_t* number = value->getIf<std::int64_t>()) {
    if (*number >= 0 && *number <= 0xffff) return static_cast<int>(*number);
  }
  if (const std::uint64_t* number = value->getIf<std::uint64_t>()) {
    if (*number <= 0xffff) return static_cast<int>(*number);
  }
  return std::nullopt;
}

// openlog keeps the pointer it is given, so every tag ever passed stays alive.
const char* keepTag(std::string prefix) {
  static std::mutex mutex;
  static auto* tags = new std::list<std::string>();  // never destroyed: syslog may outlive statics
  const std::lock_guard lock(mutex);
  return tags->emplace_back(std::move(prefix)).c_str();
}

}  // namespace

int syslogPriority(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return LOG_DEBUG;
    case LogLevel::info:
      return LOG_INFO;
    case LogLevel::warn:
      return LOG_WARNING;
    case LogLevel::error:
      return LOG_ERR;
    case LogLevel::critical:
      return LOG_CRIT;
  }
  return LOG_INFO;
}

int syslogPriorityOf(const LogEvent& event, int facility) noexcept {
  const int priority =
      integerField(event, "syslogPriority").value_or(syslogPriority(event.level)) & LOG_PRIMASK;
  const int chosenFacility = integerField(event, "syslogFacility").value_or(facility) & LOG_FACMASK;
  return priority | chosenFacility;
}

std::vector<std::string> syslogLines(const LogEvent& event) {
  std::string text = formatEvent(event);
  if (event.failure) {
    if (!text.empty()) text += '\n';
    text += event.failure->describe();
  }
  std::vector<std::string> lines;
  if (text.empty()) return lines;
  std::string system;
  const FieldValue* field = event.field("log_system");
  if (const std::string* name = field != nullptr ? field->getIf<std::string>() : nullptr) {
    system = *name;
  } else {
    system = event.logNamespace.empty() ? "-" : event.logNamespace;
    system += '#';
    system += toString(event.level);
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find('\n', start);
    const std::string_view line =
        std::string_view(text).substr(start, end == std::string::npos ? end : end - start);
    lines.push_back("[" + system + "] " + (lines.empty() ? "" : "\t") + std::string(line));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

LogObserver syslogObserver(std::string prefix, int facility, SyslogSink sink) {
  if (!sink) {
    ::openlog(keepTag(std::move(prefix)), LOG_PID, facility);
    sink = [](int priority, const std::string& line) { ::syslog(priority, "%s", line.c_str()); };
  }
  return [facility, sink = std::move(sink)](const LogEvent& event) {
    const int priority = syslogPriorityOf(event, facility);
    for (const std::string& line : syslogLines(event)) sink(priority, line);
  };
}

}  // namespace torsion::app
