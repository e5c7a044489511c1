#include "torsion/web/http_parser.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "torsion/web/http_chars.hpp"
#include "torsion/web/http_syntax.hpp"

namespace torsion::web {

namespace {

// The fields a parser interprets, recognised while the field lines are read.
enum FieldKind : std::uint8_t {
  kOther,
  kContentLength,
  kTransferEncoding,
  kConnection,
  kHost,
  kExpect,
  kUpgrade,
};

// Whether `name` equals `lowercase` (a lowercase literal of the same size), ignoring case.
bool nameIs(std::string_view name, std::string_view lowercase) {
  for (std::size_t i = 0; i < lowercase.size(); ++i) {
    if (chars::lower(static_cast<unsigned char>(name[i])) != lowercase[i]) return false;
  }
  return true;
}

std::uint8_t classify(std::string_view name) {
  switch (name.size()) {
    case 4:
      return nameIs(name, "host") ? kHost : kOther;
    case 6:
      return nameIs(name, "expect") ? kExpect : kOther;
    case 7:
      return nameIs(name, "upgrade") ? kUpgrade : kOther;
    case 10:
      return nameIs(name, "connection") ? kConnection : kOther;
    case 14:
      return nameIs(name, "content-length") ? kContentLength : kOther;
    case 17:
      return nameIs(name, "transfer-encoding") ? kTransferEncoding : kOther;
    default:
      return kOther;
  }
}

bool isWhitespace(char c) { return c == ' ' || c == '\t'; }

// Calls f(element) for each non-empty element of a comma-separated list, trimmed (RFC 9110
// §5.6.1: recipients accept empty elements).
template <class F>
void forEachElement(std::string_view list, F&& f) {
  for (;;) {
    const std::size_t comma = list.find(',');
    const std::string_view element = trimOws(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// 1*DIGIT, no sign, no whitespace, no overflow.
bool parseDecimal(std::string_view s, std::uint64_t& value) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (!chars::isDigit(static_cast<unsigned char>(c))) return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  value = v;
  return true;
}

// What the Transfer-Encoding field lines of a message say, all of them in order.
struct Codings {
  bool present = false;
  int count = 0;             // transfer codings named
  int chunked = 0;           // how many of them are "chunked"
  bool lastChunked = false;  // the final one is a plain "chunked"
  bool unknown = false;      // some coding other than chunked
  bool malformed = false;    // an element that is not a token (with parameters)
};

void addCodings(std::string_view value, Codings& codings) {
  codings.present = true;
  forEachElement(value, [&](std::string_view element) {
    ++codings.count;
    // transfer-coding = token *( OWS ";" OWS transfer-parameter ); chunked takes no parameter.
    const std::size_t semicolon = element.find(';');
    const std::string_view name = trimOws(element.substr(0, semicolon));
    codings.lastChunked = false;
    if (!isToken(name)) {
      codings.malformed = true;
    } else if (equalsIgnoreCase(name, "chunked")) {
      ++codings.chunked;
      if (semicolon == std::string_view::npos) {
        codings.lastChunked = true;
      } else {
        codings.malformed = true;
      }
    } else {
      codings.unknown = true;
    }
  });
}

// What the Connection field lines say (RFC 9110 §7.6.1).
struct ConnectionOptions {
  bool close = false;
  bool keepAlive = false;
  bool upgrade = false;
};

void addConnection(std::string_view value, ConnectionOptions& options) {
  forEachElement(value, [&](std::string_view element) {
    if (equalsIgnoreCase(element, "close")) {
      options.close = true;
    } else if (equalsIgnoreCase(element, "keep-alive")) {
      options.keepAlive = true;
    } else if (equalsIgnoreCase(element, "upgrade")) {
      options.upgrade = true;
    }
  });
}

// "%" HEXDIG HEXDIG at s[i]; advances i past it.
bool percentEncoded(std::string_view s, std::size_t& i) {
  if (i + 2 >= s.size() || chars::hexValue(static_cast<unsigned char>(s[i + 1])) < 0 ||
      chars::hexValue(static_cast<unsigned char>(s[i + 2])) < 0) {
    return false;
  }
  i += 2;
  return true;
}

// uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): a Host value, or with `connect` an
// authority-form target, where the host and the port are both required.
bool validAuthority(std::string_view s, bool connect) {
  std::size_t i = 0;
  bool emptyHost = true;
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (std::size_t j = 1; j < close; ++j) {
      const auto c = static_cast<unsigned char>(s[j]);
      if (!chars::kAuthority[c] || c == '[') return false;
    }
    i = close + 1;
    emptyHost = false;
  } else {
    for (; i < s.size() && s[i] != ':'; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '%') {
        if (!percentEncoded(s, i)) return false;
      } else if (!chars::kAuthority[c] || c == '[' || c == ']') {
        return false;
      }
    }
    emptyHost = i == 0;
  }
  if (i == s.size()) return !connect;
  if (s[i] != ':') return false;
  const std::string_view port = s.substr(i + 1);
  for (const char c : port) {
    if (!chars::isDigit(static_cast<unsigned char>(c))) return false;
  }
  return !connect || (!emptyHost && !port.empty());
}

// scheme "://": scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). Only hierarchical URIs
// (a proxy's http and https), so that "host:port" is never taken for a scheme.
bool hasScheme(std::string_view s) {
  if (s.empty() || !chars::isAlpha(static_cast<unsigned char>(s.front()))) return false;
  std::size_t i = 1;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!chars::isAlpha(c) && !chars::isDigit(c) && c != '+' && c != '-' && c != '.') break;
    ++i;
  }
  return s.substr(i, 3) == "://";
}

