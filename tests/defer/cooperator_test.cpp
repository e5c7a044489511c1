// Cooperator, CooperativeTask, cooperate and coiterate (Twisted's task.Cooperator), driven by
// a testing::Clock and step-counting termination predicates: no wall-clock time involved.
#include "torsion/defer/cooperator.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/defer/task.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/log_capture.hpp"

using namespace torsion;  // NOLINT: test brevity
using std::chrono::hours;
using std::chrono::seconds;
using torsion::testing::Clock;
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;
using torsion::test::Outcome;
using torsion::test::track;

namespace {

// A tick ends after `steps` steps.
Cooperator::TerminationPredicateFactory stepsPerTick(int steps) {
  return [steps]() -> Cooperator::TerminationPredicate {
    return [steps, done = 0]() mutable { return ++done >= steps; };
  };
}

// A tick runs until no task is left.
Cooperator::TerminationPredicateFactory unlimited() {
  return []() -> Cooperator::TerminationPredicate { return [] { return false; }; };
}

// A task of `steps` steps that logs "<name><i>" for each.
std::function<bool()> counted(std::vector<std::string>& log, std::string name, int steps) {
  return [&log, name, steps, i = 0]() mutable {
    log.push_back(name + std::to_string(++i));
    return i < steps;
  };
}

// Runs the i-th tick a manual scheduler collected (moved out first: running it may schedule
// the next one, which grows the vector).
void runTick(std::vector<UniqueFunction<void()>>& ticks, std::size_t i) {
  UniqueFunction<void()> tick = std::move(ticks.at(i));
  tick();
}

TEST(Cooperator, roundRobinsTasks) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  std::vector<std::string> log;
  coop.cooperate(counted(log, "a", 3));
  coop.cooperate(counted(log, "b", 1));
  coop.cooperate(counted(log, "c", 2));
  EXPECT_TRUE(log.empty());  // nothing runs inside cooperate()
  clock.advance(seconds(0));
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "c1", "a2", "c2", "a3"}));
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(Cooperator, roundContinuesWhereThePreviousTickStopped) {
  // With a manual scheduler, one tick at a time.
  std::vector<UniqueFunction<void()>> ticks;
  Cooperator coop(stepsPerTick(2), [&](UniqueFunction<void()> tick) {
    ticks.push_back(std::move(tick));
    return DelayedCall();
  });
  std::vector<std::string> log;
  coop.cooperate(counted(log, "a", 3));
  coop.cooperate(counted(log, "b", 3));
  coop.cooperate(counted(log, "c", 3));
  ASSERT_EQ(ticks.size(), 1u);
  for (std::size_t i = 0; i < ticks.size() && i < 10; ++i) runTick(ticks, i);
  EXPECT_EQ(ticks.size(), 5u);  // 9 steps, 2 per tick
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"}));
}

TEST(Cooperator, timeSliceYieldsToTheClock) {
  Clock clock;
  Cooperator coop(clock, stepsPerTick(2));
  std::vector<std::string> log;
  coop.cooperate(counted(log, "s", 6));
  // Another user of the clock, asking for the next opportunity each time it runs.
  int marks = 0;
  std::function<void()> mark = [&] {
    log.push_back("M");
    if (++marks < 3) clock.callLater(seconds(0), mark);
  };
  clock.callLater(seconds(0), mark);
  clock.advance(seconds(0));
  EXPECT_EQ(log, (std::vector<std::string>{"s1", "s2", "M", "s3", "s4", "M", "s5", "s6", "M"}));
}

TEST(Cooperator, timeSlicePredicateMeasuresWallClockTime) {
  Cooperator::TerminationPredicateFactory none = Cooperator::timeSlice(seconds(0));
  EXPECT_TRUE(none()());
  Cooperator::TerminationPredicateFactory long_ = Cooperator::timeSlice(hours(1));
  EXPECT_FALSE(long_()());
  EXPECT_EQ(Cooperator::kDefaultTimeSlice, std::chrono::milliseconds(10));
}

