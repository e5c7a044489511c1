// The small pieces of HTTP grammar (RFC 9110 §5.1, §5.5, §5.6) that both the parsers and the
// code that writes messages need: a server must refuse to put a CR or LF of a caller's string into
// a header it sends (Twisted's CVE-2019-12387 was a header value smuggling CRLF into a response).
// All of them are pure functions over bytes; none allocates.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace torsion::web {

// One field line of a header or trailer section: views, valid as long as the bytes they view (for
// the parsers' events: only during the callback that hands them over). The name keeps the case
// it was sent in; compare it with equalsIgnoreCase. The value has no leading or trailing
// whitespace.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// ASCII case-insensitive equality (field names, tokens such as "chunked" or "close").
bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept;

// `s` without leading and trailing optional whitespace (OWS: spaces and tabs, RFC 9110 5.6.3).
std::string_view trimOws(std::string_view s) noexcept;

// token = 1*tchar: what a method, a field name or a transfer coding must be.
bool isToken(std::string_view s) noexcept;

// What a field value may hold: HTAB, SP, visible ASCII and obs-text (0x80-0xFF), no leading or
// trailing whitespace. No CR, LF, NUL or other control character.
bool isFieldValue(std::string_view s) noexcept;

// The value of the first field called `name` (case-insensitively), or an empty view if there is
// none; `found` (when given) tells an empty value from a missing field.
std::string_view findField(std::span<const HeaderField> fields, std::string_view name,
                           bool* found = nullptr) noexcept;

// Whether the comma-separated list `value` (RFC 9110 §5.6.1: elements separated by commas and
// optional whitespace, empty elements ignored) holds `token`, case-insensitively. For
// Connection, Transfer-Encoding, Expect, Upgrade.
bool listContains(std::string_view value, std::string_view token) noexcept;

// The bytes an origin-form or absolute-form request-target may hold (RFC 3986 characters, plus
// a few that browsers send unencoded, see http_parser.hpp), every "%" followed by two hex
// digits. The empty string passes; callers that need a target check for that.
bool isTargetBytes(std::string_view s) noexcept;

}  // namespace torsion::web
