// RequestParser and ResponseParser: the reject list as a table (raw bytes -> status), accepted
// messages as a table (raw bytes -> events), each fed whole, split in two at every byte and fed
// a byte at a time; then pipelining, pausing, zero copy, limits at their borders, end of stream.
#include "torsion/web/http_parser.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "web/http_parser_recorder.hpp"

namespace torsion::web {
namespace {

using test::Outcome;
using test::parseRequests;
using test::parseResponses;
using test::RequestRecorder;
using test::ResponseRecorder;

using namespace std::string_literals;

// ---------------------------------------------------------------------------------------------
// Requests the server must refuse.

struct RejectRow {
  const char* name;
  std::string raw;
  int status;
};

void PrintTo(const RejectRow& row, std::ostream* os) { *os << row.name; }

const std::string kHost = "Host: x\r\n";

std::vector<RejectRow> requestRejects() {
  const std::string get = "GET / HTTP/1.1\r\n";
  const std::string post = "POST / HTTP/1.1\r\nHost: x\r\n";
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  return {
      // Framing: CVE-2020-10108/10109 and friends.
      {"contentLengthAndTransferEncoding",
       post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"transferEncodingAndContentLength",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
      {"duplicateContentLengthSameValue",
       post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"duplicateContentLengthDifferentValues",
       post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"contentLengthList", post + "Content-Length: 5, 5\r\n\r\nhello", 400},
      {"contentLengthPlusSign", post + "Content-Length: +5\r\n\r\nhello", 400},
      {"contentLengthMinusSign", post + "Content-Length: -1\r\n\r\n", 400},
      {"contentLengthHex", post + "Content-Length: 0x5\r\n\r\nhello", 400},
      {"contentLengthInnerSpace", post + "Content-Length:  5 5\r\n\r\nhello", 400},
      {"contentLengthEmpty", post + "Content-Length: \r\n\r\n", 400},
      {"contentLengthExponent", post + "Content-Length: 1e3\r\n\r\n", 400},
      {"contentLengthOverflow", post + "Content-Length: 18446744073709551616\r\n\r\n", 400},
      {"contentLengthHugeOverflow", post + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
      {"transferEncodingGzipOnly", post + "Transfer-Encoding: gzip\r\n\r\n", 400},
      {"transferEncodingIdentity", post + "Transfer-Encoding: identity\r\n\r\n", 400},
      {"transferEncodingChunkedNotLast", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"transferEncodingUnknownBeforeChunked",
       post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"transferEncodingUnknownOnAnotherLine",
       post + "Transfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
      {"transferEncodingChunkedTwice",
       post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
      {"transferEncodingChunkedWithParameter",
       post + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400},
      {"transferEncodingEmpty", post + "Transfer-Encoding: \r\n\r\n", 400},
      {"transferEncodingNotAToken", post + "Transfer-Encoding: chun ked\r\n\r\n", 400},
      {"transferEncodingInHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"connectWithBody", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\nContent-Length: 0\r\n\r\n",
       400},

      // Line endings: CRLF only.
      {"bareLfAfterRequestLine", "GET / HTTP/1.1\n" + kHost + "\r\n", 400},
      {"bareLfAfterHeader", get + "Host: x\n\r\n", 400},
      {"bareLfEndingHead", get + kHost + "\n", 400},
      {"bareLfBeforeRequestLine", "\nGET / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"bareCrInRequestLine", "GET /\r HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"bareCrEndingRequestLine", "GET / HTTP/1.1\r\r\n" + kHost + "\r\n", 400},
      {"bareCrInHeaderValue", get + "Host: x\r\nX-A: a\rb\r\n\r\n", 400},
      {"bareCrEndingHeader", get + "Host: x\r\r\n\r\n", 400},
      {"bareCrAsHeaderLine", get + kHost + "\r\r\n", 400},

      // Header section syntax.
      {"obsFold", get + kHost + "X-A: a\r\n b\r\n\r\n", 400},
      {"obsFoldWithTab", get + kHost + "X-A: a\r\n\tb\r\n\r\n", 400},
      {"whitespaceBeforeFirstHeader", get + " Host: x\r\n\r\n", 400},
      {"spaceBeforeColon", get + "Host : x\r\n\r\n", 400},
      {"tabBeforeColon", get + "Host\t: x\r\n\r\n", 400},
      {"headerWithoutColon", get + kHost + "BadHeaderWithoutColon\r\n\r\n", 400},
      {"emptyHeaderName", get + kHost + ": x\r\n\r\n", 400},
      {"headerNameWithParenthesis", get + kHost + "X(A): b\r\n\r\n", 400},
      {"headerNameWithBracket", get + kHost + "X[A]: b\r\n\r\n", 400},
      {"headerNameWithSlash", get + kHost + "X/A: b\r\n\r\n", 400},
      {"headerNameWithControl", get + kHost + "X\x01: b\r\n\r\n", 400},
      {"headerNameWithHighByte", get + kHost + "X\xc3\xa9: b\r\n\r\n", 400},
      {"headerValueWithNul", get + kHost + "X-A: a"s + '\0' + "b\r\n\r\n", 400},
      {"headerValueWithControl", get + kHost + "X-A: a\x01z\r\n\r\n", 400},
      {"headerValueWithVerticalTab", get + kHost + "X-A: a\x0bz\r\n\r\n", 400},
      {"headerValueWithDel", get + kHost + "X-A: a\x7fz\r\n\r\n", 400},
      {"headerValueWithEscape", get + kHost + "X-A: a\x1b[0mz\r\n\r\n", 400},
      {"longHeaderValueWithNulLate",
       get + kHost + "X-A: " + std::string(37, 'v') + '\0' + "tail\r\n\r\n", 400},

      // Request line.
      {"garbage", "GARBAGE\r\n\r\n", 400},
      {"methodOnly", "GET\r\n\r\n", 400},
      {"http09", "GET /\r\n\r\n", 400},
      {"extraToken", "GET / HTTP/1.1 extra\r\n" + kHost + "\r\n", 400},
      {"spaceInTarget", "GET /a b HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"doubleSpaceBeforeTarget", "GET  / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"doubleSpaceBeforeVersion", "GET /  HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"tabAsSeparator", "GET\t/ HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"leadingSpace", " GET / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"trailingSpace", "GET / HTTP/1.1 \r\n" + kHost + "\r\n", 400},
      {"methodWithParenthesis", "G(T / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"methodWithAt", "G@T / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"methodWithHighByte", "G\xc3\x89T / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"nulInMethod", "GE"s + '\0' + "T / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithFragment", "GET /a#b HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithBadPercent", "GET /a%zz HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithTruncatedPercent", "GET /a%4 HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithPercentAtEnd", "GET /a% HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithDel", "GET /a\x7f HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithHighBytes", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithNul", "GET /a"s + '\0' + " HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"targetWithControl", "GET /a\x01 HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"relativeTarget", "GET a/b HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"dotDotTarget", "GET ../secret HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"authorityTargetWithoutConnect", "GET x:80 HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"asteriskWithoutOptions", "GET * HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"connectWithPath", "CONNECT /x HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"connectWithoutPort", "CONNECT x HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"connectWithoutHost", "CONNECT :443 HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"connectWithBadPort", "CONNECT x:44a HTTP/1.1\r\n" + kHost + "\r\n", 400},

      // Versions.
      {"http2", "GET / HTTP/2.0\r\n" + kHost + "\r\n", 505},
      {"http2Preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"http12", "GET / HTTP/1.2\r\n" + kHost + "\r\n", 505},
      {"http09Version", "GET / HTTP/0.9\r\n" + kHost + "\r\n", 505},
      {"http30", "GET / HTTP/3.0\r\n" + kHost + "\r\n", 505},
      {"lowercaseVersion", "GET / http/1.1\r\n" + kHost + "\r\n", 400},
      {"versionWithoutMinor", "GET / HTTP/1\r\n" + kHost + "\r\n", 400},
      {"versionTwoDigits", "GET / HTTP/11.1\r\n" + kHost + "\r\n", 400},
      {"versionGarbage", "GET / HTTX/1.1\r\n" + kHost + "\r\n", 400},

      // Host (RFC 9112 §3.2).
      {"missingHostInHttp11", "GET / HTTP/1.1\r\n\r\n", 400},
      {"duplicateHost", get + "Host: a\r\nHost: b\r\n\r\n", 400},
      {"duplicateHostSameValue", get + "Host: a\r\nHost: a\r\n\r\n", 400},
      {"hostWithSpace", get + "Host: a b\r\n\r\n", 400},
      {"hostWithSlash", get + "Host: a/b\r\n\r\n", 400},
      {"hostWithAt", get + "Host: user@a\r\n\r\n", 400},
      {"hostWithBadPort", get + "Host: a:8o\r\n\r\n", 400},
      {"hostUnclosedIpv6", get + "Host: [::1\r\n\r\n", 400},
      {"hostEmptyIpv6", get + "Host: []\r\n\r\n", 400},

      // Chunked bodies.
      {"chunkSizeNotHex", chunked + "zz\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeEmpty", chunked + "\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeNegative", chunked + "-5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSize0x", chunked + "0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeLeadingSpace", chunked + " 5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeTrailingSpace", chunked + "5 \r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizePlus", chunked + "+5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeOverflow", chunked + "10000000000000000\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeBareLf", chunked + "5\nhello\r\n0\r\n\r\n", 400},
      {"chunkSizeBareCr", chunked + "5\rhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionEmptyName", chunked + "5;\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionEmptyValue", chunked + "5;a=\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionBadName", chunked + "5;a(b)\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionUnterminatedQuote", chunked + "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionJunkAfterQuote", chunked + "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionNul", chunked + "5;a=\"b"s + '\0' + "\"\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkExtensionTooLong",
       chunked + "5;a=" + std::string(5000, 'b') + "\r\nhello\r\n0\r\n\r\n", 400},
      {"chunkDataTooLong", chunked + "5\r\nhello!\r\n0\r\n\r\n", 400},
      {"chunkDataBareLf", chunked + "5\r\nhello\n0\r\n\r\n", 400},
      {"chunkDataWithoutCrlf", chunked + "5\r\nhello0\r\n\r\n", 400},
      {"trailerBareLf", chunked + "0\r\nX-T: a\n\r\n", 400},
      {"trailerObsFold", chunked + "0\r\nX-T: a\r\n b\r\n\r\n", 400},
      {"trailerInvalidValue", chunked + "0\r\nX-T: a\x01\r\n\r\n", 400},
      {"trailerWithoutColon", chunked + "0\r\nX-T\r\n\r\n", 400},
      {"lastChunkBareLfEnd", chunked + "0\r\n\n", 400},

      // Sizes (defaults: 8 KiB request line, 16 KiB per header section, 500 fields).
      {"requestLineTooLong", "GET /" + std::string(12000, 'a') + " HTTP/1.1\r\n" + kHost + "\r\n",
       414},
      {"requestLineTooLongWithoutEnd", "GET /" + std::string(9000, 'a'), 414},
      {"headerLineTooLong", get + kHost + "X-A: " + std::string(17000, 'v') + "\r\n\r\n", 431},
      {"headerSectionTooLarge",
       [&] {
         std::string s = get + kHost;
         for (int i = 0; i < 20; ++i)
           s += "X-F" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
         return s + "\r\n";
       }(),
       431},
      {"tooManyHeaders",
       [&] {
         std::string s = get + kHost;
         for (int i = 0; i < 600; ++i) s += "X-H" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }(),
       431},
      {"trailerSectionTooLarge",
       [&] {
         std::string s = chunked + "0\r\n";
         for (int i = 0; i < 20; ++i)
           s += "X-T" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
         return s + "\r\n";
       }(),
       431},
      {"endlessEmptyLines",
       [] {
         std::string s;
         for (int i = 0; i < 5000; ++i) s += "\r\n";
         return s + "GET / HTTP/1.1\r\n" + kHost + "\r\n";
       }(),
       400},
  };
}

class RequestRejects : public ::testing::TestWithParam<RejectRow> {};

TEST_P(RequestRejects, failWithTheirStatusWholeOrByteByByte) {
  const RejectRow& row = GetParam();
  const Outcome whole = parseRequests(row.raw);
  EXPECT_TRUE(whole.failed);
  EXPECT_EQ(whole.status, row.status) << whole.reason;
  EXPECT_FALSE(whole.reason.empty());
  const Outcome bytes = parseRequests(row.raw, 1);
  EXPECT_TRUE(bytes.failed);
  EXPECT_EQ(bytes.status, row.status) << bytes.reason;
  EXPECT_EQ(bytes.events, whole.events);
}

INSTANTIATE_TEST_SUITE_P(Table, RequestRejects, ::testing::ValuesIn(requestRejects()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Requests the server must take, and exactly what it must see of them.

struct AcceptRow {
  const char* name;
  std::string raw;
  std::vector<std::string> events;
};

std::vector<AcceptRow> requestAccepts() {
  return {
      {"simpleGet",
       "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=example.com | Host=example.com", "complete"}},
      {"typicalBrowserGet",
       "GET /index.html?q=1&r=%2F HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 "
       "(X11; Linux x86_64)\r\nAccept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
       "Accept-Encoding: gzip, deflate\r\nCookie: a=b; c=\"d e\"\r\nConnection: keep-alive\r\n\r\n",
       {"head GET /index.html?q=1&r=%2F 1.1 origin none keep-alive host=localhost:8080 | "
        "Host=localhost:8080 User-Agent=Mozilla/5.0 (X11; Linux x86_64) "
        "Accept=text/html,*/*;q=0.8 Accept-Language=en-US,en;q=0.5 Accept-Encoding=gzip, "
        "deflate Cookie=a=b; c=\"d e\" Connection=keep-alive",
        "complete"}},
      {"postWithContentLength",
       "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
       {"head POST /form 1.1 origin cl:11 keep-alive host=x | Host=x Content-Length=11",
        "body hello world", "complete"}},
      {"contentLengthZero",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
       {"head POST / 1.1 origin cl:0 keep-alive host=x | Host=x Content-Length=0", "complete"}},
      {"contentLengthLeadingZeros",
       "POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 003\r\n\r\nabc",
       {"head POST / 1.1 origin cl:3 keep-alive host=x | Host=x content-length=003", "body abc",
        "complete"}},
      {"chunkedWithTrailers",
       "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n1;ext=val;quoted=\"a \\\"b\\\"\"\r\n \r\nA ; n = v\r\n0123456789\r\n"
       "0\r\nX-Checksum: abc\r\nX-Other:  d e \r\n\r\n",
       {"head POST /up 1.1 origin chunked keep-alive host=x | Host=x Transfer-Encoding=chunked",
        "body hello 0123456789", "trailers X-Checksum=abc X-Other=d e", "complete"}},
      {"chunkedWithoutTrailers",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       {"head POST / 1.1 origin chunked keep-alive host=x | Host=x Transfer-Encoding=Chunked",
        "body abc", "complete"}},
      {"chunkedEmptyBody",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0000\r\n\r\n",
       {"head POST / 1.1 origin chunked keep-alive host=x | Host=x Transfer-Encoding=chunked",
        "complete"}},
      {"chunkedUpperHexSize",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
       {"head POST / 1.1 origin chunked keep-alive host=x | Host=x Transfer-Encoding=chunked",
        "body 0123456789", "complete"}},
      {"transferEncodingEmptyElements",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked ,\r\n\r\n0\r\n\r\n",
       {"head POST / 1.1 origin chunked keep-alive host=x | Host=x Transfer-Encoding=, chunked ,",
        "complete"}},
      {"pipelinedInOneBuffer",
       "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
       "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
       "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
       {"head GET /a 1.1 origin none keep-alive host=x | Host=x", "complete",
        "head POST /b 1.1 origin cl:3 keep-alive host=x | Host=x Content-Length=3", "body xyz",
        "complete", "head GET /c 1.1 origin none close host=x | Host=x Connection=close",
        "complete"}},
      {"pipelinedChunkedThenGet",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
       "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head POST / 1.1 origin chunked keep-alive host=x | Host=x Transfer-Encoding=chunked",
        "body ab", "complete", "head GET /next 1.1 origin none keep-alive host=x | Host=x",
        "complete"}},
      {"expectContinue",
       "PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok",
       {"head PUT /f 1.1 origin cl:2 keep-alive continue host=x | Host=x Expect=100-Continue "
        "Content-Length=2",
        "body ok", "complete"}},
      {"expectContinueIgnoredInHttp10",
       "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
       {"head PUT /f 1.0 origin cl:2 close host= | Expect=100-continue Content-Length=2", "body ok",
        "complete"}},
      {"http10DefaultsToClose",
       "GET / HTTP/1.0\r\n\r\n",
       {"head GET / 1.0 origin none close host= |", "complete"}},
      {"http10KeepAlive",
       "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
       {"head GET / 1.0 origin none keep-alive host= | Connection=Keep-Alive", "complete"}},
      {"http10KeepAliveAndClose",
       "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
       {"head GET / 1.0 origin none close host= | Connection=keep-alive Connection=close",
        "complete"}},
      {"http11DefaultsToKeepAlive",
       "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=x | Host=x", "complete"}},
      {"http11Close",
       "GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n",
       {"head GET / 1.1 origin none close host=x | Host=x Connection=foo, CLOSE", "complete"}},
      {"websocketUpgrade",
       "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       {"head GET /ws 1.1 origin none keep-alive upgrade host=x | Host=x Connection=Upgrade "
        "Upgrade=websocket",
        "complete"}},
      {"upgradeWithoutConnectionOption",
       "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
       {"head GET /ws 1.1 origin none keep-alive host=x | Host=x Upgrade=websocket", "complete"}},
      {"emptyLinesBeforeRequestLine",
       "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=x | Host=x", "complete"}},
      {"headerWhitespaceTrimmed",
       "GET / HTTP/1.1\r\nHost:x\r\nX-A: \t a  b \t \r\nX-Empty:\r\nX-Spaces:   \r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=x | Host=x X-A=a  b X-Empty= X-Spaces=",
        "complete"}},
      {"headerValueObsText",
       "GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9 \x80\xff\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=x | Host=x X-Name=caf\xc3\xa9 \x80\xff",
        "complete"}},
      {"headerNameAllTokenCharacters",
       "GET / HTTP/1.1\r\nHost: x\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=x | Host=x !#$%&'*+-.^_`|~09azAZ=v",
        "complete"}},
      {"duplicateOrdinaryHeadersKept",
       "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host=x | Host=x X-A=1 x-a=2", "complete"}},
      {"browserStyleTarget",
       "GET /search?filter[name]=a|b&x={y}^`\\\"<> HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head GET /search?filter[name]=a|b&x={y}^`\\\"<> 1.1 origin none keep-alive host=x | "
        "Host=x",
        "complete"}},
      {"absoluteFormTarget",
       "GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
       {"head GET http://example.com:8080/a?b 1.1 absolute none keep-alive host=example.com:8080 "
        "| Host=example.com:8080",
        "complete"}},
      {"optionsAsterisk",
       "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head OPTIONS * 1.1 asterisk none keep-alive host=x | Host=x", "complete"}},
      {"connectAuthority",
       "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
       {"head CONNECT example.com:443 1.1 authority none keep-alive host=example.com:443 | "
        "Host=example.com:443",
        "complete"}},
      {"connectIpv6",
       "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
       {"head CONNECT [::1]:443 1.1 authority none keep-alive host=[::1]:443 | Host=[::1]:443",
        "complete"}},
      {"emptyHostValue",
       "GET / HTTP/1.1\r\nHost:\r\n\r\n",
       {"head GET / 1.1 origin none keep-alive host= | Host=", "complete"}},
      {"extensionMethod",
       "PURGE-ALL /x HTTP/1.1\r\nHost: x\r\n\r\n",
       {"head PURGE-ALL /x 1.1 origin none keep-alive host=x | Host=x", "complete"}},
  };
}

