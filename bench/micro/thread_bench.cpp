// Threads: deferToThread round trips on a running Reactor (reactor thread -> pool thread ->
// callFromThread -> the Deferred fires on the reactor thread).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <functional>

#include "torsion/core/reactor.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/core/threads.hpp"

namespace {

using torsion::Reactor;
using torsion::Seconds;

constexpr int kCallsPerRun = 2'000;

// kCallsPerRun round trips per iteration, range(0) of them in flight at a time (1: each
// callback starts the next, so it measures latency; more: the pool's threads work in
// parallel and results come back in batches per loop iteration). The reactor and its pool
// live across iterations: each iteration is one run() ended by crash(), which keeps the pool.
void BM_DeferToThreadRoundTrip(benchmark::State& state) {
  const auto inFlight = static_cast<int>(state.range(0));
  Reactor reactor(Reactor::Options{{}, false});
  reactor.getThreadPool();
  std::int64_t sum = 0;
  int started = 0;
  int finished = 0;
  std::function<void()> launch = [&] {
    const int i = started++;
    torsion::deferToThread(reactor, [i] { return i; }).addCallback([&](int v) {
      sum += v;
      if (++finished == kCallsPerRun) {
        reactor.crash();
      } else if (started < kCallsPerRun) {
        launch();
      }
    });
  };
  for (auto _ : state) {
    started = 0;
    finished = 0;
    reactor.callLater(Seconds(0), [&] {
      for (int k = 0; k < inFlight && started < kCallsPerRun; ++k) launch();
    });
    reactor.run();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * kCallsPerRun);
}
BENCHMARK(BM_DeferToThreadRoundTrip)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

// The pool alone: kCallsPerRun empty work items queued by one producer, then waited for.
void BM_ThreadPoolCallInThread(benchmark::State& state) {
  torsion::ThreadPool pool(0, static_cast<std::size_t>(state.range(0)));
  pool.start();
  std::atomic<std::int64_t> done{0};
  std::int64_t target = 0;
  for (auto _ : state) {
    target += kCallsPerRun;
    for (int i = 0; i < kCallsPerRun; ++i) {
      pool.callInThread([&done, target] {
        if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == target) done.notify_one();
      });
    }
    for (std::int64_t seen = done.load(); seen < target; seen = done.load()) done.wait(seen);
  }
  pool.stop();
  state.SetItemsProcessed(state.iterations() * kCallsPerRun);
}
BENCHMARK(BM_ThreadPoolCallInThread)->Arg(1)->Arg(4)->UseRealTime();

}  // namespace