TEST(Cooperator, pauseResumeStop) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  int steps = 0;
  CooperativeTask task = coop.cooperate([&] {
    ++steps;
    return true;  // endless
  });
  Outcome o;
  track(task.whenDone(), o);

  task.pause();
  task.pause();
  EXPECT_TRUE(task.paused());
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 0);
  EXPECT_TRUE(clock.getDelayedCalls().empty());  // nothing to do, nothing scheduled
  task.resume();
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 0);  // paused twice, resumed once
  task.resume();
  EXPECT_FALSE(task.paused());
  EXPECT_THROW(task.resume(), NotPaused);

  // Let it run two ticks (one step each), then stop it.
  std::vector<UniqueFunction<void()>> ticks;
  Cooperator manual(stepsPerTick(1), [&](UniqueFunction<void()> tick) {
    ticks.push_back(std::move(tick));
    return DelayedCall();
  });
  int manualSteps = 0;
  CooperativeTask other = manual.cooperate([&] {
    ++manualSteps;
    return true;
  });
  runTick(ticks, 0);
  runTick(ticks, 1);
  EXPECT_EQ(manualSteps, 2);
  Outcome stopped;
  track(other.whenDone(), stopped);
  other.stop();
  ASSERT_TRUE(stopped.failure);
  EXPECT_TRUE(stopped.failure->check<TaskStopped>());
  EXPECT_TRUE(other.finished());
  runTick(ticks, 2);  // a tick scheduled before stop() finds nothing to do
  EXPECT_EQ(manualSteps, 2);
  EXPECT_THROW(other.stop(), TaskStopped);
  EXPECT_THROW(other.pause(), TaskStopped);

  task.stop();
  ASSERT_TRUE(o.failure);
  EXPECT_TRUE(o.failure->check<TaskStopped>());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(Cooperator, stepMayStopOrPauseItsOwnTask) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  int steps = 0;
  std::optional<CooperativeTask> task;
  task = coop.cooperate([&] {
    if (++steps == 2) task->pause();
    if (steps == 4) task->stop();
    return true;
  });
  Outcome o;
  track(task->whenDone(), o);
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 2);
  task->resume();
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 4);
  ASSERT_TRUE(o.failure);
  EXPECT_TRUE(o.failure->check<TaskStopped>());
}

TEST(Cooperator, deferredStepPausesTask) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  std::vector<std::string> log;
  std::vector<Deferred<bool>> waits;
  CooperativeTask waiter = coop.cooperate([&] {
    log.push_back("w");
    waits.emplace_back();
    return waits.back();
  });
  coop.cooperate(counted(log, "o", 3));
  clock.advance(seconds(0));
  // The waiting task is out of the round; the other one runs on.
  EXPECT_EQ(log, (std::vector<std::string>{"w", "o1", "o2", "o3"}));
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  EXPECT_THROW(waiter.resume(), NotPaused);  // waiting is not a pause

  Outcome o;
  track(waiter.whenDone(), o);
  waits.at(0).callback(true);  // more work: back in the round at the next tick
  EXPECT_EQ(log.size(), 4u);
  clock.advance(seconds(0));
  EXPECT_EQ(log.size(), 5u);
  waits.at(1).callback(false);  // done
  EXPECT_TRUE(o.fired);
  EXPECT_FALSE(o.failure);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(Cooperator, pausedWhileWaitingStaysPausedAfterTheDeferredFires) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  int steps = 0;
  Deferred<bool> wait;
  CooperativeTask task = coop.cooperate([&]() -> Deferred<bool> {
    if (++steps == 1) return wait;
    return succeed(steps < 3);  // already fired: no waiting
  });
  clock.advance(seconds(0));
  task.pause();
  wait.callback(true);
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 1);
  task.resume();
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 3);
  EXPECT_TRUE(task.finished());
}

TEST(Cooperator, coroutineStep) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  int steps = 0;
  Outcome o;
  track(coop.coiterate([&]() -> Deferred<bool> {
    co_await deferLater(clock, seconds(1));
    co_return ++steps < 3;
  }),
        o);
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 0);
  clock.pump({seconds(1), seconds(1), seconds(1)});
  EXPECT_EQ(steps, 3);
  EXPECT_TRUE(o.fired);
  EXPECT_FALSE(o.failure);
}

TEST(Cooperator, whenDoneFiresWhenTheTaskCompletes) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  std::vector<std::string> log;
  CooperativeTask task = coop.cooperate(counted(log, "t", 2));
  Outcome first, second;
  track(task.whenDone(), first);
  track(task.whenDone(), second);
  clock.advance(seconds(0));
  EXPECT_TRUE(first.fired && second.fired);
  EXPECT_FALSE(first.failure || second.failure);
  // After the fact, at once.
  Outcome late;
  track(task.whenDone(), late);
  EXPECT_TRUE(late.fired);
  EXPECT_FALSE(late.failure);
  EXPECT_THROW(task.pause(), TaskDone);
  EXPECT_THROW(task.stop(), TaskDone);
}

TEST(Cooperator, whenDoneErrbacksWithTheStepsFailure) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  CooperativeTask thrower = coop.cooperate([]() -> bool { throw Boom(); });
  Deferred<bool> wait;
  CooperativeTask failer = coop.cooperate([&] { return wait; });
  Outcome a, b;
  track(thrower.whenDone(), a);
  track(failer.whenDone(), b);
  clock.advance(seconds(0));
  ASSERT_TRUE(a.failure);
  EXPECT_TRUE(a.failure->check<Boom>());
  EXPECT_FALSE(b.fired);
  wait.errback(Boom());
  ASSERT_TRUE(b.failure);
  EXPECT_TRUE(b.failure->check<Boom>());
  EXPECT_THROW(thrower.pause(), TaskFailed);
  EXPECT_THROW(failer.stop(), TaskFailed);
}

