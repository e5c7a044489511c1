// Timers: testing::Clock and the TimerQueue the Reactor runs on.
//
// Twisted's reference figure for BM_ClockCallLaterAndRun is printed by
// /work/shared/bench/twisted/micro.py ("task.Clock callLater+run", n=5000); libuv's for
// BM_TimerQueueMillion by /work/shared/bench/peers/uv_million_timers.c.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "torsion/core/time.hpp"
#include "torsion/core/timer_queue.hpp"
#include "torsion/testing/clock.hpp"

namespace {

using torsion::DelayedCall;
using torsion::Seconds;
using torsion::detail::TimerQueue;

// micro.py's clock_calllater: n calls at delays i % 100, then one advance runs them all.
void BM_ClockCallLaterAndRun(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  std::int64_t fired = 0;
  for (auto _ : state) {
    torsion::testing::Clock clock;
    for (int i = 0; i < n; ++i) clock.callLater(Seconds(i % 100), [&fired] { ++fired; });
    clock.advance(Seconds(1000));
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ClockCallLaterAndRun)->Arg(5'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

// A timeout armed and disarmed (the common life of a protocol timeout), with range(0) other
// calls pending.
void BM_TimerQueueScheduleCancel(benchmark::State& state) {
  double now = 0;
  TimerQueue queue([&now] { return now; });
  std::vector<DelayedCall> background;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    background.push_back(queue.schedule(static_cast<double>(i % 1000), [] {}));
  }
  double t = 0;
  for (auto _ : state) {
    DelayedCall call = queue.schedule(500.0 + t, [] {});
    call.cancel();
    t = t < 999 ? t + 1 : 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerQueueScheduleCancel)->Arg(0)->Arg(1'000)->Arg(1'000'000);

// libuv's classic workload: a million timers due over 1..1000 ms, scheduled then all run.
void BM_TimerQueueMillion(benchmark::State& state) {
  constexpr int kCount = 1'000'000;
  std::int64_t fired = 0;
  for (auto _ : state) {
    double now = 0;
    TimerQueue queue([&now] { return now; });
    double timeout = 0;
    for (int i = 0; i < kCount; ++i) {
      if (i % 1000 == 0) timeout += 0.001;
      queue.schedule(timeout, [&fired] { ++fired; });
    }
    now = 1.0;
    queue.runDue(now);
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(state.iterations() * kCount);
}
BENCHMARK(BM_TimerQueueMillion)->Unit(benchmark::kMillisecond);

// libuv's cancel workload: a million timers due over 5..6 s scheduled, then all cancelled in
// scheduling order. Items are timers (each scheduled and cancelled once).
void BM_TimerQueueMillionCancel(benchmark::State& state) {
  constexpr int kCount = 1'000'000;
  std::vector<DelayedCall> calls;
  calls.reserve(kCount);
  for (auto _ : state) {
    double now = 0;
    TimerQueue queue([&now] { return now; });
    for (int i = 0; i < kCount; ++i) {
      calls.push_back(queue.schedule(5.0 + (i % 1000) / 1000.0, [] {}));
    }
    for (DelayedCall& call : calls) call.cancel();
    calls.clear();
  }
  state.SetItemsProcessed(state.iterations() * kCount);
}
BENCHMARK(BM_TimerQueueMillionCancel)->Unit(benchmark::kMillisecond);

}  // namespace
