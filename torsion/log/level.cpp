#include "torsion/log/level.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace torsion {

namespace {

constexpr std::array<std::string_view, 5> kNames{"debug", "info", "warn", "error", "critical"};

bool equalsIgnoringCase(std::string_view a, std::string_view b) noexcept {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::string_view toString(LogLevel level) noexcept {
  const auto index = static_cast<std::size_t>(level);
  return index < kNames.size() ? kNames[index] : std::string_view("invalid");
}

std::optional<LogLevel> parseLogLevel(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (equalsIgnoringCase(name, kNames[i])) return static_cast<LogLevel>(i);
  }
  if (equalsIgnoringCase(name, "warning")) return LogLevel::warn;
  return std::nullopt;
}

}  // namespace torsion
