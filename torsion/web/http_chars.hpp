// Byte classes of HTTP's grammar as 256-entry tables (RFC 9110 §5.6.2, §5.5; RFC 3986 §2), for
// the scanners in http_syntax.cpp and http_parser.cpp. Internal to torsion/web.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace torsion::web::chars {

using Table = std::array<bool, 256>;

constexpr bool isAlpha(unsigned c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(unsigned c) { return c >= '0' && c <= '9'; }

// tchar: the bytes of a token (methods, field names, transfer codings, chunk extension names).
inline constexpr Table kToken = [] {
  Table t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = isAlpha(c) || isDigit(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
  }
  return t;
}();

// field-vchar, SP and HTAB: what a field value (or a reason phrase) may hold. Everything but the
// control characters (HTAB excepted) and DEL; obs-text (0x80-0xFF) is allowed.
inline constexpr Table kFieldValue = [] {
  Table t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = c == '\t' || (c >= 0x20 && c != 0x7F);
  return t;
}();

// The bytes a request-target may hold besides "%" (checked on its own: two hex digits follow):
// visible ASCII except "#" (a fragment is never sent). RFC 3986 would also refuse " < > [ ] \ ^ `
// { | }, but browsers send several of them unencoded (WHATWG URL's path and query encode sets
// leave them), and none of them can end a target or a line.
inline constexpr Table kTarget = [] {
  Table t{};
  for (unsigned c = 0x21; c < 0x7F; ++c) t[c] = c != '#' && c != '%';
  return t;
}();

// reg-name, IP-literal and port bytes of a Host value or an authority-form target: unreserved,
// sub-delims, ":", "[", "]" ("%" is checked on its own).
inline constexpr Table kAuthority = [] {
  Table t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = isAlpha(c) || isDigit(c) ||
           std::string_view("-._~!$&'()*+,;=:[]").find(char(c)) != std::string_view::npos;
  }
  return t;
}();

constexpr int hexValue(unsigned c) {
  if (c >= '0' && c <= '9') return int(c - '0');
  if (c >= 'a' && c <= 'f') return int(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return int(c - 'A' + 10);
  return -1;
}

constexpr unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c | 0x20U) : c;
}

// The first byte in [p, end) that may not be in a field value, or `end`. Eight bytes at a time
// while none of them is a control character or DEL (the common case: a header value is
// printable); a word that holds one (perhaps just a HTAB) is checked byte by byte.
inline const unsigned char* scanFieldValue(const unsigned char* p, const unsigned char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t below = (w - kOnes * 0x20) & ~w & kHighs;  // some byte < 0x20
    const std::uint64_t x = w ^ (kOnes * 0x7F);
    const std::uint64_t del = (x - kOnes) & ~x & kHighs;  // some byte == 0x7F
    if ((below | del) == 0) {
      p += 8;
      continue;
    }
    for (const unsigned char* stop = p + 8; p < stop; ++p) {
      if (!kFieldValue[*p]) return p;
    }
  }
  while (p < end && kFieldValue[*p]) ++p;
  return p;
}

}  // namespace torsion::web::chars
