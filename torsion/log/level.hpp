// LogLevel: how much an event matters (twisted.logger.LogLevel).
#pragma once

#include <optional>
#include <string_view>

namespace torsion {

// Ordered from least to most severe, so that levels compare with < and >=.
enum class LogLevel { debug, info, warn, error, critical };

// "debug", "info", "warn", "error" or "critical" (Twisted's LogLevel.name); "invalid" for a
// value outside the enumeration.
std::string_view toString(LogLevel level) noexcept;

// The level with that name, ignoring case (Twisted's LogLevel.levelWithName); "warning" is
// accepted for warn. std::nullopt for anything else.
std::optional<LogLevel> parseLogLevel(std::string_view name) noexcept;

}  // namespace torsion