void PrintTo(const AcceptRow& row, std::ostream* os) { *os << row.name; }

class RequestAccepts : public ::testing::TestWithParam<AcceptRow> {};

TEST_P(RequestAccepts, giveTheirEventsWhole) {
  const AcceptRow& row = GetParam();
  const Outcome out = parseRequests(row.raw);
  EXPECT_FALSE(out.failed) << out.status << " " << out.reason;
  EXPECT_EQ(out.events, row.events);
  EXPECT_EQ(out.consumed, row.raw.size());
}

TEST_P(RequestAccepts, giveTheSameEventsSplitAtEveryByte) {
  const AcceptRow& row = GetParam();
  for (std::size_t cut = 0; cut <= row.raw.size(); ++cut) {
    RequestRecorder recorder;
    RequestParser parser(recorder);
    const std::string_view raw = row.raw;
    std::size_t consumed = parser.feed(raw.substr(0, cut));
    consumed += parser.feed(raw.substr(cut));
    ASSERT_FALSE(parser.failed()) << "cut at " << cut << ": " << parser.error().reason;
    EXPECT_EQ(recorder.events, row.events) << "cut at " << cut;
    EXPECT_EQ(consumed, raw.size());
  }
}

TEST_P(RequestAccepts, giveTheSameEventsByteByByte) {
  const AcceptRow& row = GetParam();
  const Outcome out = parseRequests(row.raw, 1);
  EXPECT_FALSE(out.failed) << out.reason;
  EXPECT_EQ(out.events, row.events);
}

