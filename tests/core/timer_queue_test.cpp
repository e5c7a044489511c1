// TimerQueue: ordering, the two ways of running due calls, re-entrancy, errors, lifetime
// and scale.
#include "torsion/core/timer_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/core/time.hpp"

namespace torsion::detail {
namespace {

// A queue on a hand-moved clock, recording what escapes the calls.
struct Fixture {
  double now = 0.0;
  std::vector<std::exception_ptr> errors;
  TimerQueue queue{[this] { return now; },
                   [this](std::exception_ptr e) { errors.push_back(std::move(e)); }};
};

// Counts live copies, to see when a queue destroys a function.
struct Tracked {
  explicit Tracked(int* live) : live(live) { ++*live; }
  Tracked(const Tracked& other) : live(other.live) { ++*live; }
  Tracked& operator=(const Tracked&) = delete;
  ~Tracked() { --*live; }
  int* live;
};

TEST(TimerQueue, runsCallsInTimeOrder) {
  Fixture f;
  std::vector<int> order;
  f.queue.schedule(3, [&] { order.push_back(3); });
  f.queue.schedule(1, [&] { order.push_back(1); });
  f.queue.schedule(2, [&] { order.push_back(2); });
  EXPECT_EQ(f.queue.runDue(10), 3u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(f.queue.empty());
}

TEST(TimerQueue, equalTimesRunInSchedulingOrder) {
  Fixture f;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) f.queue.schedule(5, [&order, i] { order.push_back(i); });
  f.queue.runDue(5);
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
}

TEST(TimerQueue, nextTimeIsTheEarliestPendingCall) {
  Fixture f;
  EXPECT_FALSE(f.queue.nextTime().has_value());
  DelayedCall late = f.queue.schedule(7, [] {});
  DelayedCall early = f.queue.schedule(2, [] {});
  EXPECT_EQ(f.queue.nextTime(), 2.0);
  early.cancel();
  EXPECT_EQ(f.queue.nextTime(), 7.0);
  late.cancel();
  EXPECT_FALSE(f.queue.nextTime().has_value());
}

TEST(TimerQueue, runDueRunsOnlyDueCalls) {
  Fixture f;
  std::vector<int> order;
  f.queue.schedule(1, [&] { order.push_back(1); });
  f.queue.schedule(2, [&] { order.push_back(2); });
  f.queue.schedule(3, [&] { order.push_back(3); });
  EXPECT_EQ(f.queue.runDue(2), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(f.queue.size(), 1u);
  EXPECT_EQ(f.queue.runDue(2.5), 0u);
}

TEST(TimerQueue, runDueSkipsCallsScheduledDuringRun) {
  Fixture f;
  std::vector<std::string> order;
  f.queue.schedule(1, [&] {
    order.push_back("first");
    f.queue.schedule(0, [&] { order.push_back("scheduled during run"); });
  });
  EXPECT_EQ(f.queue.runDue(1), 1u);
  EXPECT_EQ(order, (std::vector<std::string>{"first"}));
  EXPECT_EQ(f.queue.size(), 1u);
  EXPECT_EQ(f.queue.nextTime(), 0.0);
  EXPECT_EQ(f.queue.runDue(1), 1u);  // the next iteration runs it
  EXPECT_EQ(order, (std::vector<std::string>{"first", "scheduled during run"}));
}

TEST(TimerQueue, runDueRunsEarlierCallsEvenWhenANewCallIsEarlierStill) {
  // A call scheduled during the run for a time before an older due call must not hold the
  // older one back.
  Fixture f;
  std::vector<int> order;
  f.queue.schedule(1, [&] {
    order.push_back(1);
    f.queue.schedule(0, [&] { order.push_back(0); });
  });
  f.queue.schedule(5, [&] { order.push_back(5); });
  EXPECT_EQ(f.queue.runDue(10), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 5}));
  f.queue.runDue(10);
  EXPECT_EQ(order, (std::vector<int>{1, 5, 0}));
}

TEST(TimerQueue, runDueIsASelfReschedulingLoopStarvationGuard) {
  // A call that schedules itself again with no delay runs once per runDue, not forever.
  Fixture f;
  int runs = 0;
  struct Again {
    Fixture* f;
    int* runs;
    void operator()() const {
      ++*runs;
      f->queue.schedule(f->now, Again{f, runs});
    }
  };
  f.queue.schedule(0, Again{&f, &runs});
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(f.queue.runDue(0), 1u);
    EXPECT_EQ(runs, i);
  }
}

