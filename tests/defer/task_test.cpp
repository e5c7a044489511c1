// LoopingCall and deferLater (Twisted's twisted.internet.task), on a testing::Clock.
#include "torsion/defer/task.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/log_capture.hpp"

using namespace torsion;  // NOLINT: test brevity
using std::chrono::milliseconds;
using std::chrono::seconds;
using torsion::testing::Clock;
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;
using torsion::test::Outcome;
using torsion::test::track;

namespace {

TEST(LoopingCall, callsAtEachInterval) {
  Clock clock;
  std::vector<double> times;
  LoopingCall lc(clock, [&] { times.push_back(clock.seconds()); });
  Outcome o;
  track(lc.start(seconds(1)), o);
  EXPECT_TRUE(lc.running());
  EXPECT_EQ(lc.interval(), seconds(1));
  EXPECT_EQ(times, (std::vector<double>{0.0}));  // now = true: called inside start()
  clock.advance(milliseconds(500));
  EXPECT_EQ(times.size(), 1u);
  clock.advance(milliseconds(500));
  clock.advance(seconds(1));
  clock.advance(seconds(1));
  EXPECT_EQ(times, (std::vector<double>{0.0, 1.0, 2.0, 3.0}));
  EXPECT_FALSE(o.fired);
  EXPECT_EQ(clock.getDelayedCalls().size(), 1u);
}

TEST(LoopingCall, startNowFalseWaitsOneInterval) {
  Clock clock;
  std::vector<double> times;
  LoopingCall lc(clock, [&] { times.push_back(clock.seconds()); });
  lc.start(seconds(2), false);
  EXPECT_TRUE(times.empty());
  clock.advance(milliseconds(1999));
  EXPECT_TRUE(times.empty());
  clock.advance(milliseconds(1));
  clock.advance(seconds(2));
  EXPECT_EQ(times, (std::vector<double>{2.0, 4.0}));
}

TEST(LoopingCall, skipsMissedIntervalsAndWithCountReportsThem) {
  Clock clock;
  std::vector<std::pair<double, std::int64_t>> calls;
  LoopingCall lc = LoopingCall::withCount(
      clock, [&](std::int64_t count) { calls.emplace_back(clock.seconds(), count); });
  lc.start(seconds(1));
  // The clock jumps 3.5 intervals: one late call, not three back to back, told it covers 3.
  clock.advance(milliseconds(3500));
  // Back on the grid: the next call is at 4, one interval after the last one due (3).
  clock.advance(milliseconds(500));
  clock.advance(seconds(1));
  const std::vector<std::pair<double, std::int64_t>> expected{
      {0.0, 1}, {3.5, 3}, {4.0, 1}, {5.0, 1}};
  EXPECT_EQ(calls, expected);
}

TEST(LoopingCall, withCountCountsFromStartWhenNotCalledNow) {
  Clock clock;
  std::vector<std::int64_t> counts;
  LoopingCall lc =
      LoopingCall::withCount(clock, [&](std::int64_t count) { counts.push_back(count); });
  lc.start(seconds(1), false);
  clock.advance(seconds(1));
  clock.advance(milliseconds(2500));
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 2}));
}

TEST(LoopingCall, waitsForReturnedDeferred) {
  Clock clock;
  std::vector<double> times;
  std::vector<Deferred<void>> pending;
  LoopingCall lc(clock, [&]() -> Deferred<void> {
    times.push_back(clock.seconds());
    pending.emplace_back();
    return pending.back();
  });
  lc.start(seconds(1));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(clock.getDelayedCalls().empty());  // nothing scheduled while the call runs
  clock.advance(milliseconds(2500));
  EXPECT_EQ(times.size(), 1u);
  pending[0].callback();  // at 2.5: the next call goes to the next multiple, 3
  clock.advance(milliseconds(400));
  EXPECT_EQ(times.size(), 1u);
  clock.advance(milliseconds(100));
  EXPECT_EQ(times, (std::vector<double>{0.0, 3.0}));
}

TEST(LoopingCall, deferredValueIsIgnoredAndCoroutinesWork) {
  Clock clock;
  int calls = 0;
  LoopingCall lc(clock, [&]() -> Deferred<void> {
    ++calls;
    co_await deferLater(clock, milliseconds(100));
    co_return;
  });
  lc.start(seconds(1));
  clock.advance(milliseconds(100));  // the first call's coroutine finishes
  EXPECT_EQ(calls, 1);
  clock.advance(milliseconds(900));
  EXPECT_EQ(calls, 2);

  int values = 0;
  LoopingCall typed(clock, [&] { return succeed(++values); });  // Deferred<int>: value ignored
  typed.start(seconds(1));
  clock.advance(seconds(1));
  EXPECT_EQ(values, 2);
}