INSTANTIATE_TEST_SUITE_P(Table, RequestAccepts, ::testing::ValuesIn(requestAccepts()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Limits at their borders.

std::string requestWithLine(std::size_t targetSize) {
  // "GET " + target + " HTTP/1.1" is targetSize + 13 bytes.
  return "GET /" + std::string(targetSize - 1, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

TEST(RequestParserLimits, requestLineOfExactlyTheLimitIsAccepted) {
  Limits limits;
  limits.maxStartLine = 100;
  EXPECT_FALSE(parseRequests(requestWithLine(100 - 13), 0, limits).failed);
  EXPECT_FALSE(parseRequests(requestWithLine(100 - 13), 1, limits).failed);
  const Outcome over = parseRequests(requestWithLine(101 - 13), 0, limits);
  EXPECT_EQ(over.status, 414);
  EXPECT_EQ(parseRequests(requestWithLine(101 - 13), 1, limits).status, 414);
}

TEST(RequestParserLimits, headerLineOfExactlyTheLimitIsAccepted) {
  Limits limits;
  limits.maxFieldLine = 50;
  const std::string atLimit =
      "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + std::string(45, 'v') + "\r\n\r\n";
  const std::string over = "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + std::string(46, 'v') + "\r\n\r\n";
  EXPECT_FALSE(parseRequests(atLimit, 0, limits).failed);
  EXPECT_FALSE(parseRequests(atLimit, 1, limits).failed);
  EXPECT_EQ(parseRequests(over, 0, limits).status, 431);
  EXPECT_EQ(parseRequests(over, 1, limits).status, 431);
}

TEST(RequestParserLimits, headerSectionCountsFieldLinesAndTheEmptyLine) {
  Limits limits;
  limits.maxFieldSection = 9 + 12 + 2;  // "Host: x\r\n", "X-A: 12345\r\n", "\r\n"
  const std::string atLimit = "GET / HTTP/1.1\r\nHost: x\r\nX-A: 12345\r\n\r\n";
  const std::string over = "GET / HTTP/1.1\r\nHost: x\r\nX-A: 123456\r\n\r\n";
  for (const std::size_t piece : {0, 1, 7}) {
    EXPECT_FALSE(parseRequests(atLimit, piece, limits).failed) << piece;
    EXPECT_EQ(parseRequests(over, piece, limits).status, 431) << piece;
  }
}

TEST(RequestParserLimits, fieldCountOfExactlyTheLimitIsAccepted) {
  Limits limits;
  limits.maxFieldCount = 5;
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 4; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_FALSE(parseRequests(head + "\r\n", 0, limits).failed);
  const Outcome over = parseRequests(head + "X-9: v\r\n\r\n", 0, limits);
  EXPECT_EQ(over.status, 431);
  EXPECT_EQ(over.reason, "too many header fields");
}

TEST(RequestParserLimits, defaultsTakeFiveHundredHeadersInSixteenKiB) {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 499; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_FALSE(parseRequests(head + "\r\n").failed);
  EXPECT_EQ(parseRequests(head + "X-Last: v\r\n\r\n").status, 431);
}

TEST(RequestParserLimits, chunkLineOfExactlyTheLimitIsAccepted) {
  Limits limits;
  limits.maxChunkLine = 10;
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_FALSE(parseRequests(head + "1;abcdefgh\r\nz\r\n0\r\n\r\n", 1, limits).failed);
  EXPECT_EQ(parseRequests(head + "1;abcdefghi\r\nz\r\n0\r\n\r\n", 1, limits).status, 400);
  EXPECT_EQ(parseRequests(head + "1;abcdefghi\r\nz\r\n0\r\n\r\n", 0, limits).status, 400);
}

TEST(RequestParserLimits, anIncompleteHeadIsRefusedOnceItOutgrowsTheLimit) {
  // A client that never ends its line cannot make the parser hold more than the limit.
  RequestRecorder recorder;
  RequestParser parser(recorder);
  parser.feed("GET / HTTP/1.1\r\nHost: x\r\nX-A: ");
  const std::string chunk(1000, 'v');
  for (int i = 0; i < 100 && !parser.failed(); ++i) {
    parser.feed(chunk);
    EXPECT_LE(parser.bufferedBytes(), 16 * 1024 + 64);
  }
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.error().status, 431);
}

TEST(RequestParserLimits, aLongLineEndingInALaterReadIsRefusedBeforeItIsBuffered) {
  // Found by fuzz/http_request_parser: the rest of a split line used to be copied before its
  // size was checked.
  Limits limits;
  limits.maxFieldLine = 40;
  RequestRecorder recorder;
  RequestParser parser(recorder, limits);
  parser.feed("GET / HTTP/1.1\r\nHost: x\r\nX-A: v");
  parser.feed(std::string(1000, 'v') + "\r\n\r\n");
  EXPECT_EQ(parser.error().status, 431);
  EXPECT_LT(parser.bufferedBytes(), 100U);

  RequestParser chunks(recorder, limits);
  chunks.feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;a=");
  chunks.feed(std::string(10000, 'b') + "\r\n");
  EXPECT_EQ(chunks.error().reason, "chunk-size line too long");
  EXPECT_LT(chunks.bufferedBytes(), 5000U);
}

// ---------------------------------------------------------------------------------------------
// Pipelining, pausing and the rest of the contract.

TEST(RequestParser, pauseInMessageCompleteStopsAtTheEndOfThatRequest) {
  const std::string first = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string second = "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz";
  const std::string third = "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string all = first + second + third;
  RequestRecorder recorder;
  RequestParser parser(recorder);
  recorder.parser = &parser;
  recorder.pauseOnComplete = true;

  std::string_view rest = all;
  std::size_t used = parser.feed(rest);
  EXPECT_EQ(used, first.size());
  ASSERT_EQ(recorder.events.size(), 2U);
  EXPECT_EQ(parser.phase(), Phase::Idle);
  rest.remove_prefix(used);
  used = parser.feed(rest);
  EXPECT_EQ(used, second.size());
  EXPECT_EQ(recorder.events.back(), "complete");
  EXPECT_EQ(recorder.events.size(), 5U);
  rest.remove_prefix(used);
  used = parser.feed(rest);
  EXPECT_EQ(used, third.size());
  EXPECT_EQ(recorder.events.size(), 7U);
}

TEST(RequestParser, pauseInHeadLeavesTheBodyForLater) {
  const std::string raw =
      "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody";
  RequestRecorder recorder;
  RequestParser parser(recorder);
  recorder.parser = &parser;
  recorder.pauseOnHead = true;
  const std::size_t used = parser.feed(raw);
  EXPECT_EQ(used, raw.size() - 4);
  ASSERT_EQ(recorder.events.size(), 1U);
  EXPECT_EQ(parser.phase(), Phase::Body);
  // A pause lasts only for the feed it was asked in.
  EXPECT_EQ(parser.feed(std::string_view(raw).substr(used)), 4U);
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{recorder.events[0], "body body", "complete"}));
}

TEST(RequestParser, aPausedEmptyBodyCompletesOnAnEmptyFeed) {
  RequestRecorder recorder;
  RequestParser parser(recorder);
  recorder.parser = &parser;
  recorder.pauseOnHead = true;
  const std::string raw = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(parser.feed(raw), raw.size());
  EXPECT_EQ(recorder.events.size(), 1U);
  recorder.pauseOnHead = false;
  EXPECT_EQ(parser.feed(""), 0U);
  EXPECT_EQ(recorder.events.back(), "complete");
  EXPECT_EQ(parser.phase(), Phase::Idle);
}

TEST(RequestParser, pauseInBodyReturnsWhatWasConsumed) {
  const std::string head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string raw = head + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  RequestRecorder recorder;
  RequestParser parser(recorder);
  recorder.parser = &parser;
  recorder.pauseOnBody = true;
  std::string_view rest = raw;
  std::size_t used = parser.feed(rest);
  EXPECT_EQ(used, head.size() + 3 + 3);
  EXPECT_EQ(recorder.events.back(), "body abc");
  rest.remove_prefix(used);
  used = parser.feed(rest);
  EXPECT_EQ(used, 3U + 2U + 2U);
  rest.remove_prefix(used);
  EXPECT_EQ(parser.feed(rest), rest.size());
  EXPECT_EQ(recorder.events.back(), "complete");
  EXPECT_EQ(recorder.bodyCalls, 2U);
}

TEST(RequestParser, headOfOneReadIsDeliveredAsViewsIntoTheCallersBytes) {
  struct Check : RequestParser::Handler {
    void onRequestHead(const RequestHead& head) override {
      inside = head.method.data() >= raw.data() && head.host.data() < raw.data() + raw.size() &&
               head.fields.back().value.data() < raw.data() + raw.size();
    }
    void onBody(std::string_view data) override {
      bodyInside = data.data() >= raw.data() && data.data() < raw.data() + raw.size();
    }
    void onMessageComplete() override {}
    std::string_view raw;
    bool inside = false;
    bool bodyInside = false;
  } check;
  const std::string raw = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
  check.raw = raw;
  RequestParser parser(check);
  parser.feed(raw);
  EXPECT_TRUE(check.inside);
  EXPECT_TRUE(check.bodyInside);
  EXPECT_EQ(parser.bufferedBytes(), 0U);
}

TEST(RequestParser, keepsOnlyTheIncompleteHeadBetweenReads) {
  RequestRecorder recorder;
  RequestParser parser(recorder);
  EXPECT_EQ(parser.phase(), Phase::Idle);
  parser.feed("GET / HTTP/1.1\r\nHo");
  EXPECT_EQ(parser.bufferedBytes(), 18U);
  EXPECT_EQ(parser.phase(), Phase::Head);
  parser.feed("st: x\r\n\r\nGET /2 HT");
  EXPECT_EQ(recorder.events.size(), 2U);
  EXPECT_EQ(parser.bufferedBytes(), 9U);  // only the start of the second request
  parser.feed("TP/1.1\r\nHost: y\r\n\r\n");
  EXPECT_EQ(parser.bufferedBytes(), 0U);
  EXPECT_EQ(recorder.events.size(), 4U);
  EXPECT_EQ(recorder.events[2], "head GET /2 1.1 origin none keep-alive host=y | Host=y");
}

TEST(RequestParser, staysFailedAfterAnError) {
  RequestRecorder recorder;
  RequestParser parser(recorder);
  parser.feed("GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n");
  ASSERT_TRUE(parser.failed());
  EXPECT_EQ(parser.phase(), Phase::Failed);
  EXPECT_EQ(parser.error().status, 400);
  EXPECT_EQ(parser.error().reason, "invalid character in header name");
  EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0U);
  EXPECT_TRUE(recorder.events.empty());
  EXPECT_FALSE(parser.feedEof());
  EXPECT_EQ(parser.error().status, 400);
}