TEST(TimerQueue, runDueRunsAPendingCallRescheduledDuringTheRunIfStillDue) {
  Fixture f;
  std::vector<int> order;
  DelayedCall later = f.queue.schedule(20, [&] { order.push_back(20); });
  f.queue.schedule(1, [&] {
    order.push_back(1);
    later.reset(Seconds(0));  // now is 0: due at once
  });
  EXPECT_EQ(f.queue.runDue(5), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 20}));
}

TEST(TimerQueue, callsScheduledDuringRunDueCanBeCancelledAndResetBeforeItEnds) {
  Fixture f;
  int ran = 0;
  f.queue.schedule(1, [&] {
    DelayedCall a = f.queue.schedule(1, [&] { ran += 1; });
    DelayedCall b = f.queue.schedule(1, [&] { ran += 10; });
    DelayedCall c = f.queue.schedule(1, [&] { ran += 100; });
    EXPECT_EQ(f.queue.size(), 3u);
    EXPECT_EQ(f.queue.entries().size(), 3u);
    EXPECT_EQ(f.queue.nextTime(), 1.0);
    b.cancel();
    c.reset(Seconds(50));
    EXPECT_EQ(c.getTime(), 50.0);
    EXPECT_TRUE(a.active());
  });
  f.queue.runDue(1);
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(f.queue.size(), 2u);
  f.queue.runDue(1);
  EXPECT_EQ(ran, 1);
  f.queue.runDue(50);
  EXPECT_EQ(ran, 101);
}

