// deferToThread, deferToThreadPool, blockingCallFromThread and the reactor's pool, on a
// running Reactor.
//
// Each test's own completion path stops the reactor; a safety timer fails the test (and
// stops the reactor) if that path is never reached. Threads meet at Events; no sleeps.
#include "torsion/core/threads.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/testing/log_capture.hpp"

using namespace std::chrono_literals;
using torsion::BlockingCallAbandoned;
using torsion::blockingCallFromThread;
using torsion::CancelledError;
using torsion::Deferred;
using torsion::deferToThread;
using torsion::deferToThreadPool;
using torsion::Failure;
using torsion::Reactor;
using torsion::Result;
using torsion::ThreadPool;
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;

namespace {

constexpr auto kLimit = 10s;

// A one-shot event with a bounded wait.
class Event {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  bool waitFor() {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kLimit, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

// Records the thread that destroys it.
struct DestroyedOn {
  explicit DestroyedOn(std::thread::id* where) : where(where) {}
  DestroyedOn(const DestroyedOn&) = delete;
  DestroyedOn(DestroyedOn&& other) noexcept : where(std::exchange(other.where, nullptr)) {}
  ~DestroyedOn() {
    if (where != nullptr) *where = std::this_thread::get_id();
  }
  std::thread::id* where;
};

class ReactorThreads : public ::testing::Test {
 protected:
  // Runs the reactor until the test's own path stops it; fails the test if that takes
  // longer than kLimit.
  void runWithLimit() {
    auto guard = reactor.callLater(kLimit, [this] {
      ADD_FAILURE() << "the reactor was still running after the test's time limit";
      reactor.stop();
    });
    reactor.run();
    if (guard.active()) guard.cancel();
  }

  const std::thread::id reactorThread = std::this_thread::get_id();
  Reactor reactor{Reactor::Options{{}, false}};
};

class DeferToThread : public ReactorThreads {};
class BlockingCallFromThread : public ReactorThreads {};
class ReactorThreadPool : public ReactorThreads {};

// ---- deferToThread -------------------------------------------------------------------------

TEST_F(DeferToThread, resultComesBackOnReactorThread) {
  std::thread::id ranOn;
  std::thread::id calledBackOn;
  std::optional<int> value;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, [&] {
      ranOn = std::this_thread::get_id();
      return 6 * 7;
    }).addCallback([&](int v) {
      value = v;
      calledBackOn = std::this_thread::get_id();
      reactor.stop();
    });
  });
  runWithLimit();
  EXPECT_EQ(value, 42);
  EXPECT_NE(ranOn, reactorThread);
  EXPECT_EQ(calledBackOn, reactorThread);
}

TEST_F(DeferToThread, exceptionBecomesFailure) {
  std::optional<std::string> error;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, []() -> int { throw Boom(); })
        .addCallbacks([](int) { ADD_FAILURE() << "the callback ran"; },
                      [&](Failure f) {
                        EXPECT_TRUE(f.check<Boom>());
                        EXPECT_EQ(std::this_thread::get_id(), reactorThread);
                        error = f.getErrorMessage();
                      })
        .addBoth([&](Result<void>) { reactor.stop(); });
  });
  runWithLimit();
  EXPECT_EQ(error, "boom");
}

TEST_F(DeferToThread, voidFunctions) {
  std::atomic<bool> ran{false};
  bool calledBack = false;
  reactor.callWhenRunning([&] {
    Deferred<void> d = deferToThread(reactor, [&] { ran = true; });
    d.addCallback([&] {
      EXPECT_TRUE(ran.load());
      calledBack = true;
      reactor.stop();
    });
  });
  runWithLimit();
  EXPECT_TRUE(calledBack);
}

TEST_F(DeferToThread, resultOfAFailureErrbacks) {
  bool trapped = false;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, []() -> Result<std::string> { return Failure(Boom()); })
        .addErrback([&](Failure f) {
          f.trap<Boom>();
          trapped = true;
          return std::string();
        })
        .addBoth([&](Result<std::string>) { reactor.stop(); });
  });
  runWithLimit();
  EXPECT_TRUE(trapped);
}

