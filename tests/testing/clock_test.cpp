// testing::Clock: task.Clock's behaviour, the way tests of time-dependent code use it.
#include "torsion/testing/clock.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/core/time.hpp"
#include "torsion/log/log.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Clock, secondsStartsAtZeroAndMovesOnlyWithAdvance) {
  Clock clock;
  EXPECT_EQ(clock.seconds(), 0.0);
  clock.callLater(seconds(1), [] {});
  EXPECT_EQ(clock.seconds(), 0.0);
  clock.advance(milliseconds(1500));
  EXPECT_EQ(clock.seconds(), 1.5);
}

TEST(Clock, advanceRunsCallsThatAreDue) {
  Clock clock;
  bool fired = false;
  DelayedCall call = clock.callLater(seconds(5), [&] { fired = true; });
  clock.advance(seconds(4));
  EXPECT_FALSE(fired);
  EXPECT_TRUE(call.active());
  clock.advance(seconds(1));
  EXPECT_TRUE(fired);
  EXPECT_TRUE(call.called());
}

TEST(Clock, callsRunInTimeOrderWithinOneAdvance) {
  Clock clock;
  std::vector<int> order;
  clock.callLater(seconds(3), [&] { order.push_back(3); });
  clock.callLater(seconds(1), [&] { order.push_back(1); });
  clock.callLater(seconds(2), [&] { order.push_back(2); });
  clock.advance(seconds(10));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(Clock, equalTimesRunInSchedulingOrder) {
  Clock clock;
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) clock.callLater(seconds(1), [&order, i] { order.push_back(i); });
  clock.advance(seconds(1));
  std::vector<int> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(i);
  EXPECT_EQ(order, expected);
}

TEST(Clock, advanceRunsCallsScheduledDuringAdvanceWhenDue) {
  Clock clock;
  std::vector<std::string> order;
  clock.callLater(seconds(1), [&] {
    order.push_back("outer");  // runs at seconds() == 5, the end of the advance
    clock.callLater(seconds(0), [&] {
      order.push_back("zero delay");
      clock.callLater(seconds(0), [&] { order.push_back("nested zero delay"); });
    });
    clock.callLater(seconds(1), [&] { order.push_back("due at 6"); });
  });
  clock.callLater(seconds(5), [&] { order.push_back("due at 5"); });
  clock.advance(seconds(5));
  EXPECT_EQ(order,
            (std::vector<std::string>{"outer", "due at 5", "zero delay", "nested zero delay"}));
  EXPECT_EQ(clock.getDelayedCalls().size(), 1u);
  clock.advance(seconds(1));
  EXPECT_EQ(order.back(), "due at 6");
}

TEST(Clock, secondsDuringACallIsTheNewTime) {
  // As in task.Clock: time jumps first, then the due calls run.
  Clock clock;
  double seen = -1;
  clock.callLater(seconds(1), [&] { seen = clock.seconds(); });
  clock.advance(seconds(10));
  EXPECT_EQ(seen, 10.0);
}

TEST(Clock, callLaterCountsFromTheCurrentTime) {
  Clock clock;
  clock.advance(seconds(100));
  DelayedCall call = clock.callLater(seconds(3), [] {});
  EXPECT_EQ(call.getTime(), 103.0);
}

TEST(Clock, negativeDelayCountsAsZero) {
  Clock clock;
  clock.advance(seconds(2));
  bool fired = false;
  DelayedCall call = clock.callLater(seconds(-5), [&] { fired = true; });
  EXPECT_EQ(call.getTime(), 2.0);
  clock.advance(seconds(0));
  EXPECT_TRUE(fired);
}

TEST(Clock, nanIsRejected) {
  Clock clock;
  EXPECT_THROW(clock.callLater(Seconds(std::nan("")), [] {}), std::invalid_argument);
  EXPECT_THROW(clock.advance(Seconds(std::nan(""))), std::invalid_argument);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(Clock, advanceRejectsNegativeAmounts) {
  Clock clock;
  clock.advance(seconds(1));
  EXPECT_THROW(clock.advance(seconds(-1)), std::invalid_argument);
  EXPECT_EQ(clock.seconds(), 1.0);
}

TEST(Clock, pumpAdvancesByEachAmountInTurn) {
  Clock clock;
  std::vector<double> seen;
  clock.callLater(seconds(1), [&] { seen.push_back(clock.seconds()); });
  clock.callLater(seconds(3), [&] { seen.push_back(clock.seconds()); });
  clock.pump({seconds(1), seconds(1), seconds(1)});
  EXPECT_EQ(seen, (std::vector<double>{1.0, 3.0}));
  EXPECT_EQ(clock.seconds(), 3.0);
}

TEST(Clock, getDelayedCallsListsPendingCalls) {
  Clock clock;
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  DelayedCall a = clock.callLater(seconds(1), [] {});
  DelayedCall b = clock.callLater(seconds(2), [] {});
  DelayedCall c = clock.callLater(seconds(3), [] {});
  b.cancel();
  std::vector<DelayedCall> calls = clock.getDelayedCalls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_TRUE((calls[0] == a && calls[1] == c) || (calls[0] == c && calls[1] == a));
  for (const DelayedCall& call : calls) EXPECT_TRUE(call.active());
  clock.advance(seconds(1));
  calls = clock.getDelayedCalls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], c);
}