TEST(TimerQueue, runDueIsNotReentrant) {
  Fixture f;
  bool threw = false;
  f.queue.schedule(0, [&] {
    try {
      f.queue.runDue(0);
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  f.queue.runDue(0);
  EXPECT_TRUE(threw);
}

TEST(TimerQueue, runUntilEmptyOrLaterRunsCallsScheduledDuringTheRun) {
  Fixture f;
  std::vector<int> order;
  f.queue.schedule(1, [&] {
    order.push_back(1);
    f.queue.schedule(2, [&] { order.push_back(2); });
    f.queue.schedule(9, [&] { order.push_back(9); });
  });
  EXPECT_EQ(f.queue.runUntilEmptyOrLater(5), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(f.queue.nextTime(), 9.0);
}

TEST(TimerQueue, exceptionInCallIsReportedAndOthersRun) {
  Fixture f;
  std::vector<int> order;
  f.queue.schedule(1, [&] { order.push_back(1); });
  f.queue.schedule(2, [] { throw std::runtime_error("boom"); });
  f.queue.schedule(3, [] { throw 42; });  // not a std::exception
  f.queue.schedule(4, [&] { order.push_back(4); });
  EXPECT_EQ(f.queue.runDue(10), 4u);
  EXPECT_EQ(order, (std::vector<int>{1, 4}));
  ASSERT_EQ(f.errors.size(), 2u);
  EXPECT_THROW(std::rethrow_exception(f.errors[0]), std::runtime_error);
  EXPECT_THROW(std::rethrow_exception(f.errors[1]), int);

  f.queue.schedule(11, [] { throw std::runtime_error("again"); });
  f.queue.schedule(12, [&] { order.push_back(12); });
  EXPECT_EQ(f.queue.runUntilEmptyOrLater(20), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 4, 12}));
  EXPECT_EQ(f.errors.size(), 3u);
}

TEST(TimerQueue, withoutHandlerExceptionsGoToStderr) {
  double now = 0;
  TimerQueue queue([&] { return now; });
  bool after = false;
  queue.schedule(0, [] { throw std::runtime_error("unhandled-marker"); });
  queue.schedule(0, [&] { after = true; });
  testing::internal::CaptureStderr();
  queue.runDue(0);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("unhandled-marker"), std::string::npos);
  EXPECT_TRUE(after);
}

TEST(TimerQueue, selfCancelWhileRunningRaisesAlreadyCalled) {
  Fixture f;
  DelayedCall self;
  bool raised = false;
  self = f.queue.schedule(1, [&] {
    EXPECT_TRUE(self.called());
    EXPECT_FALSE(self.active());
    try {
      self.cancel();
    } catch (const AlreadyCalled&) {
      raised = true;
    }
    EXPECT_THROW(self.reset(Seconds(1)), AlreadyCalled);
    EXPECT_THROW(self.delay(Seconds(1)), AlreadyCalled);
  });
  f.queue.runDue(1);
  EXPECT_TRUE(raised);
  EXPECT_TRUE(f.errors.empty());
}

TEST(TimerQueue, aCallCanCancelAndRescheduleOthers) {
  Fixture f;
  std::vector<int> order;
  DelayedCall second = f.queue.schedule(2, [&] { order.push_back(2); });
  DelayedCall third = f.queue.schedule(3, [&] { order.push_back(3); });
  DelayedCall fourth = f.queue.schedule(4, [&] { order.push_back(4); });
  f.queue.schedule(1, [&] {
    order.push_back(1);
    second.cancel();
    fourth.delay(Seconds(-3.5));  // now at 0.5: before third
    third.delay(Seconds(10));     // out of this run
  });
  EXPECT_EQ(f.queue.runUntilEmptyOrLater(5), 2u);
  EXPECT_EQ(order, (std::vector<int>{1, 4}));
  EXPECT_TRUE(second.cancelled());
  EXPECT_TRUE(third.active());
  EXPECT_EQ(third.getTime(), 13.0);
}

TEST(TimerQueue, functionsAreDestroyedWhenRunCancelledOrDropped) {
  int live = 0;
  DelayedCall ran;
  DelayedCall cancelled;
  DelayedCall dropped;
  {
    Fixture f;
    ran = f.queue.schedule(1, [t = Tracked(&live)] {});
    cancelled = f.queue.schedule(1, [t = Tracked(&live)] {});
    dropped = f.queue.schedule(9, [t = Tracked(&live)] {});
    EXPECT_EQ(live, 3);
    cancelled.cancel();
    EXPECT_EQ(live, 2);  // at once, not when the handle goes
    f.queue.runDue(1);
    EXPECT_EQ(live, 1);  // right after running
  }
  EXPECT_EQ(live, 0);  // the queue's destructor
  EXPECT_TRUE(ran.called());
  EXPECT_TRUE(cancelled.cancelled());
  EXPECT_TRUE(dropped.cancelled());
}

TEST(TimerQueue, destructionCancelsPendingCallsAndRunsNone) {
  bool ran = false;
  std::vector<DelayedCall> handles;
  {
    Fixture f;
    for (int i = 0; i < 10; ++i) handles.push_back(f.queue.schedule(i, [&] { ran = true; }));
  }
  EXPECT_FALSE(ran);
  for (DelayedCall& handle : handles) {
    EXPECT_TRUE(handle.cancelled());
    EXPECT_THROW(handle.cancel(), AlreadyCancelled);
    EXPECT_THROW(handle.reset(Seconds(1)), AlreadyCancelled);
  }
}

// A function whose destructor touches another call through a handle.
struct CancelsOnDestruction {
  std::shared_ptr<DelayedCall> other;
  void operator()() const {}
  ~CancelsOnDestruction() {
    if (other && other->active()) other->cancel();
  }
  CancelsOnDestruction(std::shared_ptr<DelayedCall> o) : other(std::move(o)) {}
  CancelsOnDestruction(CancelsOnDestruction&&) = default;
};

TEST(TimerQueue, destructionToleratesFunctionsHoldingHandlesToEachOther) {
  auto a = std::make_shared<DelayedCall>();
  auto b = std::make_shared<DelayedCall>();
  {
    Fixture f;
    *a = f.queue.schedule(1, CancelsOnDestruction(b));
    *b = f.queue.schedule(2, CancelsOnDestruction(a));
    // Each function holds the only other reference to the other's handle.
  }
  EXPECT_TRUE(a->cancelled());
  EXPECT_TRUE(b->cancelled());
}

TEST(TimerQueue, aFunctionHoldingItsOwnHandleDoesNotLeak) {
  // ASan's leak checker is the real assertion here.
  int live = 0;
  {
    Fixture f;
    auto self = std::make_shared<DelayedCall>();
    *self = f.queue.schedule(1, [self, t = Tracked(&live)] {});
    auto other = std::make_shared<DelayedCall>();
    *other = f.queue.schedule(1, [other, t = Tracked(&live)] {});
    auto kept = std::make_shared<DelayedCall>();
    *kept = f.queue.schedule(5, [kept, t = Tracked(&live)] {});
    self->cancel();
    f.queue.runDue(1);
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(live, 0);
}

TEST(TimerQueue, cancellingRunsTheFunctionsDestructorWhichMayUseTheQueue) {
  Fixture f;
  auto victim = std::make_shared<DelayedCall>(f.queue.schedule(3, [] {}));
  DelayedCall first = f.queue.schedule(1, CancelsOnDestruction(victim));
  victim.reset();  // only the function holds it now
  bool scheduledFromDestructor = false;
  struct SchedulesOnDestruction {
    Fixture* f;
    bool* flag;
    bool armed = true;
    void operator()() const {}
    SchedulesOnDestruction(Fixture* f, bool* flag) : f(f), flag(flag) {}
    SchedulesOnDestruction(SchedulesOnDestruction&& o) noexcept
        : f(o.f), flag(o.flag), armed(std::exchange(o.armed, false)) {}
    ~SchedulesOnDestruction() {
      if (armed) f->queue.schedule(4, [flag = flag] { *flag = true; });
    }
  };
  DelayedCall second = f.queue.schedule(2, SchedulesOnDestruction(&f, &scheduledFromDestructor));
  EXPECT_EQ(f.queue.size(), 3u);
  first.cancel();  // cancels the victim from the function's destructor
  EXPECT_EQ(f.queue.size(), 1u);
  second.cancel();  // schedules a new call from the function's destructor
  EXPECT_EQ(f.queue.size(), 1u);
  f.queue.runDue(10);
  EXPECT_TRUE(scheduledFromDestructor);
}

TEST(TimerQueue, scheduleFromADestructorDuringQueueDestructionIsCancelled) {
  bool ran = false;
  {
    Fixture f;
    struct SchedulesOnDestruction {
      Fixture* f;
      bool* ran;
      bool armed = true;
      void operator()() const {}
      SchedulesOnDestruction(Fixture* f, bool* ran) : f(f), ran(ran) {}
      SchedulesOnDestruction(SchedulesOnDestruction&& o) noexcept
          : f(o.f), ran(o.ran), armed(std::exchange(o.armed, false)) {}
      ~SchedulesOnDestruction() {
        if (armed) {
          DelayedCall late = f->queue.schedule(0, [r = ran] { *r = true; });
          EXPECT_TRUE(late.cancelled());
        }
      }
    };
    f.queue.schedule(1, SchedulesOnDestruction(&f, &ran));
  }
  EXPECT_FALSE(ran);
}

TEST(TimerQueue, scheduleRejectsNaN) {
  Fixture f;
  EXPECT_THROW(f.queue.schedule(std::nan(""), [] {}), std::invalid_argument);
  EXPECT_TRUE(f.queue.empty());
}

TEST(TimerQueue, entriesListsPendingCalls) {
  Fixture f;
  DelayedCall a = f.queue.schedule(1, [] {});
  DelayedCall b = f.queue.schedule(2, [] {});
  DelayedCall c = f.queue.schedule(3, [] {});
  b.cancel();
  std::vector<DelayedCall> listed = f.queue.entries();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_NE(std::find(listed.begin(), listed.end(), a), listed.end());
  EXPECT_NE(std::find(listed.begin(), listed.end(), c), listed.end());
  f.queue.runDue(1);
  listed = f.queue.entries();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], c);
}