TEST_F(DeferToThread, moveOnlyResultsAndFunctions) {
  std::unique_ptr<int> got;
  reactor.callWhenRunning([&] {
    auto p = std::make_unique<int>(5);
    deferToThread(reactor, [p = std::move(p)]() mutable {
      return std::move(p);
    }).addCallback([&](std::unique_ptr<int> v) {
      got = std::move(v);
      reactor.stop();
    });
  });
  runWithLimit();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, 5);
}

TEST_F(DeferToThread, functionIsDestroyedOnThePoolThread) {
  std::thread::id ranOn;
  std::thread::id destroyedOn;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, [&, guard = DestroyedOn(&destroyedOn)] {
      ranOn = std::this_thread::get_id();
    }).addCallback([&] { reactor.stop(); });
  });
  runWithLimit();
  EXPECT_EQ(destroyedOn, ranOn);
  EXPECT_NE(destroyedOn, reactorThread);
}

TEST_F(DeferToThread, workDeferredBeforeRunWaitsForTheReactor) {
  std::atomic<bool> ran{false};
  bool calledBack = false;
  deferToThread(reactor, [&] { ran = true; }).addCallback([&] {
    calledBack = true;
    reactor.stop();
  });
  EXPECT_FALSE(reactor.getThreadPool().started());
  EXPECT_EQ(reactor.getThreadPool().queued(), 1u);
  runWithLimit();
  EXPECT_TRUE(ran.load());
  EXPECT_TRUE(calledBack);
}

TEST_F(DeferToThread, manyRoundTrips) {
  constexpr int kCalls = 200;
  int results = 0;
  long sum = 0;
  reactor.callWhenRunning([&] {
    for (int i = 0; i < kCalls; ++i) {
      deferToThread(reactor, [i] { return i; }).addCallback([&](int v) {
        EXPECT_EQ(std::this_thread::get_id(), reactorThread);
        sum += v;
        if (++results == kCalls) reactor.stop();
      });
    }
  });
  runWithLimit();
  EXPECT_EQ(results, kCalls);
  EXPECT_EQ(sum, long(kCalls) * (kCalls - 1) / 2);
}

TEST_F(DeferToThread, callbacksMayDeferToThreadAgain) {
  std::optional<int> value;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, [] {
      return 1;
    }).addCallback([&](int v) {
        return deferToThread(reactor, [v] { return v + 1; });
      }).addCallback([&](int v) {
      value = v;
      reactor.stop();
    });
  });
  runWithLimit();
  EXPECT_EQ(value, 2);
}

// Cancelling cannot stop the thread (as in Twisted): the Deferred errbacks at once with
// CancelledError, f runs to its end, and its result is dropped silently when it comes back.
TEST_F(DeferToThread, cancelErrbacksAtOnceAndDropsTheLateResult) {
  ThreadPool pool(0, 1);  // one thread: the second job's result comes back after the first's
  pool.start();
  Event release;
  std::atomic<bool> finished{false};
  int cancelledErrbacks = 0;
  int otherOutcomes = 0;
  reactor.callWhenRunning([&] {
    Deferred<int> d = deferToThreadPool(reactor, pool, [&] {
      EXPECT_TRUE(release.waitFor());
      finished = true;
      return 1;
    });
    d.addCallbacks([&](int) { ++otherOutcomes; },
                   [&](Failure f) {
                     if (f.check<CancelledError>()) {
                       ++cancelledErrbacks;
                     } else {
                       ++otherOutcomes;
                     }
                   });
    d.cancel();
    EXPECT_EQ(cancelledErrbacks, 1);  // at once, while f is still running
    EXPECT_FALSE(finished.load());
    release.open();
    deferToThreadPool(reactor, pool, [] {}).addCallback([&] { reactor.stop(); });
  });
  runWithLimit();
  pool.stop();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(cancelledErrbacks, 1);
  EXPECT_EQ(otherOutcomes, 0);
  // No AlreadyCalledError (or anything else) was logged: the test main would fail us.
}

TEST_F(DeferToThread, usesTheGivenPool) {
  ThreadPool pool(0, 1, "mine");
  pool.start();
  const ThreadPool* ranIn = nullptr;
  reactor.callWhenRunning([&] {
    deferToThreadPool(reactor, pool, [&] { ranIn = ThreadPool::current(); }).addCallback([&] {
      reactor.stop();
    });
  });
  runWithLimit();
  pool.stop();
  EXPECT_EQ(ranIn, &pool);
}