TEST(RequestParser, eventsBeforeAnErrorAreDelivered) {
  const Outcome out = parseRequests(
      "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /bad HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n");
  EXPECT_TRUE(out.failed);
  EXPECT_EQ(out.events,
            (std::vector<std::string>{"head GET /ok 1.1 origin none keep-alive host=x | Host=x",
                                      "complete"}));
}

TEST(RequestParser, feedingFromACallbackIsALogicError) {
  struct Reentrant : RequestParser::Handler {
    void onRequestHead(const RequestHead&) override { parser->feed("x"); }
    void onBody(std::string_view) override {}
    void onMessageComplete() override {}
    RequestParser* parser = nullptr;
  } handler;
  RequestParser parser(handler);
  handler.parser = &parser;
  EXPECT_THROW(parser.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), std::logic_error);
  EXPECT_TRUE(parser.failed());
}

TEST(RequestParser, aThrowingCallbackFailsTheParserAndPropagates) {
  struct Throws : RequestParser::Handler {
    void onRequestHead(const RequestHead&) override {}
    void onBody(std::string_view) override { throw std::runtime_error("consumer broke"); }
    void onMessageComplete() override {}
  } handler;
  RequestParser parser(handler);
  EXPECT_THROW(parser.feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"),
               std::runtime_error);
  EXPECT_TRUE(parser.failed());
  EXPECT_EQ(parser.error().status, 500);
  EXPECT_EQ(parser.feed("more"), 0U);
}