// "HTTP/" DIGIT "." DIGIT. Returns the minor version (0 or 1), -1 if malformed, -2 if well
// formed but not 1.0 or 1.1.
int parseVersion(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" ||
      !chars::isDigit(static_cast<unsigned char>(v[5])) || v[6] != '.' ||
      !chars::isDigit(static_cast<unsigned char>(v[7]))) {
    return -1;
  }
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return -2;
  return v[7] - '0';
}

// quoted-string at s[i] (which is the opening DQUOTE); advances i past the closing one.
bool quotedString(std::string_view s, std::size_t& i) {
  for (++i; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      ++i;
      return true;
    }
    if (c == '\\') {
      if (++i == s.size() || !chars::kFieldValue[static_cast<unsigned char>(s[i])]) return false;
    } else if (!chars::kFieldValue[c]) {
      return false;
    }
  }
  return false;
}

std::size_t skipWhitespace(std::string_view s, std::size_t i) {
  while (i < s.size() && isWhitespace(s[i])) ++i;
  return i;
}

std::size_t skipToken(std::string_view s, std::size_t i) {
  while (i < s.size() && chars::kToken[static_cast<unsigned char>(s[i])]) ++i;
  return i;
}

// The largest a section or line limit may be: offsets into a section are 32-bit.
constexpr std::size_t kMaxLimit = std::size_t{1} << 30;

Limits clamped(Limits limits) {
  limits.maxStartLine = std::min(limits.maxStartLine, kMaxLimit);
  limits.maxFieldLine = std::min(limits.maxFieldLine, kMaxLimit);
  limits.maxFieldSection = std::min(limits.maxFieldSection, kMaxLimit);
  limits.maxChunkLine = std::min(limits.maxChunkLine, kMaxLimit);
  return limits;
}

}  // namespace

void MessageHandler::onTrailers(std::span<const HeaderField> /*trailers*/) {}

// --- MessageParser --------------------------------------------------------------------------

MessageParser::MessageParser(MessageHandler& handler, const Limits& limits, int errorStatus)
    : limits_(clamped(limits)), handler_(handler), errorStatus_(errorStatus) {
  spans_.reserve(32);
  fields_.reserve(32);
}

bool MessageParser::fail(int status, std::string_view reason) noexcept {
  state_ = State::Failed;
  error_ = ParseError{errorStatus_ != 0 ? errorStatus_ : status, reason};
  return false;
}

Phase MessageParser::phase() const noexcept {
  switch (state_) {
    case State::StartLine:
      return (inBuffer_ || skipped_ > 0) ? Phase::Head : Phase::Idle;
    case State::Fields:
      return Phase::Head;
    case State::Body:
    case State::UntilClose:
    case State::ChunkLine:
    case State::ChunkDataEnd:
    case State::Complete:
      return Phase::Body;
    case State::Trailers:
      return Phase::Trailers;
    case State::Upgraded:
      return Phase::Upgraded;
    case State::Closed:
      return Phase::Closed;
    case State::Failed:
      break;
  }
  return Phase::Failed;
}

