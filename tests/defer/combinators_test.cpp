// deferredList, gatherResults, race (reference items 14, 19-21) and DeferredLock,
// DeferredSemaphore, DeferredQueue (items 16, 27-30), addTimeout (item 17).
#include "torsion/defer/combinators.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/defer/lock.hpp"
#include "torsion/defer/queue.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/log_capture.hpp"

using namespace torsion;  // NOLINT: test brevity
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;

namespace {

// Item 19: results in input order once all fired; an empty list fires at once.
TEST(DeferredList, firesWithAllResultsInInputOrder) {
  Deferred<int> a, b, c;
  std::vector<Result<int>> got;
  bool fired = false;
  deferredList<int>({a, b, c}).addCallback([&](std::vector<Result<int>> r) {
    fired = true;
    got = std::move(r);
  });
  c.callback(3);
  a.callback(1);
  EXPECT_FALSE(fired);
  b.errback(Boom());
  ASSERT_TRUE(fired);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].value(), 1);
  EXPECT_FALSE(got[1].ok());
  EXPECT_TRUE(got[1].failure().check<Boom>());
  EXPECT_EQ(got[2].value(), 3);
  // Without consumeErrors, b's own chain still holds its failure.
  EXPECT_TRUE(b.failed());
  b = Deferred<int>();
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(DeferredList, emptyListFiresImmediately) {
  bool fired = false;
  deferredList<int>({}).addCallback([&](std::vector<Result<int>> r) { fired = r.empty(); });
  EXPECT_TRUE(fired);
}

TEST(DeferredList, fireOnOneCallbackFiresWithFirstValueAndIndex) {
  Deferred<std::string> a, b;
  std::optional<FirstResult<std::string>> got;
  deferredList<std::string>({a, b}, fireOnOneCallback).addCallback([&](FirstResult<std::string> r) {
    got = std::move(r);
  });
  b.callback("second");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->result, "second");
  EXPECT_EQ(got->index, 1u);
  a.callback("ignored");  // the list already fired
}

TEST(DeferredList, fireOnOneCallbackWithEmptyListNeverFires) {
  auto d = deferredList<int>({}, fireOnOneCallback);
  EXPECT_FALSE(d.called());
}

TEST(DeferredList, fireOnOneCallbackWhenAllFailErrbacksWithFailureGroup) {
  Deferred<int> a, b;
  std::size_t n = 0;
  deferredList<int>({a, b}, fireOnOneCallback, {.consumeErrors = true}).addErrback([&](Failure f) {
    n = f.value<FailureGroup>()->failures().size();
    return FirstResult<int>{0, 0};
  });
  a.errback(Boom());
  b.errback(Boom());
  EXPECT_EQ(n, 2u);
}

TEST(DeferredList, fireOnOneErrbackErrbacksWithFirstError) {
  Deferred<int> a, b;
  std::size_t index = 99;
  bool sub = false;
  deferredList<int>({a, b}, {.fireOnOneErrback = true, .consumeErrors = true})
      .addErrback([&](Failure f) {
        const auto* e = f.value<FirstError>();
        index = e->index();
        sub = e->subFailure().check<Boom>();
        return std::vector<Result<int>>{};
      });
  b.errback(Boom());
  EXPECT_EQ(index, 1u);
  EXPECT_TRUE(sub);
  a.callback(1);
}

TEST(DeferredList, consumeErrorsLeavesNothingUnhandled) {
  {
    Deferred<int> a;
    deferredList<int>({a}, {.consumeErrors = true}).addCallback([](std::vector<Result<int>>) {});
    a.errback(Boom());
  }
  EXPECT_TRUE(flushLoggedErrors().empty());
}

TEST(DeferredList, runsAfterCallbacksAddedEarlier) {
  Deferred<int> a;
  Deferred<int> doubled = a.addCallback([](int v) { return v * 2; });
  int got = 0;
  deferredList<int>({doubled}).addCallback([&](std::vector<Result<int>> r) { got = r[0].value(); });
  a.callback(4);
  EXPECT_EQ(got, 8);
}

