// torsion::SourceLocation: where something was made, for logs.
//
// std::source_location needs __builtin_source_location, which clang 14 (Debian 12's clang)
// lacks; the __builtin_FILE/LINE/FUNCTION intrinsics work in g++ and clang alike. The
// member names match std::source_location.
#pragma once

#include <cstdint>

namespace torsion {

class SourceLocation {
 public:
  // The caller's location when used as a default argument.
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          std::uint_least32_t line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    return SourceLocation(file, line, function);
  }

  // An unknown location: line() == 0, empty names.
  constexpr SourceLocation() noexcept = default;
  constexpr SourceLocation(const char* file, std::uint_least32_t line,
                           const char* function) noexcept
      : file_(file), line_(line), function_(function) {}

  constexpr const char* file_name() const noexcept { return file_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr const char* function_name() const noexcept { return function_; }

 private:
  const char* file_ = "";
  std::uint_least32_t line_ = 0;
  const char* function_ = "";
};

}  // namespace torsion