std::size_t MessageParser::feed(std::string_view data) {
  if (busy_) throw std::logic_error("HTTP parser: feed() called from one of its own callbacks");
  if (state_ == State::Failed || state_ == State::Upgraded || state_ == State::Closed) return 0;
  busy_ = true;
  pauseRequested_ = false;
  std::size_t pos = 0;
  const std::size_t size = data.size();
  try {
    bool more = true;
    while (more && !pauseRequested_) {
      switch (state_) {
        case State::StartLine:
        case State::Fields:
        case State::Trailers:
          more = readSection(data, pos);
          break;
        case State::Body: {
          if (pos == size) {
            more = false;
            break;
          }
          const auto take =
              static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - pos));
          const std::string_view piece = data.substr(pos, take);
          pos += take;
          remaining_ -= take;
          if (remaining_ == 0) {
            sawCR_ = false;
            state_ = chunked_ ? State::ChunkDataEnd : State::Complete;
          }
          handler_.onBody(piece);
          break;
        }
        case State::UntilClose: {
          if (pos == size) {
            more = false;
            break;
          }
          const std::string_view piece = data.substr(pos);
          pos = size;
          handler_.onBody(piece);
          break;
        }
        case State::ChunkLine:
          more = readChunkLine(data, pos);
          break;
        case State::ChunkDataEnd:
          if (pos == size) {
            more = false;
          } else if (data[pos] != (sawCR_ ? '\n' : '\r')) {
            more = fail(400, "no CRLF after chunk data");
          } else {
            ++pos;
            if (sawCR_) state_ = State::ChunkLine;
            sawCR_ = !sawCR_;
          }
          break;
        case State::Complete:
          state_ = upgradeAfterMessage_ ? State::Upgraded : State::StartLine;
          upgradeAfterMessage_ = false;
          chunked_ = false;
          skipped_ = 0;
          handler_.onMessageComplete();
          break;
        case State::Upgraded:
        case State::Closed:
        case State::Failed:
          more = false;
          break;
      }
    }
  } catch (...) {
    busy_ = false;
    sectionBase_ = nullptr;
    fail(500, "a callback threw");
    throw;
  }
  busy_ = false;
  sectionBase_ = nullptr;
  return pos;
}

bool MessageParser::feedEof() {
  if (busy_) throw std::logic_error("HTTP parser: feedEof() called from one of its own callbacks");
  switch (state_) {
    case State::Failed:
      return false;
    case State::Upgraded:
    case State::Closed:
      return true;
    case State::UntilClose:
    case State::Complete:
      state_ = State::Closed;
      handler_.onMessageComplete();
      return true;
    case State::StartLine:
      if (phase() == Phase::Idle) {
        state_ = State::Closed;
        return true;
      }
      break;
    default:
      break;
  }
  return fail(400, "connection closed mid-message");
}

void MessageParser::resetSection() noexcept {
  sectionBase_ = nullptr;
  inBuffer_ = false;
  buffer_.clear();
  lineStart_ = 0;
  sectionBytes_ = 0;
}

bool MessageParser::lineFits(std::size_t raw, bool complete) noexcept {
  // `raw` counts the line's bytes before its LF, so a CR in it: a line of the limit's size is
  // limit + 1 of them. A complete line also counts its LF towards the section. Checking a
  // partial line by the same measure finds exactly the lines that would fail once complete.
  if (state_ == State::StartLine) {
    if (raw > limits_.maxStartLine + 1)
      return fail(startLineTooLongStatus(), "start line too long");
    return true;
  }
  if (raw > limits_.maxFieldLine + 1) return fail(431, "header line too long");
  if (sectionBytes_ + raw + (complete ? 1 : 0) > limits_.maxFieldSection) {
    return fail(431, "header section too large");
  }
  return true;
}