// Item 14: cancelling the list cancels every member; a throwing canceller is logged.
TEST(DeferredList, cancelCancelsEveryMemberAndLogsCancellerExceptions) {
  int cancelled = 0;
  Deferred<int> a([&](Deferred<int>&) {
    ++cancelled;
    throw Boom();
  });
  Deferred<int> b([&](Deferred<int>&) { ++cancelled; });
  auto list = deferredList<int>({a, b}, {.consumeErrors = true});
  list.cancel();
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
  // As in Twisted, the list itself then fails with CancelledError; the member whose
  // canceller threw stays unfired, and its late result is simply not used.
  bool cancelledList = false;
  list.addErrback([&](Failure f) {
    cancelledList = f.check<CancelledError>();
    return std::vector<Result<int>>{};
  });
  EXPECT_TRUE(cancelledList);
  EXPECT_FALSE(a.called());
  a.callback(1);
}

TEST(DeferredList, memberDestroyedUnfiredDoesNotKeepTheListAlive) {
  auto list = std::make_unique<Deferred<std::vector<Result<int>>>>();
  {
    Deferred<int> a;
    *list = deferredList<int>({a});
  }
  list->cancel();  // a is gone: nothing to cancel, nothing dangling; the list is cancelled
  bool cancelled = false;
  list->addErrback([&](Failure f) { cancelled = f.check<CancelledError>(); });
  EXPECT_TRUE(cancelled);
}

// Item 20: gatherResults unwraps values and errbacks with FirstError.
TEST(GatherResults, unwrapsValues) {
  Deferred<int> a, b;
  std::vector<int> got;
  gatherResults<int>({a, b}).addCallback([&](std::vector<int> v) { got = v; });
  b.callback(2);
  a.callback(1);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

TEST(GatherResults, errbacksWithFirstErrorHoldingSubFailure) {
  Deferred<int> a, b;
  bool ok = false;
  gatherResults<int>({a, b}, true).addErrback([&](Failure f) {
    ok = f.check<FirstError>() && f.value<FirstError>()->subFailure().check<Boom>() &&
         f.value<FirstError>()->index() == 0;
    return std::vector<int>{};
  });
  a.errback(Boom());
  EXPECT_TRUE(ok);
  b.callback(1);
}

TEST(GatherResults, voidMembersGiveVoid) {
  Deferred<void> a, b;
  bool fired = false;
  gatherResults<void>({a, b}).addCallback([&] { fired = true; });
  a.callback();
  b.callback();
  EXPECT_TRUE(fired);
}

// Item 21: race.
TEST(Race, firstSuccessWinsAndLosersAreCancelled) {
  bool bCancelled = false;
  Deferred<int> a;
  Deferred<int> b([&](Deferred<int>&) { bCancelled = true; });
  std::optional<FirstResult<int>> got;
  race<int>({a, b}).addCallback([&](FirstResult<int> r) { got = r; });
  a.callback(5);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->result, 5);
  EXPECT_EQ(got->index, 0u);
  EXPECT_TRUE(bCancelled);
  EXPECT_TRUE(flushLoggedErrors().empty());  // the losers' CancelledErrors are consumed
}

TEST(Race, allFailingErrbacksWithFailureGroup) {
  Deferred<int> a, b;
  std::size_t n = 0;
  race<int>({a, b}).addErrback([&](Failure f) {
    n = f.value<FailureGroup>()->failures().size();
    return FirstResult<int>{0, 0};
  });
  a.errback(Boom());
  EXPECT_EQ(n, 0u);
  b.errback(Boom());
  EXPECT_EQ(n, 2u);
}

TEST(Race, cancellingTheRaceCancelsAllMembers) {
  int cancelled = 0;
  Deferred<int> a([&](Deferred<int>&) { ++cancelled; });
  Deferred<int> b([&](Deferred<int>&) { ++cancelled; });
  auto r = race<int>({a, b});
  r.cancel();
  EXPECT_EQ(cancelled, 2);
  r.addErrback([](Failure f) {
    f.trap<FailureGroup>();
    return FirstResult<int>{0, 0};
  });
}