// Work still queued when its pool is destroyed never runs; its Deferred is destroyed, unfired,
// on the destroying thread (here the reactor's), together with its callbacks.
TEST_F(DeferToThread, workNeverRunIsDroppedWithItsPoolUnfired) {
  std::thread::id functionDestroyedOn;
  std::thread::id callbackDestroyedOn;
  bool ran = false;
  bool calledBack = false;
  {
    ThreadPool pool;  // never started
    deferToThreadPool(reactor, pool, [&, g = DestroyedOn(&functionDestroyedOn)] {
      ran = true;
    }).addBoth([&, g = std::make_shared<DestroyedOn>(&callbackDestroyedOn)](Result<void>) {
      calledBack = true;
    });
  }
  EXPECT_FALSE(ran);
  EXPECT_FALSE(calledBack);
  EXPECT_EQ(functionDestroyedOn, reactorThread);
  EXPECT_EQ(callbackDestroyedOn, reactorThread);
}

// A result that reaches a reactor which never runs again is destroyed with the reactor, on
// the reactor's thread; the Deferred never fires.
TEST(DeferToThreadLifetime, resultQueuedWhenTheReactorIsDestroyedIsDroppedUnfired) {
  std::thread::id callbackDestroyedOn;
  std::atomic<bool> ran{false};
  bool calledBack = false;
  ThreadPool pool(0, 1);
  {
    Reactor reactor(Reactor::Options{{}, false});
    pool.start();
    deferToThreadPool(reactor, pool, [&] {
      ran = true;
    }).addBoth([&, g = std::make_shared<DestroyedOn>(&callbackDestroyedOn)](Result<void>) {
      calledBack = true;
    });
    pool.stop();  // f has run and its result is queued on the reactor
    EXPECT_TRUE(ran.load());
  }
  EXPECT_FALSE(calledBack);
  EXPECT_EQ(callbackDestroyedOn, std::this_thread::get_id());
}

// The same when the reactor is destroyed on another thread, once the thread that used it is
// done: the reactor's destructor destroys the result there (nothing is leaked).
TEST(DeferToThreadLifetime, reactorMayBeDestroyedOnAnotherThreadOnceItsThreadIsDone) {
  std::thread::id callbackDestroyedOn;
  bool calledBack = false;
  ThreadPool pool(0, 1);
  pool.start();
  auto reactor = std::make_unique<Reactor>(Reactor::Options{{}, false});
  std::thread user([&] {
    deferToThreadPool(*reactor, pool, [] {
    }).addBoth([&, g = std::make_shared<DestroyedOn>(&callbackDestroyedOn)](Result<void>) {
      calledBack = true;
    });
    pool.stop();  // the result is queued on the reactor
  });
  user.join();
  reactor.reset();
  EXPECT_FALSE(calledBack);
  EXPECT_EQ(callbackDestroyedOn, std::this_thread::get_id());
}

// ---- blockingCallFromThread ----------------------------------------------------------------

TEST_F(BlockingCallFromThread, returnsValueFromReactorThread) {
  std::optional<int> got;
  std::thread::id ranOn;
  std::thread caller;
  reactor.callWhenRunning([&] {
    caller = std::thread([&] {
      got = blockingCallFromThread(reactor, [&] {
        ranOn = std::this_thread::get_id();
        return 42;
      });
      reactor.callFromThread([&] { reactor.stop(); });
    });
  });
  runWithLimit();
  caller.join();
  EXPECT_EQ(got, 42);
  EXPECT_EQ(ranOn, reactorThread);
}

TEST_F(BlockingCallFromThread, waitsForDeferred) {
  std::optional<std::string> got;
  std::thread caller;
  reactor.callWhenRunning([&] {
    caller = std::thread([&] {
      got = blockingCallFromThread(reactor, [&] {
        Deferred<std::string> d;
        reactor.callLater(0s, [d]() mutable { d.callback("later"); });
        return d;
      });
      reactor.callFromThread([&] { reactor.stop(); });
    });
  });
  runWithLimit();
  caller.join();
  EXPECT_EQ(got, "later");
}