bool MessageParser::readSection(std::string_view data, std::size_t& pos) {
  const std::size_t size = data.size();
  if (pos == size) return false;
  if (!inBuffer_ && sectionBase_ == nullptr) sectionBase_ = data.data() + pos;
  while (pos < size) {
    const char* from = data.data() + pos;
    const auto* lf = static_cast<const char*>(std::memchr(from, '\n', size - pos));
    if (lf == nullptr) break;
    const std::size_t next = static_cast<std::size_t>(lf - data.data()) + 1;
    const char* base;
    std::size_t lineEnd;  // the LF's offset in the section
    if (inBuffer_) {
      // Checked before the line is copied, so that the buffer never outgrows the limits.
      if (!lineFits(buffer_.size() - lineStart_ + (next - pos - 1), true)) return false;
      buffer_.append(from, next - pos);
      base = buffer_.data();
      lineEnd = buffer_.size() - 1;
    } else {
      base = sectionBase_;
      lineEnd = static_cast<std::size_t>(lf - sectionBase_);
    }
    pos = next;
    std::string_view line(base + lineStart_, lineEnd - lineStart_);
    if (!inBuffer_ && !lineFits(line.size(), true)) return false;
    if (line.empty() || line.back() != '\r') return fail(400, "bare LF in header section");
    line.remove_suffix(1);
    const auto offset = static_cast<std::uint32_t>(lineStart_);
    lineStart_ = lineEnd + 1;
    sectionBytes_ += line.size() + 2;

    if (state_ == State::StartLine) {
      if (line.empty()) {
        if (!skipsLeadingEmptyLines()) return fail(400, "empty line before the status line");
        // RFC 9112 §2.2: a server should ignore empty lines before a request line; they count
        // towards the request line's limit so that they cannot go on for ever.
        skipped_ += 2;
        if (skipped_ > limits_.maxStartLine) return fail(400, "too many empty lines");
        resetSection();
        sectionBase_ = data.data() + pos;
        continue;
      }
      if (!parseStartLine(line)) return false;
      state_ = State::Fields;
      sectionBytes_ = 0;
      spans_.clear();
      continue;
    }
    if (!line.empty()) {
      if (!fieldLine(line, offset)) return false;
      continue;
    }
    // The empty line: the section is complete.
    if (state_ == State::Fields) {
      const bool ok = headComplete(base);
      resetSection();
      spans_.clear();
      return ok;
    }
    state_ = State::Complete;
    const std::span<const HeaderField> trailers = buildFields(base);
    if (!trailers.empty()) handler_.onTrailers(trailers);
    resetSection();
    spans_.clear();
    return true;
  }
  // The section goes on in a later feed(): keep what there is of it.
  const std::size_t partial = (inBuffer_ ? buffer_.size() - lineStart_ : 0) + (size - pos);
  if (!lineFits(partial, false)) return false;
  if (inBuffer_) {
    buffer_.append(data.data() + pos, size - pos);
  } else {
    buffer_.assign(sectionBase_, data.data() + size);
    inBuffer_ = true;
    sectionBase_ = nullptr;
  }
  pos = size;
  return false;
}

bool MessageParser::fieldLine(std::string_view line, std::uint32_t offset) {
  if (spans_.size() >= limits_.maxFieldCount) return fail(431, "too many header fields");
  const auto* begin = reinterpret_cast<const unsigned char*>(line.data());
  const auto* end = begin + line.size();
  if (isWhitespace(line.front())) return fail(400, "obsolete line folding");
  const unsigned char* p = begin;
  while (p < end && chars::kToken[*p]) ++p;
  if (p == end) return fail(400, "header line without a colon");
  if (*p != ':') {
    const unsigned char* after = p;
    while (after < end && isWhitespace(static_cast<char>(*after))) ++after;
    return fail(400, after != p && after < end && *after == ':'
                         ? "whitespace before colon in header"
                         : "invalid character in header name");
  }
  if (p == begin) return fail(400, "empty header name");
  const auto nameSize = static_cast<std::uint32_t>(p - begin);
  ++p;
  while (p < end && isWhitespace(static_cast<char>(*p))) ++p;
  const unsigned char* value = p;
  const unsigned char* stop = chars::scanFieldValue(value, end);
  if (stop != end) {
    return fail(400,
                *stop == '\r' ? "bare CR in header section" : "invalid character in header value");
  }
  while (stop > value && isWhitespace(static_cast<char>(stop[-1]))) --stop;
  spans_.push_back(FieldSpan{
      offset, nameSize, offset + static_cast<std::uint32_t>(value - begin),
      static_cast<std::uint32_t>(stop - value),
      state_ == State::Fields ? classify(line.substr(0, nameSize)) : std::uint8_t{kOther}});
  return true;
}