// Item 27: DeferredLock.
TEST(DeferredLock, waitersAreServedFifoAndReleaseHandsOver) {
  DeferredLock lock;
  std::vector<int> order;
  lock.acquire().addCallback([&] { order.push_back(1); });
  EXPECT_TRUE(lock.locked());
  lock.acquire().addCallback([&] { order.push_back(2); });
  lock.acquire().addCallback([&] { order.push_back(3); });
  EXPECT_EQ(lock.waiting(), 2u);
  lock.release();
  lock.release();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(lock.locked());
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), std::logic_error);
}

// Item 16: cancelling a waiting acquire removes the waiter.
TEST(DeferredLock, cancelledWaiterIsRemoved) {
  DeferredLock lock;
  lock.acquire();
  auto waiter = lock.acquire();
  bool cancelled = false;
  waiter.addErrback([&](Failure f) { cancelled = f.check<CancelledError>(); });
  waiter.cancel();
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(lock.waiting(), 0u);
  lock.release();
  EXPECT_FALSE(lock.locked());
}

// Item 28: DeferredSemaphore.
TEST(DeferredSemaphore, allowsLimitHoldersAtOnce) {
  DeferredSemaphore sem(2);
  int holders = 0;
  for (int i = 0; i < 3; ++i) sem.acquire().addCallback([&] { ++holders; });
  EXPECT_EQ(holders, 2);
  EXPECT_EQ(sem.tokens(), 0u);
  EXPECT_EQ(sem.waiting(), 1u);
  sem.release();
  EXPECT_EQ(holders, 3);
  sem.release();
  sem.release();
  EXPECT_EQ(sem.tokens(), 2u);
  EXPECT_THROW(sem.release(), std::logic_error);
}

// Item 29: run() acquires, runs, and releases when the result is there.
TEST(DeferredSemaphore, runReleasesWhenTheResultArrives) {
  DeferredSemaphore sem(1);
  Deferred<int> work;
  auto first = sem.run([&] { return work; });
  bool secondRan = false;
  auto second = sem.run([&] {
    secondRan = true;
    return 2;
  });
  EXPECT_FALSE(secondRan);
  work.callback(1);
  EXPECT_TRUE(secondRan);
  EXPECT_EQ(sem.tokens(), 1u);
  int a = 0, b = 0;
  first.addCallback([&](int v) { a = v; });
  second.addCallback([&](int v) { b = v; });
  EXPECT_EQ(a + b, 3);
}

TEST(DeferredSemaphore, runReleasesOnFailureToo) {
  DeferredSemaphore sem(1);
  sem.run([]() -> int { throw Boom(); }).addErrback([](Failure) { return 0; });
  EXPECT_EQ(sem.tokens(), 1u);
}

Deferred<int> guarded(DeferredLock& lock, Deferred<void> gate, std::vector<int>& order, int id) {
  auto held = co_await lock.acquireGuard();
  order.push_back(id);
  co_await std::move(gate);
  order.push_back(-id);
  co_return id;
}

TEST(DeferredLock, guardReleasesAtScopeExitInCoroutines) {
  DeferredLock lock;
  std::vector<int> order;
  Deferred<void> g1, g2;
  auto c1 = guarded(lock, g1, order, 1);
  auto c2 = guarded(lock, g2, order, 2);
  EXPECT_EQ(order, (std::vector<int>{1}));
  g1.callback();
  EXPECT_EQ(order, (std::vector<int>{1, -1, 2}));
  g2.callback();
  EXPECT_EQ(order, (std::vector<int>{1, -1, 2, -2}));
  EXPECT_FALSE(lock.locked());
}

// Item 30: DeferredQueue.
TEST(DeferredQueue, getFiresAtOnceWhenItemWaiting) {
  DeferredQueue<std::string> q;
  q.put("a");
  std::string got;
  q.get().addCallback([&](std::string s) { got = s; });
  EXPECT_EQ(got, "a");
}