TEST_F(BlockingCallFromThread, rethrowsFailureOnCallingThread) {
  std::optional<std::string> thrown;
  std::optional<std::string> thrownFromDeferred;
  std::thread::id caughtOn;
  std::thread caller;
  reactor.callWhenRunning([&] {
    caller = std::thread([&] {
      try {
        blockingCallFromThread(reactor, []() -> int { throw Boom(); });
      } catch (const Boom& e) {
        thrown = e.what();
        caughtOn = std::this_thread::get_id();
      }
      try {
        blockingCallFromThread(reactor, [] { return torsion::fail<int>(Boom()); });
      } catch (const Boom& e) {
        thrownFromDeferred = e.what();
      }
      reactor.callFromThread([&] { reactor.stop(); });
    });
  });
  runWithLimit();
  const std::thread::id callerId = caller.get_id();
  caller.join();
  EXPECT_EQ(thrown, "boom");
  EXPECT_EQ(thrownFromDeferred, "boom");
  EXPECT_EQ(caughtOn, callerId);
}

TEST_F(BlockingCallFromThread, voidFunctions) {
  bool ran = false;  // written on the reactor thread, read by the caller after the call
  bool sawIt = false;
  std::thread caller;
  reactor.callWhenRunning([&] {
    caller = std::thread([&] {
      blockingCallFromThread(reactor, [&] { ran = true; });
      sawIt = ran;
      reactor.callFromThread([&] { reactor.stop(); });
    });
  });
  runWithLimit();
  caller.join();
  EXPECT_TRUE(sawIt);
}

TEST_F(BlockingCallFromThread, fromPoolWorkInsideDeferToThread) {
  std::optional<int> value;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, [&] {
      // On a pool thread: ask the reactor for something, then go on with it here.
      const int fromReactor = blockingCallFromThread(reactor, [&] {
        EXPECT_EQ(std::this_thread::get_id(), reactorThread);
        return 20;
      });
      return fromReactor + 1;
    }).addCallback([&](int v) {
      value = v;
      reactor.stop();
    });
  });
  runWithLimit();
  EXPECT_EQ(value, 21);
}

TEST_F(BlockingCallFromThread, givesUpWhenTheDeferredIsDestroyedWithoutFiring) {
  bool abandoned = false;
  std::thread caller;
  reactor.callWhenRunning([&] {
    caller = std::thread([&] {
      try {
        blockingCallFromThread(reactor, [] { return Deferred<int>(); });  // nobody fires it
      } catch (const BlockingCallAbandoned&) {
        abandoned = true;
      }
      reactor.callFromThread([&] { reactor.stop(); });
    });
  });
  runWithLimit();
  caller.join();
  EXPECT_TRUE(abandoned);
}

// Anywhere on the thread that runs the reactor (here a timer), a call is refused.
TEST_F(BlockingCallFromThread, refusedInATimerOnTheReactorThread) {
  bool refused = false;
  reactor.callLater(0s, [&] {
    EXPECT_TRUE(reactor.isInReactorThread());
    try {
      blockingCallFromThread(reactor, [] { return 1; });
    } catch (const std::logic_error&) {
      refused = true;
    }
    reactor.stop();
  });
  runWithLimit();
  EXPECT_TRUE(refused);
  std::thread other([&] { EXPECT_FALSE(reactor.isInReactorThread()); });
  other.join();
}

// Where it can tell (inside reactor work done for threads), a call on the reactor's own
// thread is refused instead of waiting forever.
TEST_F(BlockingCallFromThread, refusedOnTheReactorThreadInsideThreadCallbacks) {
  int refused = 0;
  std::thread caller;
  reactor.callWhenRunning([&] {
    deferToThread(reactor, [] {}).addCallback([&] {
      try {
        blockingCallFromThread(reactor, [] { return 1; });
      } catch (const std::logic_error&) {
        ++refused;
      }
      caller = std::thread([&] {
        blockingCallFromThread(reactor, [&] {
          try {
            blockingCallFromThread(reactor, [] { return 1; });
          } catch (const std::logic_error&) {
            ++refused;
          }
        });
        reactor.callFromThread([&] { reactor.stop(); });
      });
    });
  });
  runWithLimit();
  caller.join();
  EXPECT_EQ(refused, 2);
}

