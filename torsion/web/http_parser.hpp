// Incremental HTTP/1.1 message parsers (RFC 9112), without sockets: RequestParser for the server,
// ResponseParser for the client. Bytes are pushed in with feed() as they arrive (straight from
// dataReceived) and come out as events on a handler:
//
//   on{Request,Response}Head(head)   the start line and the whole header section, interpreted
//   onBody(data)*                    body bytes, de-chunked, in order, never empty
//   onTrailers(fields)?              the trailer section of a chunked body, if it has fields
//   onMessageComplete()              the end of the message; the next one follows
//
// Zero copy. The views an event hands over live only until the callback returns; a handler
// copies what it keeps. A head that arrives whole in one feed() is handed over as views into the
// caller's bytes, body bytes always are. Only a head (or a trailer section, or a chunk-size line)
// split across feeds is copied, into one buffer per parser that keeps its capacity, so a steady
// connection allocates nothing per message.
//
// Strict. RFC 9112's MUSTs, and its MAYs in the safe direction (everything Twisted's CVEs came
// from is an error): CRLF is the only line ending (a bare LF or a bare CR is an error), obs-fold,
// whitespace before a colon, invalid bytes in methods, field names, field values or targets,
// Content-Length with Transfer-Encoding, a duplicate or malformed Content-Length, a
// Transfer-Encoding other than one final "chunked", HTTP versions other than 1.0 and 1.1, and
// oversized parts (Limits) are each an error with a status code and a short reason. A parser that
// has failed stays failed: the caller answers error().status (RequestParser) and closes.
//
// Pipelining and pausing. After onMessageComplete the parser goes on with the bytes that follow.
// pause(), called from inside any callback, makes feed() return right after that callback with
// the number of bytes consumed so far; the caller keeps the rest (it is not the parser's) and
// feeds it again when it is ready, e.g. once the response to the request before it is finished.
// An event that needs no more bytes (onMessageComplete after a body that ended with the pause)
// is delivered by that later feed(), which may therefore be an empty one.
//
// One thread; a callback must not call feed() or feedEof() (std::logic_error) nor destroy the
// parser. An exception thrown by a callback leaves feed() and fails the parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/web/http_syntax.hpp"

namespace torsion::web {

// Size limits for what a parser buffers or accepts; exceeding one is an error. Bodies have no
// limit here: the server counts what it is willing to take (413) itself.
struct Limits {
  // The request line (status line), without CRLF. Requests: 414 URI Too Long.
  std::size_t maxStartLine = 8 * 1024;
  // One field line, without CRLF. Requests: 431.
  std::size_t maxFieldLine = 16 * 1024;
  // One header section after its start line: the field lines with their CRLFs and the empty
  // line that ends it (Twisted's totalHeadersSize). Bounds a trailer section too. Requests: 431.
  // Each limit is capped at 1 GiB.
  std::size_t maxFieldSection = 16 * 1024;
  // Field lines in one header (or trailer) section: Twisted's maxHeaders. Requests: 431.
  std::size_t maxFieldCount = 500;
  // One chunk-size line (size and chunk extensions), without CRLF. 400.
  std::size_t maxChunkLine = 4 * 1024;
};

// Why a parser failed. `reason` is a static string (e.g. "bare LF in header section").
struct ParseError {
  // RequestParser: 400, 414, 431, 501 (a transfer coding other than chunked) or 505 (a version
  // other than 1.0 and 1.1); 500 when a callback threw. ResponseParser: always 502, what a
  // gateway answers for an invalid upstream response.
  int status = 0;
  std::string_view reason;
};

// How the body of a message is delimited (RFC 9112 §6.3).
enum class BodyFraming : std::uint8_t {
  None,           // no body (a request without Content-Length and Transfer-Encoding, a response
                  // to HEAD, 1xx, 204, 304, a 2xx to CONNECT)
  ContentLength,  // exactly *contentLength bytes (which may be 0)
  Chunked,        // the chunked transfer coding, with a possible trailer section
  UntilClose,     // responses only: everything until the server closes (feedEof)
};

// The fields every message has, interpreted. Views as for HeaderField.
struct MessageHead {
  int versionMinor = 1;                 // HTTP/1.0 or HTTP/1.1: the major version is always 1
  std::span<const HeaderField> fields;  // in the order received, duplicates kept
  BodyFraming framing = BodyFraming::None;
  std::optional<std::uint64_t> contentLength;  // the Content-Length field, if the message had one
  // Whether the connection may carry another message after this one: HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive" (and without close); never
  // after a body delimited by close.
  bool keepAlive = true;
  // "Connection: upgrade" together with an Upgrade field (a WebSocket handshake, h2c).
  bool upgrade = false;
};

// The form of a request-target (RFC 9112 §3.2).
enum class TargetForm : std::uint8_t {
  Origin,     // "/path?query": what an origin server gets
  Absolute,   // "http://host/path": what a proxy gets (scheme "://" ...)
  Authority,  // "host:port": CONNECT's, and only CONNECT's
  Asterisk,   // "*": OPTIONS only
};

struct RequestHead : MessageHead {
  std::string_view method;  // a token, case-sensitive ("GET")
  std::string_view target;  // as sent (still percent-encoded)
  TargetForm targetForm = TargetForm::Origin;
  // The Host field (required in HTTP/1.1, at most one), empty if absent. With an absolute-form
  // target the target's authority is the one that counts (RFC 9112 §3.2.2).
  std::string_view host;
  // "Expect: 100-continue" in an HTTP/1.1 request (ignored in 1.0, RFC 9110 §10.1.1): the client
  // waits for "100 Continue" (or a final response) before it sends the body.
  bool expectContinue = false;
};

struct ResponseHead : MessageHead {
  int status = 0;           // 100..599
  std::string_view reason;  // the reason phrase, possibly empty; clients should ignore it
};

// What both parsers tell their handler about a body. The handler interfaces below add the head.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;

