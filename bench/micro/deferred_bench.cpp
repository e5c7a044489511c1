// Micro benchmarks of torsion::defer, on the workloads ../shared/bench/twisted/micro.py
// measures for Twisted (items_per_second = callbacks or awaits per second).
#include <benchmark/benchmark.h>

#include <vector>

#include "torsion/defer/deferred.hpp"

using torsion::Deferred;

namespace {

// Create a Deferred, add 10 callbacks, fire it: Twisted's "Deferred callbacks (10 per
// Deferred)". Items are callbacks run.
void BM_DeferredCallbackChain(benchmark::State& state) {
  long sink = 0;
  for (auto _ : state) {
    Deferred<int> d;
    Deferred<int> tail = d;
    for (int i = 0; i < 10; ++i) tail = tail.addCallback([](int x) { return x + 1; });
    d.callback(1);
    tail.addCallback([&](int v) { sink += v; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_DeferredCallbackChain);

// The same chain written the way Twisted code is (the handle reassigned by chaining calls).
void BM_DeferredCallbackChainFluent(benchmark::State& state) {
  long sink = 0;
  for (auto _ : state) {
    Deferred<int> d;
    d.addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([](int x) { return x + 1; })
        .addCallback([&](int x) { sink += x; });
    d.callback(1);
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_DeferredCallbackChainFluent);

// `co_await succeed(1)` in a loop inside one coroutine: Twisted's "await succeed() in
// coroutine". Items are awaits.
void BM_AwaitFired(benchmark::State& state) {
  const int n = 1000;
  long sink = 0;
  auto co = [](int count) -> Deferred<long> {
    long total = 0;
    for (int i = 0; i < count; ++i) total += co_await torsion::succeed(1L);
    co_return total;
  };
  for (auto _ : state) {
    co(n).addCallback([&](long v) { sink += v; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AwaitFired);

// A coroutine awaits an unfired Deferred, which is then fired from outside; repeated:
// Twisted's "inlineCallbacks yield unfired Deferred". Items are awaits.
void BM_AwaitUnfired(benchmark::State& state) {
  const int n = 1000;
  std::vector<Deferred<int>> pending;
  pending.reserve(1);
  long sink = 0;
  auto co = [&](int count) -> Deferred<long> {
    long total = 0;
    for (int i = 0; i < count; ++i) {
      Deferred<int> d;
      pending.push_back(d);
      total += co_await std::move(d);
    }
    co_return total;
  };
  for (auto _ : state) {
    Deferred<long> done = co(n);
    while (!pending.empty()) {
      Deferred<int> d = std::move(pending.back());
      pending.pop_back();
      d.callback(1);
    }
    done.addCallback([&](long v) { sink += v; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AwaitUnfired);

// A callback returning an unfired Deferred, fired later: the chaining path (item 7).
void BM_ChainedDeferred(benchmark::State& state) {
  long sink = 0;
  for (auto _ : state) {
    Deferred<int> outer;
    Deferred<int> inner;
    outer.addCallback([inner](int) { return inner; }).addCallback([&](int v) { sink += v; });
    outer.callback(0);
    inner.callback(1);
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChainedDeferred);

// Errback path: a callback throws, an errback recovers.
void BM_ErrbackRecovery(benchmark::State& state) {
  long sink = 0;
  for (auto _ : state) {
    Deferred<int> d;
    d.addCallback([](int) -> int { throw std::runtime_error("x"); })
        .addErrback([](torsion::Failure) { return 1; })
        .addCallback([&](int v) { sink += v; });
    d.callback(0);
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ErrbackRecovery);

}  // namespace