std::span<const HeaderField> MessageParser::buildFields(const char* base) {
  fields_.resize(spans_.size());
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    const FieldSpan& s = spans_[i];
    fields_[i] = HeaderField{std::string_view(base + s.nameOffset, s.nameSize),
                             std::string_view(base + s.valueOffset, s.valueSize)};
  }
  return fields_;
}

void MessageParser::startBody(BodyFraming framing, std::uint64_t length) noexcept {
  chunked_ = false;
  switch (framing) {
    case BodyFraming::None:
      state_ = State::Complete;
      break;
    case BodyFraming::ContentLength:
      remaining_ = length;
      state_ = length == 0 ? State::Complete : State::Body;
      break;
    case BodyFraming::Chunked:
      chunked_ = true;
      state_ = State::ChunkLine;
      break;
    case BodyFraming::UntilClose:
      state_ = State::UntilClose;
      break;
  }
}

bool MessageParser::readChunkLine(std::string_view data, std::size_t& pos) {
  const std::size_t size = data.size();
  if (pos == size) return false;
  const char* from = data.data() + pos;
  const auto* lf = static_cast<const char*>(std::memchr(from, '\n', size - pos));
  if (lf == nullptr) {
    if (buffer_.size() + (size - pos) > limits_.maxChunkLine + 1) {
      return fail(400, "chunk-size line too long");
    }
    buffer_.append(from, size - pos);
    pos = size;
    return false;
  }
  std::string_view line(from, static_cast<std::size_t>(lf - from));
  if (buffer_.size() + line.size() > limits_.maxChunkLine + 1) {
    return fail(400, "chunk-size line too long");
  }
  if (!buffer_.empty()) {
    buffer_.append(line);
    line = buffer_;
  }
  pos += static_cast<std::size_t>(lf - from) + 1;
  if (line.empty() || line.back() != '\r') return fail(400, "bare LF in chunk-size line");
  line.remove_suffix(1);
  const bool ok = chunkLine(line);
  buffer_.clear();
  return ok;
}

bool MessageParser::chunkLine(std::string_view line) {
  // chunk-size [ chunk-ext ], chunk-size = 1*HEXDIG,
  // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
  std::uint64_t size = 0;
  std::size_t i = 0;
  for (; i < line.size(); ++i) {
    const int digit = chars::hexValue(static_cast<unsigned char>(line[i]));
    if (digit < 0) break;
    if (size > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
      return fail(400, "chunk size too large");
    }
    size = (size << 4) | static_cast<std::uint64_t>(digit);
  }
  if (i == 0) return fail(400, "invalid chunk size");
  while (i < line.size()) {
    i = skipWhitespace(line, i);
    if (i == line.size() || line[i] != ';') return fail(400, "invalid chunk size line");
    i = skipWhitespace(line, i + 1);
    const std::size_t nameEnd = skipToken(line, i);
    if (nameEnd == i) return fail(400, "invalid chunk extension");
    i = nameEnd;
    const std::size_t equals = skipWhitespace(line, i);
    if (equals < line.size() && line[equals] == '=') {
      i = skipWhitespace(line, equals + 1);
      if (i < line.size() && line[i] == '"') {
        if (!quotedString(line, i)) return fail(400, "invalid chunk extension");
      } else {
        const std::size_t valueEnd = skipToken(line, i);
        if (valueEnd == i) return fail(400, "invalid chunk extension");
        i = valueEnd;
      }
    }
  }
  if (size == 0) {
    state_ = State::Trailers;
    resetSection();
    spans_.clear();
  } else {
    state_ = State::Body;
    remaining_ = size;
  }
  return true;
}

// --- RequestParser --------------------------------------------------------------------------

RequestParser::RequestParser(Handler& handler, const Limits& limits)
    : MessageParser(handler, limits, 0), requestHandler_(handler) {}

