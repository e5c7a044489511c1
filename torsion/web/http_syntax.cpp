#include "torsion/web/http_syntax.hpp"

#include "torsion/web/http_chars.hpp"

namespace torsion::web {

namespace {

bool isWhitespace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::string_view trimOws(std::string_view s) noexcept {
  while (!s.empty() && isWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (chars::lower(static_cast<unsigned char>(a[i])) !=
        chars::lower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool isToken(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!chars::kToken[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool isFieldValue(std::string_view s) noexcept {
  if (!s.empty() && (isWhitespace(s.front()) || isWhitespace(s.back()))) return false;
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = begin + s.size();
  return chars::scanFieldValue(begin, end) == end;
}

std::string_view findField(std::span<const HeaderField> fields, std::string_view name,
                           bool* found) noexcept {
  for (const HeaderField& field : fields) {
    if (equalsIgnoreCase(field.name, name)) {
      if (found != nullptr) *found = true;
      return field.value;
    }
  }
  if (found != nullptr) *found = false;
  return {};
}

bool listContains(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view element = trimOws(value.substr(0, comma));
    if (equalsIgnoreCase(element, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool isTargetBytes(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '%') {
      if (i + 2 >= s.size() || chars::hexValue(static_cast<unsigned char>(s[i + 1])) < 0 ||
          chars::hexValue(static_cast<unsigned char>(s[i + 2])) < 0) {
        return false;
      }
      i += 2;
    } else if (!chars::kTarget[c]) {
      return false;
    }
  }
  return true;
}

}  // namespace torsion::web