TEST(LoopingCall, exceptionStopsLoopAndErrbacksStart) {
  Clock clock;
  int calls = 0;
  LoopingCall lc(clock, [&] {
    if (++calls == 3) throw Boom();
  });
  Outcome o;
  track(lc.start(seconds(1)), o);
  clock.advance(seconds(1));
  EXPECT_FALSE(o.fired);
  clock.advance(seconds(1));
  ASSERT_TRUE(o.fired);
  ASSERT_TRUE(o.failure);
  EXPECT_TRUE(o.failure->check<Boom>());
  EXPECT_FALSE(lc.running());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(5));
  EXPECT_EQ(calls, 3);
}

TEST(LoopingCall, failedDeferredStopsLoopAndErrbacksStart) {
  Clock clock;
  Deferred<void> inner;
  LoopingCall lc(clock, [&] { return inner; });
  Outcome o;
  track(lc.start(seconds(1)), o);
  inner.errback(Boom());
  ASSERT_TRUE(o.failure);
  EXPECT_TRUE(o.failure->check<Boom>());
  EXPECT_FALSE(lc.running());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(LoopingCall, failureWhenStartedNowReturnsFailedDeferred) {
  Clock clock;
  LoopingCall lc(clock, []() -> void { throw Boom(); });
  Deferred<void> d = lc.start(seconds(1));
  EXPECT_TRUE(d.failed());
  EXPECT_FALSE(lc.running());
  d.addErrback([](Failure f) { f.trap<Boom>(); });
}

TEST(LoopingCall, stopFiresStartDeferred) {
  Clock clock;
  int calls = 0;
  LoopingCall lc(clock, [&] { ++calls; });
  Outcome o;
  track(lc.start(seconds(1)), o);
  clock.advance(seconds(1));
  lc.stop();
  EXPECT_TRUE(o.fired);
  EXPECT_FALSE(o.failure);
  EXPECT_FALSE(lc.running());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(10));
  EXPECT_EQ(calls, 2);
  // Twisted asserts; torsion throws.
  EXPECT_THROW(lc.stop(), std::logic_error);
  // And it can be started again, with a new Deferred.
  Outcome again;
  track(lc.start(seconds(1), false), again);
  clock.advance(seconds(1));
  EXPECT_EQ(calls, 3);
  lc.stop();
  EXPECT_TRUE(again.fired);
}

TEST(LoopingCall, stopFromInsideTheCall) {
  Clock clock;
  int calls = 0;
  Outcome o;
  bool firedInside = false;
  std::optional<LoopingCall> lc;
  lc.emplace(clock, [&] {
    if (++calls == 3) {
      lc->stop();
      firedInside = o.fired;
    }
  });
  track(lc->start(seconds(1)), o);
  clock.advance(seconds(1));
  clock.advance(seconds(1));
  EXPECT_FALSE(firedInside);  // the Deferred fires once the call returned
  EXPECT_TRUE(o.fired);
  EXPECT_FALSE(o.failure);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(5));
  EXPECT_EQ(calls, 3);
}

