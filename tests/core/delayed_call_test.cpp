// DelayedCall: the handle's contract (Twisted's IDelayedCall), on a TimerQueue driven by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/core/time.hpp"
#include "torsion/core/timer_queue.hpp"

namespace torsion {
namespace {

// Clock.advance's semantics over a bare queue.
struct Time {
  double now = 0.0;
  std::unique_ptr<detail::TimerQueue> queue =
      std::make_unique<detail::TimerQueue>([this] { return now; });
  DelayedCall callLater(double delay, UniqueFunction<void()> f) {
    return queue->schedule(now + delay, std::move(f));
  }
  void advance(double amount) {
    now += amount;
    queue->runUntilEmptyOrLater(now);
  }
};

TEST(DelayedCall, emptyHandleIsNeitherActiveNorCalledNorCancelled) {
  DelayedCall empty;
  EXPECT_FALSE(empty.active());
  EXPECT_FALSE(empty.called());
  EXPECT_FALSE(empty.cancelled());
  EXPECT_THROW(empty.cancel(), AlreadyCancelled);
  EXPECT_THROW(empty.reset(Seconds(1)), AlreadyCancelled);
  EXPECT_THROW(empty.delay(Seconds(1)), AlreadyCancelled);
  EXPECT_THROW(empty.getTime(), AlreadyCancelled);
  EXPECT_EQ(empty, DelayedCall());
}

TEST(DelayedCall, getTimeIsTheScheduledTime) {
  Time t;
  t.now = 100;
  DelayedCall call = t.callLater(2.5, [] {});
  EXPECT_EQ(call.getTime(), 102.5);
  EXPECT_TRUE(call.active());
}

TEST(DelayedCall, runsOnceAndReportsCalled) {
  Time t;
  int runs = 0;
  DelayedCall call = t.callLater(1, [&] { ++runs; });
  t.advance(0.5);
  EXPECT_EQ(runs, 0);
  t.advance(0.5);
  EXPECT_EQ(runs, 1);
  t.advance(10);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(call.active());
  EXPECT_TRUE(call.called());
  EXPECT_FALSE(call.cancelled());
  EXPECT_EQ(call.getTime(), 1.0);  // still answers after the call ran
}

TEST(DelayedCall, cancelPreventsTheCall) {
  Time t;
  bool ran = false;
  DelayedCall call = t.callLater(1, [&] { ran = true; });
  call.cancel();
  EXPECT_FALSE(call.active());
  EXPECT_TRUE(call.cancelled());
  EXPECT_FALSE(call.called());
  t.advance(5);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.queue->empty());
}

TEST(DelayedCall, cancelAfterCalledRaisesAlreadyCalled) {
  Time t;
  DelayedCall call = t.callLater(1, [] {});
  t.advance(1);
  EXPECT_THROW(call.cancel(), AlreadyCalled);
  EXPECT_THROW(call.reset(Seconds(1)), AlreadyCalled);
  EXPECT_THROW(call.delay(Seconds(1)), AlreadyCalled);
}

TEST(DelayedCall, cancelTwiceRaisesAlreadyCancelled) {
  Time t;
  DelayedCall call = t.callLater(1, [] {});
  call.cancel();
  EXPECT_THROW(call.cancel(), AlreadyCancelled);
  EXPECT_THROW(call.reset(Seconds(1)), AlreadyCancelled);
  EXPECT_THROW(call.delay(Seconds(1)), AlreadyCancelled);
  // Both are torsion::Error, as in twisted.internet.error.
  EXPECT_THROW(call.cancel(), Error);
}

TEST(DelayedCall, resetLaterAndEarlier) {
  Time t;
  std::vector<std::string> order;
  DelayedCall a = t.callLater(2, [&] { order.push_back("a"); });
  t.callLater(3, [&] { order.push_back("b"); });
  a.reset(Seconds(5));  // later: after b
  EXPECT_EQ(a.getTime(), 5.0);
  t.advance(4);
  EXPECT_EQ(order, (std::vector<std::string>{"b"}));
  a.reset(Seconds(0.5));  // earlier: from now (4), not from the old time
  EXPECT_EQ(a.getTime(), 4.5);
  t.advance(0.5);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "a"}));
}