TEST(DeferredQueue, putHandsItemToOldestWaitingGetter) {
  DeferredQueue<int> q;
  std::vector<int> got;
  q.get().addCallback([&](int v) { got.push_back(v * 10); });
  q.get().addCallback([&](int v) { got.push_back(v * 100); });
  q.put(1);
  q.put(2);
  EXPECT_EQ(got, (std::vector<int>{10, 200}));
}

TEST(DeferredQueue, sizeAndBacklogLimitsRaise) {
  DeferredQueue<int> q(1, 1);
  q.put(1);
  EXPECT_THROW(q.put(2), QueueOverflow);
  q.get();
  q.get();  // waits
  EXPECT_THROW(q.get(), QueueUnderflow);
}

TEST(DeferredQueue, cancelledGetIsRemovedAndLosesNothing) {
  DeferredQueue<int> q;
  auto first = q.get();
  first.addErrback([](Failure f) {
    f.trap<CancelledError>();
    return 0;
  });
  int got = 0;
  q.get().addCallback([&](int v) { got = v; });
  first.cancel();
  EXPECT_EQ(q.waiting(), 1u);
  q.put(7);
  EXPECT_EQ(got, 7);
}

TEST(DeferredQueue, waitersCanBeCancelledAfterTheQueueIsGone) {
  Deferred<int> d;
  {
    DeferredQueue<int> q;
    d = q.get();
  }
  d.addErrback([](Failure f) {
    f.trap<CancelledError>();
    return 0;
  });
  d.cancel();
  EXPECT_TRUE(d.called());
}

// Item 17: addTimeout.
TEST(AddTimeout, timeoutCancelsAndTurnsCancelledErrorIntoTimeoutError) {
  torsion::testing::Clock clock;
  Deferred<int> d;
  bool timedOut = false;
  d.addTimeout(Seconds(5), clock).addErrback([&](Failure f) {
    timedOut = f.check<TimeoutError>();
    return 0;
  });
  clock.advance(Seconds(4.9));
  EXPECT_FALSE(d.called());
  clock.advance(Seconds(0.1));
  EXPECT_TRUE(timedOut);
}

TEST(AddTimeout, firingFirstCancelsTheTimer) {
  torsion::testing::Clock clock;
  Deferred<int> d;
  int got = 0;
  d.addTimeout(Seconds(5), clock).addCallback([&](int v) { got = v; });
  EXPECT_EQ(clock.getDelayedCalls().size(), 1u);
  d.callback(3);
  EXPECT_EQ(got, 3);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(AddTimeout, coversOnlyCallbacksAddedBefore) {
  torsion::testing::Clock clock;
  Deferred<int> d;
  std::vector<std::string> trace;
  d.addErrback([&](Failure f) {
     trace.push_back(f.check<CancelledError>() ? "before:cancelled" : "before:other");
     return f;
   })
      .addTimeout(Seconds(1), clock)
      .addErrback([&](Failure f) {
        trace.push_back(f.check<TimeoutError>() ? "after:timeout" : "after:other");
        return 0;
      });
  clock.advance(Seconds(1));
  EXPECT_EQ(trace, (std::vector<std::string>{"before:cancelled", "after:timeout"}));
}

TEST(AddTimeout, onTimeoutCancelDecidesTheResult) {
  torsion::testing::Clock clock;
  Deferred<int> d;
  int got = 0;
  d.addTimeout(Seconds(2), clock, [](Result<int>, Seconds s) {
     return Result<int>(static_cast<int>(s.count() * 100));
   }).addCallback([&](int v) { got = v; });
  clock.advance(Seconds(2));
  EXPECT_EQ(got, 200);
}

TEST(AddTimeout, cancellerFiringWithValueIsKept) {
  torsion::testing::Clock clock;
  Deferred<int> d([](Deferred<int>& self) { self.callback(-1); });
  int got = 0;
  d.addTimeout(Seconds(1), clock).addCallback([&](int v) { got = v; });
  clock.advance(Seconds(1));
  EXPECT_EQ(got, -1);
}

}  // namespace