// The shutdown hazard: the reactor stops its pool in "during shutdown" and waits for its
// threads, while a pool thread waits in blockingCallFromThread for the reactor. Twisted
// deadlocks here; torsion gives the pool thread's call up, and shutdown completes.
TEST_F(BlockingCallFromThread, shutdownGivesUpPoolThreadsWaitingOnTheReactor) {
  Deferred<int> never;  // kept alive and never fired: the call can only be given up
  std::optional<std::string> givenUp;
  std::atomic<bool> workFinished{false};
  reactor.callWhenRunning([&] {
    deferToThread(reactor, [&] {
      try {
        blockingCallFromThread(reactor, [&] {
          reactor.stop();  // shutdown begins while this pool thread waits
          return never;
        });
      } catch (const BlockingCallAbandoned& e) {
        givenUp = e.what();
      }
      // New calls from this thread while the pool stops fail at once, too.
      try {
        blockingCallFromThread(reactor, [] { return 1; });
        ADD_FAILURE() << "a call during the pool's stop was answered";
      } catch (const BlockingCallAbandoned&) {
      }
      workFinished = true;
    });
  });
  runWithLimit();  // returns: no deadlock
  EXPECT_TRUE(workFinished.load());
  ASSERT_TRUE(givenUp.has_value());
  EXPECT_NE(givenUp->find("stopped its thread pool"), std::string::npos) << *givenUp;
  EXPECT_FALSE(reactor.getThreadPool().started());
}

// ---- the reactor's pool ----------------------------------------------------------------------

TEST_F(ReactorThreadPool, threadPoolStartsWithReactorAndStopsAtShutdown) {
  ThreadPool& pool = reactor.getThreadPool();
  EXPECT_EQ(&reactor.getThreadPool(), &pool);  // made once
  EXPECT_FALSE(pool.started());
  EXPECT_EQ(pool.minThreads(), 0u);
  EXPECT_EQ(pool.maxThreads(), 10u);
  bool startedWhenRunning = false;
  bool startedDuringShutdownBefore = false;
  bool stoppedAfterShutdown = false;
  reactor.callWhenRunning([&] {
    startedWhenRunning = pool.started();
    reactor.stop();
  });
  reactor.addSystemEventTrigger(Reactor::Phase::before, "shutdown",
                                [&] { startedDuringShutdownBefore = pool.started(); });
  reactor.addSystemEventTrigger(Reactor::Phase::after, "shutdown",
                                [&] { stoppedAfterShutdown = !pool.started(); });
  runWithLimit();
  EXPECT_TRUE(startedWhenRunning);
  EXPECT_TRUE(startedDuringShutdownBefore);
  EXPECT_TRUE(stoppedAfterShutdown);
  EXPECT_FALSE(pool.started());
  EXPECT_EQ(pool.workers(), 0u);
}

TEST_F(ReactorThreadPool, madeWhileRunningStartsAtOnce) {
  bool started = false;
  reactor.callWhenRunning([&] {
    started = reactor.getThreadPool().started();
    reactor.stop();
  });
  runWithLimit();
  EXPECT_TRUE(started);
  EXPECT_FALSE(reactor.getThreadPool().started());
}

TEST_F(ReactorThreadPool, shutdownDrainsQueuedWork) {
  std::atomic<int> ran{0};
  reactor.callWhenRunning([&] {
    for (int i = 0; i < 20; ++i) reactor.callInThread([&] { ++ran; });
    reactor.stop();
  });
  runWithLimit();
  EXPECT_EQ(ran.load(), 20);
}

TEST_F(ReactorThreadPool, callInThreadRunsOnTheReactorsPool) {
  const ThreadPool* ranIn = nullptr;
  reactor.callWhenRunning([&] {
    reactor.callInThread([&] {
      ranIn = ThreadPool::current();
      reactor.callFromThread([&] { reactor.stop(); });
    });
  });
  runWithLimit();
  EXPECT_EQ(ranIn, &reactor.getThreadPool());
}

TEST_F(ReactorThreadPool, exceptionInCallInThreadIsLogged) {
  reactor.callWhenRunning([&] {
    reactor.callInThread([] { throw Boom(); });
    reactor.callInThread([&] { reactor.callFromThread([&] { reactor.stop(); }); });
  });
  runWithLimit();
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

}  // namespace