TEST(Clock, exceptionInACallIsLoggedAndLaterCallsStillRun) {
  Clock clock;
  bool after = false;
  clock.callLater(seconds(1), [] { throw std::runtime_error("clock-test-marker"); });
  clock.callLater(seconds(1), [&] { after = true; });
  LogCapture capture(globalLogPublisher(), LogLevel::critical);
  clock.advance(seconds(1));
  EXPECT_TRUE(after);
  const std::vector<LogEvent> events = capture.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].logNamespace, "torsion.testing.Clock");
  ASSERT_TRUE(events[0].failure.has_value());
  EXPECT_EQ(events[0].failure->getErrorMessage(), "clock-test-marker");
  // Taken, so that the test main does not fail this test for it.
  EXPECT_EQ(flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST(Clock, advanceInsideACallRunsWhatTheNewTimeMakesDue) {
  Clock clock;
  std::vector<std::string> order;
  clock.callLater(seconds(1), [&] {
    order.push_back("at 1");
    clock.advance(seconds(5));  // time is now 6
  });
  clock.callLater(seconds(2), [&] { order.push_back("at 2"); });
  clock.callLater(seconds(4), [&] { order.push_back("at 4"); });
  clock.callLater(seconds(7), [&] { order.push_back("at 7"); });
  clock.advance(seconds(1));
  EXPECT_EQ(clock.seconds(), 6.0);
  EXPECT_EQ(order, (std::vector<std::string>{"at 1", "at 2", "at 4"}));
}

TEST(Clock, aCallCanCancelAnotherDueCall) {
  Clock clock;
  bool secondRan = false;
  DelayedCall second;
  clock.callLater(seconds(1), [&] { second.cancel(); });
  second = clock.callLater(seconds(1), [&] { secondRan = true; });
  clock.advance(seconds(1));
  EXPECT_FALSE(secondRan);
  EXPECT_TRUE(second.cancelled());
}

TEST(Clock, destructionCancelsPendingCalls) {
  DelayedCall call;
  bool ran = false;
  {
    Clock clock;
    call = clock.callLater(seconds(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran);
  EXPECT_TRUE(call.cancelled());
  EXPECT_THROW(call.cancel(), AlreadyCancelled);
}

// Code under test takes an IReactorTime&: a timeout that fires unless the work finishes.
class Timeout {
 public:
  Timeout(IReactorTime& time, Seconds limit, bool* expired)
      : call_(time.callLater(limit, [expired] { *expired = true; })) {}
  void finished() {
    if (call_.active()) call_.cancel();
  }
  void activity(Seconds limit) { call_.reset(limit); }

 private:
  DelayedCall call_;
};

TEST(Clock, drivesCodeWrittenAgainstIReactorTime) {
  Clock clock;
  bool expired = false;
  Timeout timeout(clock, seconds(30), &expired);
  clock.advance(seconds(20));
  timeout.activity(seconds(30));  // pushed to 50
  clock.advance(seconds(20));
  EXPECT_FALSE(expired);
  clock.advance(seconds(10));
  EXPECT_TRUE(expired);

  bool expired2 = false;
  Timeout quick(clock, seconds(30), &expired2);
  clock.advance(seconds(5));
  quick.finished();
  clock.advance(seconds(60));
  EXPECT_FALSE(expired2);
}

TEST(Clock, manyCallsRunInOrder) {
  Clock clock;
  std::vector<int> seen;
  for (int i = 0; i < 10'000; ++i) {
    clock.callLater(Seconds((i * 7919) % 1000), [&seen, i] { seen.push_back((i * 7919) % 1000); });
  }
  clock.advance(seconds(1000));
  ASSERT_EQ(seen.size(), 10'000u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

}  // namespace
}  // namespace torsion::testing