TEST(Cooperator, whenDoneCancelAffectsOnlyThatDeferred) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  std::vector<std::string> log;
  CooperativeTask task = coop.cooperate(counted(log, "t", 2));
  Deferred<void> d = task.whenDone();
  d.cancel();
  d.addErrback([](Failure f) { f.trap<CancelledError>(); });
  clock.advance(seconds(0));
  EXPECT_EQ(log.size(), 2u);
  EXPECT_TRUE(task.finished());
}

TEST(Cooperator, failedTaskNobodyAskedAboutLogsItsFailure) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  coop.cooperate([]() -> bool { throw Boom(); });
  clock.advance(seconds(0));
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(Cooperator, coiterateFiresWhenDoneAndCancelStopsTheTask) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  std::vector<std::string> log;
  Outcome done;
  track(coiterate(coop, counted(log, "x", 2)), done);
  clock.advance(seconds(0));
  EXPECT_TRUE(done.fired);
  EXPECT_FALSE(done.failure);

  int steps = 0;
  Deferred<void> d = coiterate(coop, [&] {
    ++steps;
    return true;
  });
  Outcome cancelled;
  track(d, cancelled);
  d.cancel();
  ASSERT_TRUE(cancelled.failure);
  EXPECT_TRUE(cancelled.failure->check<CancelledError>());
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 0);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(Cooperator, stopFinishesTasksWithSchedulerStopped) {
  Clock clock;
  Cooperator coop(clock, unlimited());
  auto endless = [] { return true; };
  CooperativeTask a = coop.cooperate(endless);
  CooperativeTask b = coop.cooperate(endless);
  CooperativeTask c = coop.cooperate(endless);
  c.pause();
  Outcome oa, ob, oc;
  track(a.whenDone(), oa);
  track(b.whenDone(), ob);
  track(c.whenDone(), oc);
  coop.stop();
  EXPECT_FALSE(coop.running());
  ASSERT_TRUE(oa.failure && ob.failure);
  EXPECT_TRUE(oa.failure->check<SchedulerStopped>());
  EXPECT_TRUE(ob.failure->check<SchedulerStopped>());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  EXPECT_THROW(a.pause(), SchedulerStopped);
  // The paused one finds out when it comes back; so does a newcomer.
  EXPECT_FALSE(oc.fired);
  c.resume();
  ASSERT_TRUE(oc.failure);
  EXPECT_TRUE(oc.failure->check<SchedulerStopped>());
  Outcome late;
  track(coop.coiterate(endless), late);
  ASSERT_TRUE(late.failure);
  EXPECT_TRUE(late.failure->check<SchedulerStopped>());
  // start() again: new tasks run.
  coop.start();
  std::vector<std::string> log;
  coop.cooperate(counted(log, "n", 1));
  clock.advance(seconds(0));
  EXPECT_EQ(log.size(), 1u);
}

TEST(Cooperator, notStartedSchedulesNothingUntilStart) {
  Clock clock;
  Cooperator coop(clock, unlimited(), nullptr, false);
  EXPECT_FALSE(coop.running());
  std::vector<std::string> log;
  coop.cooperate(counted(log, "t", 2));
  clock.advance(seconds(0));
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  coop.start();
  EXPECT_TRUE(coop.running());
  clock.advance(seconds(0));
  EXPECT_EQ(log.size(), 2u);
}

TEST(Cooperator, destroyingRunsNothing) {
  Clock clock;
  std::vector<std::string> log;
  Outcome o;
  std::optional<CooperativeTask> kept;
  {
    Cooperator coop(clock, unlimited());
    kept = coop.cooperate(counted(log, "k", 5));
    track(kept->whenDone(), o);
    coop.cooperate(counted(log, "dropped", 5));
  }
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(0));
  EXPECT_TRUE(log.empty());
  EXPECT_FALSE(o.fired);
  // A kept task finds its Cooperator gone when it comes back.
  kept->pause();
  kept->resume();
  ASSERT_TRUE(o.failure);
  EXPECT_TRUE(o.failure->check<SchedulerStopped>());

  // Destroyed by one of its own steps.
  std::optional<Cooperator> self;
  self.emplace(clock, unlimited());
  int steps = 0;
  self->cooperate([&] {
    ++steps;
    self.reset();
    return true;
  });
  self->cooperate([&] {
    ++steps;
    return true;
  });
  clock.advance(seconds(0));
  EXPECT_EQ(steps, 1);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

}  // namespace