  // Body bytes, de-chunked, in order; never empty. How many calls a body takes depends on how
  // the bytes arrived, not on the message.
  virtual void onBody(std::string_view data) = 0;
  // The trailer section of a chunked message (only when it holds at least one field line), just
  // before onMessageComplete. The default ignores it.
  virtual void onTrailers(std::span<const HeaderField> trailers);
  // The message is complete; the parser goes on with the next one.
  virtual void onMessageComplete() = 0;
};

// Where a parser is, for the connection's timeouts (a header-read timeout while Head, an idle
// timeout while Idle).
enum class Phase : std::uint8_t {
  Idle,      // between messages: no byte of the next one seen yet
  Head,      // inside a start line or header section
  Body,      // inside a body (including chunk-size lines), or before its onMessageComplete
  Trailers,  // inside the trailer section of a chunked body
  Upgraded,  // ResponseParser after a 101, or a 2xx to CONNECT: the rest is not HTTP
  Closed,    // after feedEof
  Failed,    // after an error; see error()
};

// What the two parsers share: feeding, pausing, state. Not used on its own.
class MessageParser {
 public:
  MessageParser(const MessageParser&) = delete;
  MessageParser& operator=(const MessageParser&) = delete;

  // Parses `data`, delivering events, and returns how many of its bytes were consumed: all of
  // them, unless parsing stopped early because a callback called pause(), the parser failed, or
  // a ResponseParser reached Upgraded; then the caller keeps data.substr(returned) for later
  // (after an upgrade: for the new protocol). Bytes consumed but not yet delivered (part of a
  // head) are the parser's, copied. Returns 0 at once when failed, upgraded or closed.
  std::size_t feed(std::string_view data);

  // The peer closed its sending side. Delivers what that completes: the onMessageComplete of a
  // body delimited by close, or one still due after a pause (so a caller holding bytes back
  // feeds them first), then returns true; between messages simply returns true; in the middle
  // of a message fails the parser ("connection closed mid-message") and returns false. After it
  // the parser is Closed (unless it failed) and consumes nothing more.
  bool feedEof();

  // From inside a callback: stop the current feed() right after this callback returns. Has no
  // effect outside a callback (simply do not call feed()).
  void pause() noexcept { pauseRequested_ = true; }

  Phase phase() const noexcept;
  bool failed() const noexcept { return state_ == State::Failed; }
  // Meaningful once failed().
  const ParseError& error() const noexcept { return error_; }
  // Bytes the parser holds: an incomplete head, trailer section or chunk-size line.
  std::size_t bufferedBytes() const noexcept { return buffer_.size(); }
  const Limits& limits() const noexcept { return limits_; }

 protected:
  MessageParser(MessageHandler& handler, const Limits& limits, int errorStatus);
  ~MessageParser() = default;

  // Where a field line's parts are, relative to the start of its section (the head's offsets
  // survive the section moving into buffer_ when it is split across feeds).
  struct FieldSpan {
    std::uint32_t nameOffset;
    std::uint32_t nameSize;
    std::uint32_t valueOffset;
    std::uint32_t valueSize;
    std::uint8_t kind;  // FieldKind (http_parser.cpp): which interpreted field it is, if any
  };

  // The start line (without CRLF; always at offset 0 of its section). Records what it needs and
  // returns true, or fails.
  virtual bool parseStartLine(std::string_view line) = 0;
  // The header section is complete: interpret it, set the body state, deliver the head. `base`
  // is the section's first byte (the start line). Returns false on failure.
  virtual bool headComplete(const char* base) = 0;
  // Whether empty lines before a start line are skipped (requests, RFC 9112 §2.2).
  virtual bool skipsLeadingEmptyLines() const noexcept = 0;
  // The status to fail with when the start line is too long.
  virtual int startLineTooLongStatus() const noexcept = 0;

