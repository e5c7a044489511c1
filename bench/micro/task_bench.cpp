// LoopingCall and Cooperator on a testing::Clock: the cost of the task helpers themselves
// (one tick of a loop, one step of a cooperative task), without any I/O.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/cooperator.hpp"
#include "torsion/defer/task.hpp"
#include "torsion/testing/clock.hpp"

namespace {

using torsion::Cooperator;
using torsion::DelayedCall;
using torsion::Seconds;
using torsion::UniqueFunction;

// One call of a LoopingCall whose function returns void: reschedule plus call.
void BM_LoopingCallTick(benchmark::State& state) {
  torsion::testing::Clock clock;
  std::int64_t calls = 0;
  torsion::LoopingCall lc(clock, [&calls] { ++calls; });
  lc.start(Seconds(1));
  for (auto _ : state) clock.advance(Seconds(1));
  lc.stop();
  benchmark::DoNotOptimize(calls);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LoopingCallTick);

// One call of a LoopingCall whose function returns an already-fired Deferred.
void BM_LoopingCallTickDeferred(benchmark::State& state) {
  torsion::testing::Clock clock;
  torsion::LoopingCall lc(clock, [] { return torsion::succeed(); });
  lc.start(Seconds(1));
  for (auto _ : state) clock.advance(Seconds(1));
  lc.stop();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LoopingCallTickDeferred);

// Steps of range(0) endless tasks, round-robin, 1000 steps per tick.
void BM_CooperatorSteps(benchmark::State& state) {
  constexpr int kStepsPerTick = 1000;
  std::vector<UniqueFunction<void()>> ticks;
  Cooperator coop(
      [] {
        return Cooperator::TerminationPredicate([n = 0]() mutable { return ++n >= kStepsPerTick; });
      },
      [&ticks](UniqueFunction<void()> tick) {
        ticks.push_back(std::move(tick));
        return DelayedCall();
      });
  std::int64_t steps = 0;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    coop.cooperate([&steps] {
      ++steps;
      return true;
    });
  }
  for (auto _ : state) {
    UniqueFunction<void()> tick = std::move(ticks.back());
    ticks.pop_back();
    tick();
  }
  coop.stop();
  benchmark::DoNotOptimize(steps);
  state.SetItemsProcessed(state.iterations() * kStepsPerTick);
}
BENCHMARK(BM_CooperatorSteps)->Arg(1)->Arg(100);

}  // namespace
