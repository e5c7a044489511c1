// Reactor micro benchmarks: timers at scale (libuv's million-timers workload), callFromThread
// throughput, and the cost of an idle loop iteration.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "torsion/core/reactor.hpp"

using namespace std::chrono_literals;
using torsion::Reactor;

namespace {

Reactor::Options quiet() {
  Reactor::Options o;
  o.installSignalHandlers = false;
  return o;
}

// libuv's classic workload: a million timers due over 1..1000 ms, scheduled then run to the
// last one. Items are timers; the rate is per CPU-second (the loop sleeps between due times,
// which costs no CPU), like uv_million_timers.c's figure.
void BM_TimersScheduleFire(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    Reactor reactor(quiet());
    int fired = 0;
    for (int i = 0; i < n; ++i) {
      const auto due = std::chrono::milliseconds(1 + i / (n / 1000));
      reactor.callLater(due, [&] {
        if (++fired == n) reactor.stop();
      });
    }
    reactor.run();
    benchmark::DoNotOptimize(fired);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TimersScheduleFire)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(3);

// Twisted's reactorbench.py "calllater" workload: 200,000 callLater with delays over 0..1 ms,
// run until the last fired. Items are calls; wall-clock rate, as Twisted's figure is.
void BM_CallLaterTwistedWorkload(benchmark::State& state) {
  const int n = 200'000;
  for (auto _ : state) {
    Reactor reactor(quiet());
    int fired = 0;
    for (int i = 0; i < n; ++i) {
      reactor.callLater(torsion::Seconds((i % 1000) / 1e6), [&] {
        if (++fired == n) reactor.crash();
      });
    }
    reactor.run();
    benchmark::DoNotOptimize(fired);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_CallLaterTwistedWorkload)->UseRealTime()->Unit(benchmark::kMillisecond);

// A million timers scheduled, then all cancelled. Items are timers.
void BM_TimersScheduleCancel(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Reactor reactor(quiet());
  std::vector<torsion::DelayedCall> calls;
  calls.reserve(n);
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) {
      calls.push_back(reactor.callLater(std::chrono::milliseconds(5000 + i % 1000), [] {}));
    }
    for (auto& c : calls) c.cancel();
    calls.clear();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TimersScheduleCancel)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->Iterations(5);

// P producer threads each send n/P calls with callFromThread; the reactor runs them all.
// Items are calls; wall-clock rate (the producers and the loop share the two cores).
void BM_CallFromThread(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0));
  const int n = 1'000'000;
  for (auto _ : state) {
    Reactor reactor(quiet());
    int received = 0;
    std::vector<std::thread> threads;
    reactor.callWhenRunning([&] {
      for (int p = 0; p < producers; ++p) {
        threads.emplace_back([&] {
          for (int i = 0; i < n / producers; ++i) {
            reactor.callFromThread([&] {
              if (++received == n) reactor.stop();
            });
          }
        });
      }
    });
    reactor.run();
    for (auto& t : threads) t.join();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_CallFromThread)->Arg(1)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

// One loop iteration with nothing to do: drain check, timers check, a zero-timeout poll.
void BM_ReactorIterationIdle(benchmark::State& state) {
  Reactor reactor(quiet());
  for (auto _ : state) reactor.iterate();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReactorIterationIdle);

}  // namespace
