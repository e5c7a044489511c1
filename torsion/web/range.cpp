#include "torsion/web/range.hpp"

#include <string>

#include "torsion/web/http_syntax.hpp"

namespace torsion::web {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isOws(char c) { return c == ' ' || c == '\t'; }

// 1*DIGIT at the front of `text`, consumed; nothing if absent or larger than 64 bits.
bool takeNumber(std::string_view& text, std::uint64_t& out) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && isDigit(text[i])) {
    auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) {
      return false;
    }
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) {
    return false;
  }
  text.remove_prefix(i);
  out = value;
  return true;
}

}  // namespace

RangeSet parseRangeHeader(std::string_view value, std::uint64_t size, std::size_t maxRanges) {
  RangeSet ignored;  // status ignore
  constexpr std::string_view kUnit = "bytes=";
  if (value.size() < kUnit.size() || !equalsIgnoreCase(value.substr(0, kUnit.size()), kUnit)) {
    return ignored;
  }
  std::string_view rest = value.substr(kUnit.size());
  RangeSet set;
  std::size_t specs = 0;
  std::uint64_t total = 0;
  bool overlong = false;
  while (true) {
    while (!rest.empty() && (isOws(rest.front()) || rest.front() == ',')) {
      rest.remove_prefix(1);  // whitespace and empty list elements
    }
    if (rest.empty()) {
      break;
    }
    ++specs;
    if (specs > maxRanges) {
      return ignored;
    }
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    bool suffix = false;
    bool hasLast = false;
    if (rest.front() == '-') {
      rest.remove_prefix(1);
      suffix = true;
      if (!takeNumber(rest, last)) {
        return ignored;
      }
    } else {
      if (!takeNumber(rest, first)) {
        return ignored;
      }
      if (rest.empty() || rest.front() != '-') {
        return ignored;
      }
      rest.remove_prefix(1);
      if (!rest.empty() && isDigit(rest.front())) {
        if (!takeNumber(rest, last)) {
          return ignored;
        }
        hasLast = true;
        if (last < first) {
          return ignored;  // an invalid int-range makes the whole header invalid
        }
      }
    }
    // After a spec: OWS, then a comma or the end.
    while (!rest.empty() && isOws(rest.front())) {
      rest.remove_prefix(1);
    }
    if (!rest.empty() && rest.front() != ',') {
      return ignored;
    }
    // Clamp to the representation; drop what does not overlap it.
    ByteRange range;
    if (suffix) {
      if (last == 0 || size == 0) {
        continue;  // "-0", or any suffix of nothing: unsatisfiable
      }
      range.first = last >= size ? 0 : size - last;
      range.last = size - 1;
    } else {
      if (first >= size) {
        continue;
      }
      range.first = first;
      range.last = hasLast && last < size ? last : size - 1;
    }
    total += range.length();
    if (total > size) {
      overlong = true;
    }
    set.ranges.push_back(range);
  }
  if (specs == 0) {
    return ignored;  // "bytes=" with no range at all
  }
  if (set.ranges.empty()) {
    set.status = RangeStatus::unsatisfiable;
    return set;
  }
  if (overlong) {
    return ignored;
  }
  set.status = RangeStatus::satisfiable;
  return set;
}

std::string contentRange(const ByteRange& range, std::uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(size);
}

}  // namespace torsion::web