TEST(DelayedCall, resetRunsAfterCallsAlreadyScheduledForThatTime) {
  Time t;
  std::vector<int> order;
  DelayedCall first = t.callLater(1, [&] { order.push_back(1); });
  t.callLater(3, [&] { order.push_back(2); });
  t.callLater(3, [&] { order.push_back(3); });
  first.reset(Seconds(3));
  t.advance(3);
  EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
}

TEST(DelayedCall, resetWithNegativeDelayCountsAsZeroAndNaNIsRejected) {
  Time t;
  t.now = 10;
  DelayedCall call = t.callLater(5, [] {});
  call.reset(Seconds(-3));
  EXPECT_EQ(call.getTime(), 10.0);
  EXPECT_THROW(call.reset(Seconds(std::nan(""))), std::invalid_argument);
  EXPECT_THROW(call.delay(Seconds(std::nan(""))), std::invalid_argument);
  EXPECT_EQ(call.getTime(), 10.0);
  EXPECT_TRUE(call.active());
}

TEST(DelayedCall, delayMovesCall) {
  Time t;
  std::vector<std::string> order;
  DelayedCall a = t.callLater(1, [&] { order.push_back("a"); });
  DelayedCall b = t.callLater(2, [&] { order.push_back("b"); });
  a.delay(Seconds(2));  // 1 -> 3: after b
  EXPECT_EQ(a.getTime(), 3.0);
  a.delay(Seconds(0.5));  // delays add up
  EXPECT_EQ(a.getTime(), 3.5);
  b.delay(Seconds(-1.5));  // negative: sooner
  EXPECT_EQ(b.getTime(), 0.5);
  t.advance(1);
  EXPECT_EQ(order, (std::vector<std::string>{"b"}));
  t.advance(2.5);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "a"}));
}

TEST(DelayedCall, delayKeepsSchedulingOrderAmongEqualTimes) {
  // delay() shifts a call in time; unlike reset() it does not count as scheduling anew.
  Time t;
  std::vector<int> order;
  DelayedCall first = t.callLater(1, [&] { order.push_back(1); });
  t.callLater(2, [&] { order.push_back(2); });
  first.delay(Seconds(1));
  t.advance(2);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(DelayedCall, handleOutlivesClock) {
  DelayedCall pending;
  DelayedCall ran;
  {
    Time t;
    pending = t.callLater(5, [] {});
    ran = t.callLater(1, [] {});
    t.advance(1);
  }
  EXPECT_FALSE(pending.active());
  EXPECT_TRUE(pending.cancelled());
  EXPECT_EQ(pending.getTime(), 5.0);
  EXPECT_THROW(pending.cancel(), AlreadyCancelled);
  EXPECT_THROW(pending.reset(Seconds(1)), AlreadyCancelled);
  EXPECT_THROW(pending.delay(Seconds(1)), AlreadyCancelled);
  EXPECT_TRUE(ran.called());
  EXPECT_THROW(ran.cancel(), AlreadyCalled);
}

TEST(DelayedCall, copiesNameTheSameCall) {
  Time t;
  DelayedCall a = t.callLater(1, [] {});
  DelayedCall b = a;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, t.callLater(1, [] {}));
  b.cancel();
  EXPECT_TRUE(a.cancelled());
  DelayedCall c;
  c = a;
  EXPECT_TRUE(c.cancelled());
  DelayedCall& alias = c;
  c = alias;  // self-assignment keeps the reference
  EXPECT_TRUE(c.cancelled());
}

TEST(DelayedCall, moveLeavesTheSourceEmpty) {
  Time t;
  DelayedCall a = t.callLater(1, [] {});
  DelayedCall b = std::move(a);
  EXPECT_TRUE(b.active());
  EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(a, DelayedCall());
  DelayedCall c;
  c = std::move(b);
  EXPECT_TRUE(c.active());
  EXPECT_EQ(b, DelayedCall());  // NOLINT(bugprone-use-after-move)
  DelayedCall& alias = c;
  c = std::move(alias);  // self-move is harmless
  EXPECT_TRUE(c.active());
  c = DelayedCall();
  EXPECT_EQ(t.queue->size(), 1u);  // dropping handles never cancels
}

TEST(DelayedCall, droppingEveryHandleLeavesTheCallScheduled) {
  Time t;
  bool ran = false;
  t.callLater(1, [&] { ran = true; });
  t.advance(1);
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace torsion