bool RequestParser::parseStartLine(std::string_view line) {
  // request-line = method SP request-target SP HTTP-version, single spaces.
  const std::size_t methodEnd = skipToken(line, 0);
  if (methodEnd == 0 || methodEnd == line.size() || line[methodEnd] != ' ') {
    return fail(400, "invalid method");
  }
  const std::size_t targetStart = methodEnd + 1;
  const std::size_t targetEnd = line.find(' ', targetStart);
  if (targetEnd == std::string_view::npos) return fail(400, "malformed request line");
  if (targetEnd == targetStart) return fail(400, "empty request-target");
  const int minor = parseVersion(line.substr(targetEnd + 1));
  if (minor == -1) return fail(400, "malformed HTTP version");
  if (minor == -2) return fail(505, "HTTP version not supported");

  const std::string_view method = line.substr(0, methodEnd);
  const std::string_view target = line.substr(targetStart, targetEnd - targetStart);
  if (method == "CONNECT") {
    if (!validAuthority(target, true)) return fail(400, "invalid CONNECT target");
  } else if (target.front() == '/' || hasScheme(target)) {
    if (!isTargetBytes(target)) return fail(400, "invalid request-target");
  } else if (target != "*" || method != "OPTIONS") {
    return fail(400, "invalid request-target");
  }
  methodSize_ = static_cast<std::uint32_t>(methodEnd);
  targetOffset_ = static_cast<std::uint32_t>(targetStart);
  targetSize_ = static_cast<std::uint32_t>(target.size());
  versionMinor_ = minor;
  return true;
}

bool RequestParser::headComplete(const char* base) {
  RequestHead head;
  head.versionMinor = versionMinor_;
  head.method = std::string_view(base, methodSize_);
  head.target = std::string_view(base + targetOffset_, targetSize_);
  if (head.method == "CONNECT") {
    head.targetForm = TargetForm::Authority;
  } else if (head.target.front() == '/') {
    head.targetForm = TargetForm::Origin;
  } else if (head.target == "*") {
    head.targetForm = TargetForm::Asterisk;
  } else {
    head.targetForm = TargetForm::Absolute;
  }
  head.fields = buildFields(base);

  bool hasLength = false;
  std::uint64_t length = 0;
  Codings codings;
  ConnectionOptions connection;
  bool hasHost = false;
  bool hasUpgrade = false;
  bool continueExpected = false;
  const std::vector<FieldSpan>& spans = fieldSpans();
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const std::string_view value = head.fields[i].value;
    switch (spans[i].kind) {
      case kContentLength:
        // RFC 9110 §8.6 lets a recipient accept repeats of one value; a request gets no such
        // leniency (CVE-2020-10108: two parsers must never disagree on where a body ends).
        if (hasLength) return fail(400, "duplicate Content-Length");
        if (!parseDecimal(value, length)) return fail(400, "invalid Content-Length");
        hasLength = true;
        break;
      case kTransferEncoding:
        addCodings(value, codings);
        break;
      case kConnection:
        addConnection(value, connection);
        break;
      case kHost:
        if (hasHost) return fail(400, "duplicate Host");
        if (!validAuthority(value, false)) return fail(400, "invalid Host");
        hasHost = true;
        head.host = value;
        break;
      case kExpect:
        if (listContains(value, "100-continue")) continueExpected = true;
        break;
      case kUpgrade:
        hasUpgrade = true;
        break;
      default:
        break;
    }
  }
  if (versionMinor_ == 1 && !hasHost) return fail(400, "missing Host");

  // RFC 9112 §6.3, for requests.
  BodyFraming framing = BodyFraming::None;
  if (head.targetForm == TargetForm::Authority) {
    // A CONNECT request has no content (RFC 9110 §9.3.6); what follows it is the tunnel's.
    if (hasLength || codings.present) return fail(400, "CONNECT request with a body");
  } else if (codings.present) {
    if (versionMinor_ == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (hasLength) return fail(400, "both Content-Length and Transfer-Encoding");
    if (codings.malformed) return fail(400, "invalid Transfer-Encoding");
    if (!codings.lastChunked) return fail(400, "chunked is not the final transfer coding");
    if (codings.unknown) return fail(501, "transfer coding not implemented");
    if (codings.chunked > 1) return fail(400, "chunked applied more than once");
    framing = BodyFraming::Chunked;
  } else if (hasLength) {
    framing = BodyFraming::ContentLength;
  }
  head.framing = framing;
  if (hasLength) head.contentLength = length;
  head.keepAlive = !connection.close && (versionMinor_ == 1 || connection.keepAlive);
  head.upgrade = connection.upgrade && hasUpgrade;
  head.expectContinue = versionMinor_ == 1 && continueExpected;

  startBody(framing, length);
  requestHandler_.onRequestHead(head);
  return true;
}

// --- ResponseParser -------------------------------------------------------------------------

ResponseParser::ResponseParser(Handler& handler, const Limits& limits)
    : MessageParser(handler, limits, 502), responseHandler_(handler) {}