TEST(TimerQueue, millionTimersInsertAndCancel) {
  // Scale, not speed: a million pending calls, half cancelled in random order, the rest run
  // in (time, scheduling) order.
  constexpr int kCount = 1'000'000;
  Fixture f;
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<int> times(0, 9'999);
  std::vector<DelayedCall> handles;
  handles.reserve(kCount);
  std::vector<std::pair<int, int>> ran;  // (time, index)
  ran.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    const int t = times(rng);
    handles.push_back(f.queue.schedule(t, [&ran, t, i] { ran.emplace_back(t, i); }));
  }
  EXPECT_EQ(f.queue.size(), static_cast<std::size_t>(kCount));
  std::vector<int> victims(kCount / 2);
  for (int i = 0; i < kCount / 2; ++i) victims[i] = 2 * i + 1;
  std::shuffle(victims.begin(), victims.end(), rng);
  for (int v : victims) handles[v].cancel();
  EXPECT_EQ(f.queue.size(), static_cast<std::size_t>(kCount / 2));
  EXPECT_EQ(f.queue.runDue(10'000), static_cast<std::size_t>(kCount / 2));
  ASSERT_EQ(ran.size(), static_cast<std::size_t>(kCount / 2));
  EXPECT_TRUE(std::is_sorted(ran.begin(), ran.end()));
  EXPECT_TRUE(std::all_of(ran.begin(), ran.end(), [](auto& p) { return p.second % 2 == 0; }));
}

TEST(TimerQueue, randomOperationsMatchAnOrderedModel) {
  // A reference model (std::map keyed by (time, sequence)) against the heap, through
  // schedule, cancel, reset, delay and partial runs.
  Fixture f;
  std::mt19937 rng(7);
  struct Model {
    std::map<std::pair<double, std::uint64_t>, int> order;  // -> id
    std::map<int, std::pair<double, std::uint64_t>> key;    // id ->
  } model;
  std::uint64_t seq = 0;
  std::vector<DelayedCall> handles;
  std::vector<int> ran;
  auto add = [&](double t) {
    const int id = static_cast<int>(handles.size());
    handles.push_back(f.queue.schedule(t, [&ran, id] { ran.push_back(id); }));
    model.order[{t, seq}] = id;
    model.key[id] = {t, seq};
    ++seq;
  };
  for (int step = 0; step < 20'000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5 || model.key.empty()) {
      add(f.now + static_cast<double>(rng() % 50));
      continue;
    }
    auto it = model.key.begin();
    std::advance(it, rng() % model.key.size());
    const int id = it->first;
    const auto oldKey = it->second;
    if (op < 7) {
      handles[id].cancel();
      model.order.erase(oldKey);
      model.key.erase(id);
    } else if (op < 8) {
      const double d = static_cast<double>(rng() % 50);
      handles[id].reset(Seconds(d));
      model.order.erase(oldKey);
      model.key[id] = {f.now + d, seq++};
      model.order[model.key[id]] = id;
    } else if (op < 9) {
      const double d = static_cast<double>(rng() % 20) - 10;
      handles[id].delay(Seconds(d));
      model.order.erase(oldKey);
      model.key[id] = {oldKey.first + d, oldKey.second};
      model.order[model.key[id]] = id;
    } else {
      f.now += static_cast<double>(rng() % 5);
      std::vector<int> expected = ran;
      while (!model.order.empty() && model.order.begin()->first.first <= f.now) {
        expected.push_back(model.order.begin()->second);
        model.key.erase(model.order.begin()->second);
        model.order.erase(model.order.begin());
      }
      f.queue.runDue(f.now);
      ASSERT_EQ(ran, expected) << "step " << step;
    }
    ASSERT_EQ(f.queue.size(), model.key.size());
    if (!model.order.empty()) {
      ASSERT_EQ(f.queue.nextTime(), model.order.begin()->first.first);
    }
  }
}

}  // namespace
}  // namespace torsion::detail