  bool fail(int status, std::string_view reason) noexcept;
  // Builds the views of the field lines recorded for the current section.
  std::span<const HeaderField> buildFields(const char* base);
  // Sets the body state after the head: framing as decided, with `length` for ContentLength.
  void startBody(BodyFraming framing, std::uint64_t length) noexcept;
  // After the coming onMessageComplete, consume nothing more (ResponseParser's upgrades).
  void upgradeAfterMessage() noexcept { upgradeAfterMessage_ = true; }

  const std::vector<FieldSpan>& fieldSpans() const noexcept { return spans_; }

  Limits limits_;

 private:
  enum class State : std::uint8_t {
    StartLine,
    Fields,
    Body,          // Content-Length body or chunk data: remaining_ bytes to go
    UntilClose,    // body until feedEof
    ChunkLine,     // a chunk-size line
    ChunkDataEnd,  // the CRLF after chunk data
    Trailers,
    Complete,  // onMessageComplete is due
    Upgraded,
    Closed,
    Failed,
  };

  bool readSection(std::string_view data, std::size_t& pos);
  bool lineFits(std::size_t raw, bool complete) noexcept;
  bool fieldLine(std::string_view line, std::uint32_t offset);
  bool readChunkLine(std::string_view data, std::size_t& pos);
  bool chunkLine(std::string_view line);
  void resetSection() noexcept;

  MessageHandler& handler_;
  int errorStatus_;  // for errors whose status does not depend on the kind of message
  State state_ = State::StartLine;
  bool busy_ = false;
  bool pauseRequested_ = false;
  bool upgradeAfterMessage_ = false;
  bool chunked_ = false;  // the body is chunked: after chunk data comes ChunkDataEnd
  bool sawCR_ = false;    // ChunkDataEnd: the CR has been seen
  ParseError error_;
  std::uint64_t remaining_ = 0;

  // The section (head or trailers) being read. While a feed() is parsing it in place,
  // sectionBase_ points at its first byte in the caller's data; when a feed() ends inside it,
  // its bytes so far move into buffer_ (inBuffer_) and later lines are appended there.
  const char* sectionBase_ = nullptr;
  bool inBuffer_ = false;
  std::size_t lineStart_ = 0;     // offset of the current line in the section
  std::size_t skipped_ = 0;       // bytes of empty lines skipped before a start line
  std::size_t sectionBytes_ = 0;  // bytes of complete field lines in the section, CRLFs included
  std::string buffer_;
  std::vector<FieldSpan> spans_;
  std::vector<HeaderField> fields_;
};

// The server's parser. Reads requests one after the other from one connection.
class RequestParser final : public MessageParser {
 public:
  class Handler : public MessageHandler {
   public:
    // The request line and header section, valid and interpreted. The body (if any) follows.
    // A handler that is not ready for the body (Expect: 100-continue, a paused consumer) may
    // pause() here.
    virtual void onRequestHead(const RequestHead& head) = 0;
  };

  // The handler must outlive the parser.
  explicit RequestParser(Handler& handler, const Limits& limits = {});

 private:
  bool parseStartLine(std::string_view line) override;
  bool headComplete(const char* base) override;
  bool skipsLeadingEmptyLines() const noexcept override { return true; }
  int startLineTooLongStatus() const noexcept override { return 414; }

  Handler& requestHandler_;
  std::uint32_t methodSize_ = 0;
  std::uint32_t targetOffset_ = 0;
  std::uint32_t targetSize_ = 0;
  int versionMinor_ = 1;
};

// The client's parser. Reads the responses to requests sent on one connection; it must be told
// the method of the request each response answers (HEAD and CONNECT change how a response ends).
class ResponseParser final : public MessageParser {
 public:
  class Handler : public MessageHandler {
   public:
    // The status line and header section. An interim response (1xx) is a message of its own
    // (head, then onMessageComplete); the final response to the same request follows it.
    virtual void onResponseHead(const ResponseHead& head) = 0;
  };

  // The handler must outlive the parser.
  explicit ResponseParser(Handler& handler, const Limits& limits = {});

  // The method of the request whose response comes next; stays in force for the responses after
  // it until changed. "GET" until first set.
  void setRequestMethod(std::string_view method) noexcept;

 private:
  bool parseStartLine(std::string_view line) override;
  bool headComplete(const char* base) override;
  bool skipsLeadingEmptyLines() const noexcept override { return false; }
  int startLineTooLongStatus() const noexcept override { return 502; }

  Handler& responseHandler_;
  bool headRequest_ = false;
  bool connectRequest_ = false;
  int versionMinor_ = 1;
  int status_ = 0;
  std::uint32_t reasonOffset_ = 0;
  std::uint32_t reasonSize_ = 0;
};

}  // namespace torsion::web
