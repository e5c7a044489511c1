// The examples' PORT argument: a decimal number from 0 to 65535 (0: any free port).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>

namespace examples {

inline std::optional<std::uint16_t> parsePort(const char* text) {
  char* end = nullptr;
  const long port = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || port < 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

}  // namespace examples