void ResponseParser::setRequestMethod(std::string_view method) noexcept {
  headRequest_ = method == "HEAD";
  connectRequest_ = method == "CONNECT";
}

bool ResponseParser::parseStartLine(std::string_view line) {
  // status-line = HTTP-version SP status-code SP [ reason-phrase ]. The SP after the code is
  // optional here when the reason is empty: servers omit it, and it cannot change the framing.
  if (line.size() < 12 || line[8] != ' ') return fail(502, "malformed status line");
  const int minor = parseVersion(line.substr(0, 8));
  if (minor == -1) return fail(502, "malformed status line");
  if (minor == -2) return fail(502, "HTTP version not supported");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (!chars::isDigit(c)) return fail(502, "malformed status line");
    status = status * 10 + (c - '0');
  }
  if (status < 100 || status > 599) return fail(502, "invalid status code");
  std::uint32_t reasonOffset = 12;
  if (line.size() > 12) {
    if (line[12] != ' ') return fail(502, "malformed status line");
    reasonOffset = 13;
    const auto* begin = reinterpret_cast<const unsigned char*>(line.data());
    const auto* end = begin + line.size();
    if (chars::scanFieldValue(begin + reasonOffset, end) != end) {
      return fail(502, "invalid character in reason phrase");
    }
  }
  versionMinor_ = minor;
  status_ = status;
  reasonOffset_ = reasonOffset;
  reasonSize_ = static_cast<std::uint32_t>(line.size() - reasonOffset);
  return true;
}

bool ResponseParser::headComplete(const char* base) {
  ResponseHead head;
  head.versionMinor = versionMinor_;
  head.status = status_;
  head.reason = std::string_view(base + reasonOffset_, reasonSize_);
  head.fields = buildFields(base);

  bool hasLength = false;
  std::uint64_t length = 0;
  Codings codings;
  ConnectionOptions connection;
  bool hasUpgrade = false;
  const std::vector<FieldSpan>& spans = fieldSpans();
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const std::string_view value = head.fields[i].value;
    switch (spans[i].kind) {
      case kContentLength: {
        // RFC 9110 §8.6: a list of one repeated value is acceptable, anything else is not.
        bool valid = true;
        int count = 0;
        forEachElement(value, [&](std::string_view element) {
          std::uint64_t v = 0;
          ++count;
          if (!parseDecimal(element, v) || (hasLength && v != length)) valid = false;
          hasLength = true;
          length = v;
        });
        if (!valid || count == 0) return fail(502, "invalid Content-Length");
        break;
      }
      case kTransferEncoding:
        addCodings(value, codings);
        break;
      case kConnection:
        addConnection(value, connection);
        break;
      case kUpgrade:
        hasUpgrade = true;
        break;
      default:
        break;
    }
  }
  if (codings.present) {
    if (hasLength) return fail(502, "both Content-Length and Transfer-Encoding");
    if (versionMinor_ == 0) return fail(502, "Transfer-Encoding in an HTTP/1.0 response");
    // The client decodes chunked only: a body in another transfer coding could not be read.
    if (codings.malformed || codings.unknown || codings.chunked != 1 || !codings.lastChunked) {
      return fail(502, "unsupported Transfer-Encoding");
    }
  }

  // RFC 9112 §6.3, for responses.
  BodyFraming framing = BodyFraming::None;
  bool upgraded = false;
  if (status_ < 200) {
    upgraded = status_ == 101;
  } else if (headRequest_ || status_ == 204 || status_ == 304) {
    // No body, whatever the fields say.
  } else if (connectRequest_ && status_ < 300) {
    upgraded = true;
  } else if (codings.present) {
    framing = BodyFraming::Chunked;
  } else if (hasLength) {
    framing = BodyFraming::ContentLength;
  } else {
    framing = BodyFraming::UntilClose;
  }
  head.framing = framing;
  if (hasLength) head.contentLength = length;
  head.keepAlive = !upgraded && framing != BodyFraming::UntilClose && !connection.close &&
                   (versionMinor_ == 1 || connection.keepAlive);
  head.upgrade = connection.upgrade && hasUpgrade;
  if (upgraded) upgradeAfterMessage();

  startBody(framing, length);
  responseHandler_.onResponseHead(head);
  return true;
}

}  // namespace torsion::web