TEST(LoopingCall, stopWhileDeferredPendingFiresStartWhenItFires) {
  Clock clock;
  Deferred<void> inner;
  LoopingCall lc(clock, [&] { return inner; });
  Outcome o;
  track(lc.start(seconds(1)), o);
  lc.stop();
  EXPECT_FALSE(lc.running());
  EXPECT_FALSE(o.fired);
  inner.callback();
  EXPECT_TRUE(o.fired);
  EXPECT_FALSE(o.failure);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(LoopingCall, cancellingStartDeferredStopsLoopAndCancelsCallInProgress) {
  Clock clock;
  int calls = 0;
  LoopingCall lc(clock, [&] { ++calls; });
  Deferred<void> d = lc.start(seconds(1));
  d.cancel();
  EXPECT_FALSE(lc.running());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  EXPECT_TRUE(d.failed());
  d.addErrback([](Failure f) { f.trap<CancelledError>(); });
  clock.advance(seconds(3));
  EXPECT_EQ(calls, 1);

  bool innerCancelled = false;
  LoopingCall waiting(
      clock, [&] { return Deferred<void>([&](Deferred<void>&) { innerCancelled = true; }); });
  Outcome o;
  Deferred<void> w = waiting.start(seconds(1));
  track(w, o);
  w.cancel();
  EXPECT_TRUE(innerCancelled);
  ASSERT_TRUE(o.failure);
  EXPECT_TRUE(o.failure->check<CancelledError>());
  EXPECT_FALSE(waiting.running());
}

TEST(LoopingCall, resetRestartsTheIntervalFromNow) {
  Clock clock;
  std::vector<double> times;
  LoopingCall lc(clock, [&] { times.push_back(clock.seconds()); });
  lc.start(seconds(2));
  clock.advance(seconds(1));
  lc.reset();
  clock.advance(seconds(1));  // at 2: skipped
  clock.advance(seconds(1));  // at 3: one interval after the reset
  clock.advance(seconds(2));
  EXPECT_EQ(times, (std::vector<double>{0.0, 3.0, 5.0}));
  lc.stop();
  EXPECT_THROW(lc.reset(), std::logic_error);
}

TEST(LoopingCall, zeroIntervalCallsAgainAtNextOpportunity) {
  Clock clock;
  int calls = 0;
  std::optional<LoopingCall> lc;
  lc.emplace(clock, [&] {
    if (++calls == 5) lc->stop();
  });
  Outcome o;
  track(lc->start(seconds(0)), o);
  EXPECT_EQ(calls, 1);  // the next calls are callLater(0): not inside start()
  clock.advance(seconds(0));
  EXPECT_EQ(calls, 5);
  EXPECT_TRUE(o.fired);
}

TEST(LoopingCall, rejectsNegativeIntervalAndDoubleStart) {
  Clock clock;
  LoopingCall lc(clock, [] {});
  EXPECT_THROW(lc.start(seconds(-1)), std::invalid_argument);
  EXPECT_FALSE(lc.running());
  lc.start(seconds(1));
  EXPECT_THROW(lc.start(seconds(1)), std::logic_error);
  lc.stop();
}

TEST(LoopingCall, destroyingEndsTheLoopSilently) {
  Clock clock;
  int calls = 0;
  Outcome o;
  {
    LoopingCall lc(clock, [&] { ++calls; });
    track(lc.start(seconds(1)), o);
  }
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(5));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(o.fired);

  // From inside its own function, and while a call's Deferred is pending.
  Deferred<void> inner;
  std::optional<LoopingCall> self;
  self.emplace(clock, [&] {
    self.reset();
    return inner;
  });
  Outcome s;
  track(self->start(seconds(1)), s);
  inner.callback();
  EXPECT_FALSE(s.fired);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(LoopingCall, movedLoopKeepsRunning) {
  Clock clock;
  int calls = 0;
  LoopingCall a(clock, [&] { ++calls; });
  a.start(seconds(1));
  LoopingCall b(std::move(a));
  EXPECT_TRUE(b.running());
  EXPECT_FALSE(a.running());  // NOLINT(bugprone-use-after-move): defined as not running
  EXPECT_THROW(a.stop(), std::logic_error);
  clock.advance(seconds(1));
  EXPECT_EQ(calls, 2);
  b.stop();
}

TEST(DeferLater, firesWithResultAfterDelay) {
  Clock clock;
  std::optional<int> got;
  deferLater(clock, seconds(2), [] { return 42; }).addCallback([&](int v) { got = v; });
  clock.advance(milliseconds(1999));
  EXPECT_FALSE(got);
  clock.advance(milliseconds(1));
  EXPECT_EQ(got, 42);

  bool fired = false;
  deferLater(clock, seconds(1)).addCallback([&] { fired = true; });
  clock.advance(seconds(1));
  EXPECT_TRUE(fired);
}

TEST(DeferLater, callableMayReturnDeferredOrThrow) {
  Clock clock;
  Deferred<std::string> inner;
  std::optional<std::string> got;
  deferLater(clock, seconds(1), [&] { return inner; }).addCallback([&](std::string s) { got = s; });
  clock.advance(seconds(1));
  EXPECT_FALSE(got);
  inner.callback("late");
  EXPECT_EQ(got, "late");

  bool trapped = false;
  deferLater(clock, seconds(1), []() -> int { throw Boom(); }).addErrback([&](Failure f) {
    trapped = f.check<Boom>();
    return 0;
  });
  clock.advance(seconds(1));
  EXPECT_TRUE(trapped);
}

TEST(DeferLater, cancelCancelsDelayedCall) {
  Clock clock;
  bool called = false;
  Deferred<int> d = deferLater(clock, seconds(5), [&] {
    called = true;
    return 1;
  });
  ASSERT_EQ(clock.getDelayedCalls().size(), 1u);
  DelayedCall call = clock.getDelayedCalls()[0];
  d.cancel();
  EXPECT_TRUE(call.cancelled());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  bool cancelled = false;
  d.addErrback([&](Failure f) {
    cancelled = f.check<CancelledError>();
    return 0;
  });
  EXPECT_TRUE(cancelled);
  clock.advance(seconds(10));
  EXPECT_FALSE(called);
}

TEST(DeferLater, cancelAfterDelayCancelsTheCallablesDeferred) {
  Clock clock;
  bool innerCancelled = false;
  Deferred<void> inner([&](Deferred<void>&) { innerCancelled = true; });  // its producer's
  Deferred<void> d = deferLater(clock, seconds(1), [&] { return inner; });
  clock.advance(seconds(1));
  d.cancel();
  EXPECT_TRUE(innerCancelled);
  EXPECT_TRUE(d.failed());
  d.addErrback([](Failure f) { f.trap<CancelledError>(); });
}

}  // namespace