TEST(RequestParser, endOfStreamBetweenRequestsIsClean) {
  RequestRecorder recorder;
  RequestParser parser(recorder);
  parser.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(parser.feedEof());
  EXPECT_EQ(parser.phase(), Phase::Closed);
  EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\n"), 0U);
}

TEST(RequestParser, endOfStreamInsideARequestFailsIt) {
  for (const std::string_view partial :
       {"G", "GET / HTTP/1.1\r\nHost: x\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"}) {
    RequestRecorder recorder;
    RequestParser parser(recorder);
    parser.feed(partial);
    EXPECT_FALSE(parser.failed()) << partial;
    EXPECT_FALSE(parser.feedEof()) << partial;
    EXPECT_EQ(parser.error().status, 400);
    EXPECT_EQ(parser.error().reason, "connection closed mid-message");
  }
}

TEST(RequestParser, phaseFollowsTheMessage) {
  struct Phases : RequestParser::Handler {
    void onRequestHead(const RequestHead&) override { seen.push_back(parser->phase()); }
    void onBody(std::string_view) override { seen.push_back(parser->phase()); }
    void onTrailers(std::span<const HeaderField>) override { seen.push_back(parser->phase()); }
    void onMessageComplete() override { seen.push_back(parser->phase()); }
    RequestParser* parser = nullptr;
    std::vector<Phase> seen;
  } handler;
  RequestParser parser(handler);
  handler.parser = &parser;
  parser.feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n");
  EXPECT_EQ(parser.phase(), Phase::Body);
  parser.feed("0\r\nX: y\r\n");
  EXPECT_EQ(parser.phase(), Phase::Trailers);
  parser.feed("\r\n");
  EXPECT_EQ(parser.phase(), Phase::Idle);
  EXPECT_EQ(handler.seen, (std::vector<Phase>{Phase::Body, Phase::Body, Phase::Body, Phase::Idle}));
}

