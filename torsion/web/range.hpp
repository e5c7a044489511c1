// The Range request header (RFC 9110 §14.1-14.2), for byte ranges of a representation of known
// size. Used by static.File; any resource that serves byte ranges may use it.
//
//   RangeSet set = parseRangeHeader(*request.getHeader("Range"), size);
//   switch (set.status) {
//     case RangeStatus::ignore:        serve the whole representation (200)
//     case RangeStatus::unsatisfiable: 416 with "Content-Range: bytes */<size>"
//     case RangeStatus::satisfiable:   206 with set.ranges (one: Content-Range; several:
//                                      multipart/byteranges)
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace torsion::web {

// An inclusive range of byte positions, first <= last < size.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const noexcept { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

enum class RangeStatus {
  // Serve the whole representation: the header is not a valid bytes range (a syntax error, an
  // unknown unit, a range whose last position comes before its first), or one the server
  // declines (more than maxRanges ranges, or ranges that together ask for more bytes than
  // the representation has: overlapping ranges used to amplify a response). RFC 9110 lets a
  // server ignore Range; it must ignore an invalid one.
  ignore,
  // Valid, but no range overlaps the representation: 416.
  unsatisfiable,
  // The ranges that overlap the representation, clamped to it, in the order asked.
  satisfiable,
};

struct RangeSet {
  RangeStatus status = RangeStatus::ignore;
  std::vector<ByteRange> ranges;
};

// Parses a Range header value ("bytes=0-99,200-", "bytes=-500") against a representation of
// `size` bytes. Never throws on any input; numbers too large for 64 bits make the header
// invalid. The unit is matched case-insensitively; whitespace is allowed around the commas
// and empty list elements are skipped, as RFC 9110's list rule asks.
RangeSet parseRangeHeader(std::string_view value, std::uint64_t size, std::size_t maxRanges = 100);

// "bytes 0-99/1234" (a Content-Range header value).
std::string contentRange(const ByteRange& range, std::uint64_t size);

}  // namespace torsion::web
