// The framings of torsion/protocols parsing what a reactor would hand them: 64-byte lines
// (62 characters and CRLF) and 60-byte length-prefixed strings, read in 64 KiB chunks (every
// frame inside a chunk: the no-copy path) and in 1000-byte chunks (a frame split at most
// chunk ends: the copying path). Items are frames.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "torsion/protocols/basic.hpp"

namespace {

class CountingLines : public torsion::protocols::LineReceiver {
 public:
  void lineReceived(std::string_view line) override { bytes += line.size(); }
  std::uint64_t bytes = 0;
};

class CountingStrings : public torsion::protocols::Int32StringReceiver {
 public:
  void stringReceived(std::string_view data) override { bytes += data.size(); }
  std::uint64_t bytes = 0;
};

class CountingNetstrings : public torsion::protocols::NetstringReceiver {
 public:
  void stringReceived(std::string_view data) override { bytes += data.size(); }
  std::uint64_t bytes = 0;
};

constexpr std::size_t kStream = 64 * 1024;

std::string lines() {
  std::string out;
  while (out.size() < kStream) out += std::string(62, 'x') + "\r\n";
  return out;
}

std::string int32Strings() {
  std::string out;
  while (out.size() < kStream) out += std::string("\0\0\0\x38", 4) + std::string(56, 'x');
  return out;
}

std::string netstrings() {
  std::string out;
  while (out.size() < kStream) out += "56:" + std::string(56, 'x') + ",";
  return out;
}

template <class Receiver>
void run(benchmark::State& state, const std::string& stream, std::size_t frameSize) {
  Receiver receiver;
  const auto chunk = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      receiver.dataReceived(std::string_view(stream).substr(i, chunk));
    }
  }
  benchmark::DoNotOptimize(receiver.bytes);
  state.SetItemsProcessed(state.iterations() *
                          static_cast<std::int64_t>(stream.size() / frameSize));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(stream.size()));
}

void BM_LineReceiver(benchmark::State& state) {
  static const std::string stream = lines();
  run<CountingLines>(state, stream, 64);
}
BENCHMARK(BM_LineReceiver)->Arg(64 * 1024)->Arg(1000);

void BM_Int32StringReceiver(benchmark::State& state) {
  static const std::string stream = int32Strings();
  run<CountingStrings>(state, stream, 60);
}
BENCHMARK(BM_Int32StringReceiver)->Arg(64 * 1024)->Arg(1000);

void BM_NetstringReceiver(benchmark::State& state) {
  static const std::string stream = netstrings();
  run<CountingNetstrings>(state, stream, 60);
}
BENCHMARK(BM_NetstringReceiver)->Arg(64 * 1024)->Arg(1000);

}  // namespace
