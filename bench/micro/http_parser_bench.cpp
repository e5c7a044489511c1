// The HTTP/1.1 parsers of torsion/web on what a server reads most: a typical browser GET of
// about 300 bytes with 8 header fields, one request per read (the in-place path), 16 pipelined
// requests per read (that GET, and the tiny one wrk sends), and the GET cut in two reads (the
// buffered path); and the client's side, a small response with a Content-Length body. Items are
// messages.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "torsion/web/http_parser.hpp"

namespace {

namespace web = torsion::web;

const std::string kGet =
    "GET /articles/2024/index.html?page=2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0\r\n"
    "Accept: text/html,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f2a9c1e7b\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

// What wrk and h2load send: the smallest request a benchmark pipelines.
const std::string kTinyGet = "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: torsion\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";

class CountingRequests : public web::RequestParser::Handler {
 public:
  void onRequestHead(const web::RequestHead& head) override { fields += head.fields.size(); }
  void onBody(std::string_view data) override { bytes += data.size(); }
  void onMessageComplete() override { ++messages; }
  std::uint64_t fields = 0;
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
};

class CountingResponses : public web::ResponseParser::Handler {
 public:
  void onResponseHead(const web::ResponseHead& head) override { fields += head.fields.size(); }
  void onBody(std::string_view data) override { bytes += data.size(); }
  void onMessageComplete() override { ++messages; }
  std::uint64_t fields = 0;
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
};

void report(benchmark::State& state, std::size_t messagesPerIteration, std::size_t bytes,
            std::uint64_t messages) {
  if (messages != state.iterations() * messagesPerIteration) state.SkipWithError("lost messages");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(messagesPerIteration));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

// One 300-byte GET per read: the head is parsed in place, views into the read.
void BM_HttpRequestParser_Get(benchmark::State& state) {
  CountingRequests handler;
  web::RequestParser parser(handler);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.feed(kGet));
  }
  benchmark::DoNotOptimize(handler.fields);
  report(state, 1, kGet.size(), handler.messages);
}
BENCHMARK(BM_HttpRequestParser_Get);

// 16 pipelined requests in one read: the 300-byte GET (arg 0) or wrk's tiny one (arg 1).
void BM_HttpRequestParser_Pipelined16(benchmark::State& state) {
  std::string reads;
  for (int i = 0; i < 16; ++i) reads += state.range(0) == 0 ? kGet : kTinyGet;
  CountingRequests handler;
  web::RequestParser parser(handler);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.feed(reads));
  }
  benchmark::DoNotOptimize(handler.fields);
  report(state, 16, reads.size(), handler.messages);
}
BENCHMARK(BM_HttpRequestParser_Pipelined16)->Arg(0)->Arg(1);

// The same GET cut in the middle of a header line: the first part is copied and the head is
// parsed from the parser's buffer.
void BM_HttpRequestParser_GetSplit(benchmark::State& state) {
  CountingRequests handler;
  web::RequestParser parser(handler);
  const std::string_view get = kGet;
  const std::size_t cut = get.size() / 2;
  for (auto _ : state) {
    parser.feed(get.substr(0, cut));
    benchmark::DoNotOptimize(parser.feed(get.substr(cut)));
  }
  benchmark::DoNotOptimize(handler.fields);
  report(state, 1, kGet.size(), handler.messages);
}
BENCHMARK(BM_HttpRequestParser_GetSplit);

// A "hello" response with its 13-byte body, one per read.
void BM_HttpResponseParser_Hello(benchmark::State& state) {
  CountingResponses handler;
  web::ResponseParser parser(handler);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.feed(kResponse));
  }
  benchmark::DoNotOptimize(handler.bytes);
  report(state, 1, kResponse.size(), handler.messages);
}
BENCHMARK(BM_HttpResponseParser_Hello);

}  // namespace