TEST(RequestParser, largeBodyIsPassedThroughInTheReadsItCameIn) {
  RequestRecorder recorder;
  RequestParser parser(recorder);
  const std::string body(100000, 'b');
  parser.feed("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  for (std::size_t i = 0; i < body.size(); i += 4096) {
    parser.feed(std::string_view(body).substr(i, 4096));
    EXPECT_EQ(parser.bufferedBytes(), 0U);
  }
  EXPECT_EQ(recorder.bodyCalls, 25U);
  EXPECT_EQ(recorder.events.back(), "complete");
  EXPECT_EQ(recorder.events[1].size(), 5 + body.size());
}

TEST(RequestParser, manyPipelinedRequestsByteByByte) {
  std::string raw;
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i) {
    const std::string body = std::string(static_cast<std::size_t>(i % 7), 'x');
    raw += "POST /" + std::to_string(i) +
           " HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
    expected.push_back("head POST /" + std::to_string(i) +
                       " 1.1 origin cl:" + std::to_string(body.size()) +
                       " keep-alive host=h | Host=h Content-Length=" + std::to_string(body.size()));
    if (!body.empty()) expected.push_back("body " + body);
    expected.push_back("complete");
  }
  EXPECT_EQ(parseRequests(raw, 1).events, expected);
  EXPECT_EQ(parseRequests(raw, 13).events, expected);
  EXPECT_EQ(parseRequests(raw).events, expected);
}

// ---------------------------------------------------------------------------------------------
// Responses (the client's parser).

