// The parsers allocate nothing per message once warmed up: checked by counting calls of the
// global operator new while requests go through, whole and split across reads.
//
// This file replaces the global operator new and delete for the whole test binary; they only
// count (on the current thread, while counting is on) and otherwise behave as the defaults,
// with malloc and free underneath so that AddressSanitizer sees matching pairs.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

#include "torsion/web/http_parser.hpp"

namespace {

thread_local bool tCounting = false;
thread_local std::size_t tAllocations = 0;

}  // namespace

void* operator new(std::size_t size) {
  if (tCounting) ++tAllocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

// Not inlined: g++ would otherwise see free() meet a pointer from operator new at the call site
// and warn of a mismatch that is not one (this operator new is malloc).
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }

namespace torsion::web {
namespace {

class Counting : public RequestParser::Handler, public ResponseParser::Handler {
 public:
  void onRequestHead(const RequestHead& head) override { fields += head.fields.size(); }
  void onResponseHead(const ResponseHead& head) override { fields += head.fields.size(); }
  void onBody(std::string_view data) override { bodyBytes += data.size(); }
  void onTrailers(std::span<const HeaderField> trailers) override { fields += trailers.size(); }
  void onMessageComplete() override { ++messages; }
  std::size_t fields = 0;
  std::size_t bodyBytes = 0;
  std::size_t messages = 0;
};

// Counts the allocations `f` makes on this thread.
template <class F>
std::size_t allocationsOf(F&& f) {
  tAllocations = 0;
  tCounting = true;
  f();
  tCounting = false;
  return tAllocations;
}

const std::string kGet =
    "GET /index.html?user=42 HTTP/1.1\r\nHost: www.example.com:8080\r\nUser-Agent: "
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\nAccept: "
    "text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: "
    "gzip, deflate\r\nConnection: keep-alive\r\nCookie: session=abcdef0123456789\r\n"
    "Cache-Control: max-age=0\r\n\r\n";
const std::string kChunkedPost =
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    "10;name=value\r\n0123456789abcdef\r\n3\r\nxyz\r\n0\r\nX-Sum: 1\r\n\r\n";

TEST(HttpParserAllocations, nonePerRequestOnceWarm) {
  Counting handler;
  RequestParser parser(handler);
  const std::string both = kGet + kChunkedPost;
  auto round = [&] {
    parser.feed(both);
    // The same requests split in awkward places: the head and the trailers go through the buffer.
    const std::string_view view = both;
    parser.feed(view.substr(0, 100));
    parser.feed(view.substr(100, kGet.size() - 100 + 20));
    parser.feed(view.substr(kGet.size() + 20, both.size() - kGet.size() - 22));
    parser.feed(view.substr(both.size() - 2));
  };
  round();
  const std::size_t allocations = allocationsOf([&] {
    for (int i = 0; i < 1000; ++i) round();
  });
  EXPECT_EQ(allocations, 0U);
  EXPECT_FALSE(parser.failed());
  EXPECT_EQ(handler.messages, 1001U * 4U);
}

TEST(HttpParserAllocations, noneForPipelinedResponsesOnceWarm) {
  Counting handler;
  ResponseParser parser(handler);
  const std::string responses =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n0\r\n\r\n";
  auto round = [&] {
    parser.feed(std::string_view(responses).substr(0, 30));
    parser.feed(std::string_view(responses).substr(30));
  };
  round();  // the buffer for split heads grows to its size once
  const std::size_t allocations = allocationsOf([&] {
    for (int i = 0; i < 1000; ++i) round();
  });
  EXPECT_EQ(allocations, 0U);
  EXPECT_EQ(handler.messages, 1001U * 2U);
}

TEST(HttpParserAllocations, theCounterSeesAnAllocation) {
  // Guards the two tests above against a counter that never counts.
  // (A call of ::operator new, unlike a new-expression, may not be optimised away.)
  const std::size_t allocations = allocationsOf([] { ::operator delete(::operator new(100)); });
  EXPECT_GE(allocations, 1U);
}

}  // namespace
}  // namespace torsion::web