struct ResponseRow {
  const char* name;
  std::string raw;
  std::string method;
  bool eof;  // the server closes after the bytes
  std::vector<std::string> events;
};

std::vector<ResponseRow> responseAccepts() {
  return {
      {"contentLength",
       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
       "GET",
       false,
       {"head 200 OK 1.1 cl:5 keep-alive | Content-Length=5", "body hello", "complete"}},
      {"chunkedWithTrailers",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n"
       "0\r\nExpires: never\r\n\r\n",
       "GET",
       false,
       {"head 200 OK 1.1 chunked keep-alive | Transfer-Encoding=chunked", "body Wikipedia",
        "trailers Expires=never", "complete"}},
      {"untilClose",
       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
       "GET",
       true,
       {"head 200 OK 1.1 close close | Content-Type=text/plain", "body all of it", "complete"}},
      {"untilCloseEmpty",
       "HTTP/1.0 200 OK\r\n\r\n",
       "GET",
       true,
       {"head 200 OK 1.0 close close |", "complete"}},
      {"headResponseHasNoBody",
       "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: "
       "0\r\n\r\n",
       "HEAD",
       false,
       {"head 200 OK 1.1 none keep-alive | Content-Length=1000", "complete",
        "head 404 Not Found 1.1 none keep-alive | Content-Length=0", "complete"}},
      {"noContent",
       "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
       "GET",
       false,
       {"head 204 No Content 1.1 none keep-alive | Content-Length=7", "complete"}},
      {"notModified",
       "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
       "GET",
       false,
       {"head 304 Not Modified 1.1 none keep-alive | Transfer-Encoding=chunked", "complete"}},
      {"continueThenFinal",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
       "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
       "PUT",
       false,
       {"head 100 Continue 1.1 none keep-alive |", "complete",
        "head 103 Early Hints 1.1 none keep-alive | Link=</a>", "complete",
        "head 201 Created 1.1 cl:2 keep-alive | Content-Length=2", "body ok", "complete"}},
      {"http10KeepAlive",
       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
       "GET",
       false,
       {"head 200 OK 1.0 cl:1 keep-alive | Connection=keep-alive Content-Length=1", "body x",
        "complete"}},
      {"http10DefaultClose",
       "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
       "GET",
       false,
       {"head 200 OK 1.0 cl:1 close | Content-Length=1", "body x", "complete"}},
      {"connectionClose",
       "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
       "GET",
       false,
       {"head 200 OK 1.1 cl:0 close | Connection=close Content-Length=0", "complete"}},
      {"noReasonPhrase",
       "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
       "GET",
       false,
       {"head 200  1.1 cl:0 keep-alive | Content-Length=0", "complete"}},
      {"emptyReasonPhrase",
       "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n",
       "GET",
       false,
       {"head 500  1.1 cl:0 keep-alive | Content-Length=0", "complete"}},
      {"repeatedIdenticalContentLength",
       "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
       "GET",
       false,
       {"head 200 OK 1.1 cl:3 keep-alive | Content-Length=3, 3 Content-Length=3", "body abc",
        "complete"}},
      {"pipelined",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nTransfer-Encoding: "
       "chunked\r\n\r\n1\r\nb\r\n0\r\n\r\nHTTP/1.1 404 Nope\r\nContent-Length: 0\r\n\r\n",
       "GET",
       false,
       {"head 200 OK 1.1 cl:1 keep-alive | Content-Length=1", "body a", "complete",
        "head 200 OK 1.1 chunked keep-alive | Transfer-Encoding=chunked", "body b", "complete",
        "head 404 Nope 1.1 cl:0 keep-alive | Content-Length=0", "complete"}},
      {"errorStatusWithBodyForHead",
       "HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\n",
       "HEAD",
       false,
       {"head 500 Oops 1.1 none keep-alive | Content-Length=10", "complete"}},
      {"connectFailureHasBody",
       "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno",
       "CONNECT",
       false,
       {"head 407 Proxy Authentication Required 1.1 cl:2 keep-alive | Content-Length=2", "body no",
        "complete"}},
  };
}

void PrintTo(const ResponseRow& row, std::ostream* os) { *os << row.name; }

class ResponseAccepts : public ::testing::TestWithParam<ResponseRow> {};

TEST_P(ResponseAccepts, giveTheirEventsWholeSplitOrByteByByte) {
  const ResponseRow& row = GetParam();
  const Outcome whole = parseResponses(row.raw, row.method, 0, row.eof);
  EXPECT_FALSE(whole.failed) << whole.reason;
  EXPECT_EQ(whole.events, row.events);
  const Outcome bytes = parseResponses(row.raw, row.method, 1, row.eof);
  EXPECT_FALSE(bytes.failed) << bytes.reason;
  EXPECT_EQ(bytes.events, row.events);
  for (std::size_t cut = 0; cut <= row.raw.size(); ++cut) {
    ResponseRecorder recorder;
    ResponseParser parser(recorder);
    parser.setRequestMethod(row.method);
    parser.feed(std::string_view(row.raw).substr(0, cut));
    parser.feed(std::string_view(row.raw).substr(cut));
    if (row.eof) {
      EXPECT_TRUE(parser.feedEof());
    }
    ASSERT_FALSE(parser.failed()) << "cut at " << cut << ": " << parser.error().reason;
    EXPECT_EQ(recorder.events, row.events) << "cut at " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ResponseAccepts, ::testing::ValuesIn(responseAccepts()),
                         [](const auto& info) { return std::string(info.param.name); });

struct ResponseRejectRow {
  const char* name;
  std::string raw;
  bool eof;
};

std::vector<ResponseRejectRow> responseRejects() {
  return {
      {"contentLengthAndTransferEncoding",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       false},
      {"differentContentLengths",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", false},
      {"contentLengthListDiffers", "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab", false},
      {"contentLengthNotANumber", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", false},
      {"contentLengthEmpty", "HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n", false},
      {"transferEncodingGzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx", false},
      {"transferEncodingGzipChunked",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", false},
      {"transferEncodingInHttp10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       false},
      {"http2", "HTTP/2.0 200 OK\r\n\r\n", false},
      {"http2WithoutMinor", "HTTP/2 200 OK\r\n\r\n", false},
      {"lowercaseVersion", "http/1.1 200 OK\r\n\r\n", false},
      {"twoDigitStatus", "HTTP/1.1 20 OK\r\n\r\n", false},
      {"fourDigitStatus", "HTTP/1.1 2000 OK\r\n\r\n", false},
      {"statusTooHigh", "HTTP/1.1 600 Custom\r\n\r\n", false},
      {"statusTooLow", "HTTP/1.1 099 Low\r\n\r\n", false},
      {"statusNotDigits", "HTTP/1.1 2x0 OK\r\n\r\n", false},
      {"reasonWithControl", "HTTP/1.1 200 O\x01K\r\n\r\n", false},
      {"bareLfStatusLine", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", false},
      {"bareLfHeader", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n", false},
      {"obsFold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", false},
      {"emptyLineBeforeStatus", "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"badChunkSize", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", false},
      {"closedMidBody", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true},
      {"closedMidChunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true},
      {"closedMidHead", "HTTP/1.1 200 OK\r\nContent-Le", true},
  };
}

void PrintTo(const ResponseRejectRow& row, std::ostream* os) { *os << row.name; }

class ResponseRejects : public ::testing::TestWithParam<ResponseRejectRow> {};

TEST_P(ResponseRejects, failWith502WholeOrByteByByte) {
  const ResponseRejectRow& row = GetParam();
  for (const std::size_t piece : {0, 1}) {
    const Outcome out = parseResponses(row.raw, "GET", piece, row.eof);
    EXPECT_TRUE(out.failed) << piece;
    EXPECT_EQ(out.status, 502) << piece;
    EXPECT_FALSE(out.reason.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ResponseRejects, ::testing::ValuesIn(responseRejects()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ResponseParser, switchingProtocolsLeavesTheRestUnconsumed) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string raw = head + "\x81\x05hello";
  ResponseRecorder recorder;
  ResponseParser parser(recorder);
  EXPECT_EQ(parser.feed(raw), head.size());
  EXPECT_EQ(parser.phase(), Phase::Upgraded);
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{
                "head 101 Switching Protocols 1.1 none close upgrade | Upgrade=websocket "
                "Connection=Upgrade",
                "complete"}));
  EXPECT_EQ(parser.feed("more"), 0U);
  EXPECT_TRUE(parser.feedEof());
}

TEST(ResponseParser, successfulConnectBecomesATunnel) {
  const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
  ResponseRecorder recorder;
  ResponseParser parser(recorder);
  parser.setRequestMethod("CONNECT");
  EXPECT_EQ(parser.feed(head + "\x16\x03\x01"), head.size());
  EXPECT_EQ(parser.phase(), Phase::Upgraded);
  EXPECT_EQ(recorder.events.back(), "complete");
}

TEST(ResponseParser, requestMethodAppliesUntilChanged) {
  ResponseRecorder recorder;
  ResponseParser parser(recorder);
  parser.setRequestMethod("HEAD");
  parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
  parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
  parser.setRequestMethod("GET");
  parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_FALSE(parser.failed());
  EXPECT_EQ(recorder.events.size(), 7U);
  EXPECT_EQ(recorder.events[5], "body abc");
}

TEST(ResponseParser, untilCloseBodyEndsOnlyAtEndOfStream) {
  ResponseRecorder recorder;
  ResponseParser parser(recorder);
  parser.feed("HTTP/1.1 200 OK\r\n\r\npart one, ");
  parser.feed("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(parser.phase(), Phase::Body);
  EXPECT_EQ(recorder.events.size(), 2U);
  EXPECT_TRUE(parser.feedEof());
  EXPECT_EQ(recorder.events,
            (std::vector<std::string>{"head 200 OK 1.1 close close |",
                                      "body part one, HTTP/1.1 200 OK\r\n\r\n", "complete"}));
  EXPECT_EQ(parser.phase(), Phase::Closed);
}

TEST(ResponseParser, aThrowingCallbackFailsWith502) {
  struct Throws : ResponseParser::Handler {
    void onResponseHead(const ResponseHead&) override { throw std::runtime_error("no"); }
    void onBody(std::string_view) override {}
    void onMessageComplete() override {}
  } handler;
  ResponseParser parser(handler);
  EXPECT_THROW(parser.feed("HTTP/1.1 200 OK\r\n\r\n"), std::runtime_error);
  EXPECT_EQ(parser.error().status, 502);
}

// ---------------------------------------------------------------------------------------------
// The grammar helpers.

TEST(HttpSyntax, tokensAndFieldValues) {
  EXPECT_TRUE(isToken("GET"));
  EXPECT_TRUE(isToken("X-Custom_1.2~"));
  EXPECT_FALSE(isToken(""));
  EXPECT_FALSE(isToken("a b"));
  EXPECT_FALSE(isToken("a:b"));
  EXPECT_FALSE(isToken("caf\xc3\xa9"));
  EXPECT_TRUE(isFieldValue(""));
  EXPECT_TRUE(isFieldValue("text/html; charset=utf-8"));
  EXPECT_TRUE(isFieldValue("a\tb \xff"));
  EXPECT_FALSE(isFieldValue("a\r\nSet-Cookie: x=y"));
  EXPECT_FALSE(isFieldValue("a\nb"));
  EXPECT_FALSE(isFieldValue(std::string_view("a\0b", 3)));
  EXPECT_FALSE(isFieldValue(" leading"));
  EXPECT_FALSE(isFieldValue("trailing\t"));
  EXPECT_FALSE(isFieldValue("0123456789abcdef\x7f"));
}

TEST(HttpSyntax, listsAndFieldLookup) {
  EXPECT_TRUE(listContains("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(listContains(" ,  close ,", "close"));
  EXPECT_FALSE(listContains("closed", "close"));
  EXPECT_FALSE(listContains("", "close"));
  const HeaderField fields[] = {{"Host", "a"}, {"X-Empty", ""}, {"host", "b"}};
  bool found = false;
  EXPECT_EQ(findField(fields, "HOST"), "a");
  EXPECT_EQ(findField(fields, "x-empty", &found), "");
  EXPECT_TRUE(found);
  EXPECT_EQ(findField(fields, "missing", &found), "");
  EXPECT_FALSE(found);
  EXPECT_TRUE(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(equalsIgnoreCase("a", "ab"));
}

}  // namespace
}  // namespace torsion::web
