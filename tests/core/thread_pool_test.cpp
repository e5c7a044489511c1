// ThreadPool: threads on demand between min and max, stop() drains then joins, failures are
// logged, work items live and die on the thread that runs them.
//
// No sleeps: threads meet at Events and Counters; every wait has a generous limit and fails
// the test (instead of hanging) if the limit is reached.
#include "torsion/core/thread_pool.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/testing/log_capture.hpp"

using namespace std::chrono_literals;
using torsion::ThreadPool;
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;

namespace {

constexpr auto kLimit = 10s;

// A count that threads raise and a test waits on.
class Counter {
 public:
  void add(int n = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    count_ += n;
    changed_.notify_all();
  }
  // True once the count reaches n; false if kLimit passed first.
  bool waitFor(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, kLimit, [&] { return count_ >= n; });
  }
  int value() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

// A one-shot event: open() once, any number of waiters.
class Event {
 public:
  void open() { counter_.add(); }
  bool waitFor() { return counter_.waitFor(1); }

 private:
  Counter counter_;
};

// Spins (yielding) until pred holds, for state that has no event to wait on; false after
// kLimit.
template <class P>
bool eventually(P pred) {
  const auto deadline = std::chrono::steady_clock::now() + kLimit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::string currentThreadName() {
  char name[16] = {};
  ::pthread_getname_np(::pthread_self(), name, sizeof name);
  return name;
}

// Records the thread that destroys it.
struct DestroyedOn {
  explicit DestroyedOn(std::thread::id* where) : where(where) {}
  DestroyedOn(DestroyedOn&& other) noexcept : where(std::exchange(other.where, nullptr)) {}
  ~DestroyedOn() {
    if (where != nullptr) *where = std::this_thread::get_id();
  }
  std::thread::id* where;
};

TEST(ThreadPool, runsQueuedWork) {
  ThreadPool pool(0, 4);
  pool.start();
  std::atomic<int> sum{0};
  Counter done;
  for (int i = 1; i <= 100; ++i) {
    pool.callInThread([&, i] {
      sum += i;
      done.add();
    });
  }
  ASSERT_TRUE(done.waitFor(100));
  pool.stop();
  EXPECT_EQ(sum.load(), 5050);
  EXPECT_EQ(pool.workers(), 0u);
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(ThreadPool, runsWorkOffTheCallingThread) {
  ThreadPool pool;
  pool.start();
  std::thread::id ranOn;
  const ThreadPool* current = &pool;
  Event done;
  pool.callInThread([&] {
    ranOn = std::this_thread::get_id();
    current = ThreadPool::current();
    done.open();
  });
  ASSERT_TRUE(done.waitFor());
  pool.stop();
  EXPECT_NE(ranOn, std::this_thread::get_id());
  EXPECT_EQ(current, &pool);
  EXPECT_EQ(ThreadPool::current(), nullptr);
}

TEST(ThreadPool, growsUpToMaxThreads) {
  ThreadPool pool(0, 3);
  pool.start();
  EXPECT_EQ(pool.workers(), 0u);  // min 0: no thread until there is work
  Event release;
  Counter started;
  Counter finished;
  for (int i = 0; i < 5; ++i) {
    pool.callInThread([&] {
      started.add();
      EXPECT_TRUE(release.waitFor());
      finished.add();
    });
  }
  // Threads are started by callInThread itself: the count is known at once.
  EXPECT_EQ(pool.workers(), 3u);
  ASSERT_TRUE(started.waitFor(3));
  EXPECT_EQ(started.value(), 3);  // three threads, each holding one item
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.idle(), 0u);
  release.open();
  ASSERT_TRUE(finished.waitFor(5));
  EXPECT_EQ(pool.workers(), 3u);  // threads do not time out
  pool.stop();
  EXPECT_EQ(pool.workers(), 0u);
}

TEST(ThreadPool, idleThreadTakesWorkInsteadOfANewThread) {
  ThreadPool pool(0, 4);
  pool.start();
  Event first;
  pool.callInThread([&] { first.open(); });
  ASSERT_TRUE(first.waitFor());
  ASSERT_TRUE(eventually([&] { return pool.idle() == 1; }));
  Event second;
  pool.callInThread([&] { second.open(); });
  EXPECT_EQ(pool.workers(), 1u);
  ASSERT_TRUE(second.waitFor());
  pool.stop();
}

TEST(ThreadPool, startsMinThreadsAtStart) {
  ThreadPool pool(2, 4);
  EXPECT_EQ(pool.workers(), 0u);
  pool.start();
  EXPECT_TRUE(pool.started());
  EXPECT_EQ(pool.workers(), 2u);
  pool.start();  // again: nothing changes
  EXPECT_EQ(pool.workers(), 2u);
  pool.stop();
  EXPECT_FALSE(pool.started());
  EXPECT_EQ(pool.workers(), 0u);
}

TEST(ThreadPool, stopDrainsQueuedWorkThenJoins) {
  ThreadPool pool(0, 1);
  Event blockerRunning;
  Event release;
  std::vector<int> order;  // written by the one pool thread, read after stop() joined it
  pool.callInThread([&] {
    blockerRunning.open();
    EXPECT_TRUE(release.waitFor());
    order.push_back(0);
  });
  for (int i = 1; i <= 10; ++i) pool.callInThread([&order, i] { order.push_back(i); });
  pool.start();
  ASSERT_TRUE(blockerRunning.waitFor());
  EXPECT_EQ(pool.queued(), 10u);

  // stop() on another thread: it must wait for the blocked item and the ten behind it.
  std::thread stopper([&] { pool.stop(); });
  ASSERT_TRUE(eventually([&] { return !pool.started(); }));  // stop() has begun
  EXPECT_EQ(pool.workers(), 1u);
  release.open();
  stopper.join();

  std::vector<int> expected;
  for (int i = 0; i <= 10; ++i) expected.push_back(i);
  EXPECT_EQ(order, expected);
  EXPECT_EQ(pool.workers(), 0u);
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(ThreadPool, workQueuedWhileStoppingWaitsForNextStart) {
  ThreadPool pool(0, 2);
  Event blockerRunning;
  Event release;
  std::atomic<bool> lateRan{false};
  pool.start();
  pool.callInThread([&] {
    blockerRunning.open();
    EXPECT_TRUE(release.waitFor());
    // Queued after stop() began: not part of what stop() drains.
    pool.callInThread([&] { lateRan = true; });
  });
  ASSERT_TRUE(blockerRunning.waitFor());
  std::thread stopper([&] { pool.stop(); });
  ASSERT_TRUE(eventually([&] { return !pool.started(); }));
  release.open();
  stopper.join();
  EXPECT_FALSE(lateRan.load());
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_EQ(pool.workers(), 0u);

  pool.start();
  pool.stop();  // drains it
  EXPECT_TRUE(lateRan.load());
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(ThreadPool, exceptionInWorkIsLoggedAndThreadGoesOn) {
  ThreadPool pool(0, 1);
  pool.start();
  std::thread::id first;
  std::thread::id second;
  Event done;
  pool.callInThread([&] {
    first = std::this_thread::get_id();
    throw Boom();
  });
  pool.callInThread([&] {
    second = std::this_thread::get_id();
    done.open();
  });
  ASSERT_TRUE(done.waitFor());
  pool.stop();
  EXPECT_EQ(first, second);  // the same (only) thread went on
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(ThreadPool, workQueuedBeforeStartRunsAfterStart) {
  ThreadPool pool(0, 2);
  std::atomic<int> ran{0};
  Counter done;
  for (int i = 0; i < 3; ++i) {
    pool.callInThread([&] {
      ++ran;
      done.add();
    });
  }
  EXPECT_EQ(pool.queued(), 3u);
  EXPECT_EQ(pool.workers(), 0u);
  EXPECT_EQ(ran.load(), 0);
  pool.start();
  EXPECT_GE(pool.workers(), 1u);
  EXPECT_LE(pool.workers(), 2u);
  ASSERT_TRUE(done.waitFor(3));
  pool.stop();
  EXPECT_EQ(ran.load(), 3);
}

TEST(ThreadPool, stopWithoutStartDoesNothing) {
  ThreadPool pool;
  bool ran = false;
  pool.callInThread([&] { ran = true; });
  pool.stop();
  EXPECT_FALSE(ran);
  EXPECT_EQ(pool.queued(), 1u);
}

TEST(ThreadPool, rejectsBadBounds) {
  EXPECT_THROW(ThreadPool(2, 1), std::invalid_argument);
  EXPECT_THROW(ThreadPool(0, 0), std::invalid_argument);
  ThreadPool pool(1, 2);
  EXPECT_THROW(pool.adjustPoolsize(3, 2), std::invalid_argument);
  EXPECT_THROW(pool.adjustPoolsize(0, 0), std::invalid_argument);
  EXPECT_EQ(pool.minThreads(), 1u);
  EXPECT_EQ(pool.maxThreads(), 2u);
}

TEST(ThreadPool, adjustPoolsizeStartsThreadsUpToNewMinimum) {
  ThreadPool pool(0, 4);
  pool.start();
  EXPECT_EQ(pool.workers(), 0u);
  pool.adjustPoolsize(3, 4);
  EXPECT_EQ(pool.minThreads(), 3u);
  EXPECT_EQ(pool.workers(), 3u);
  pool.stop();
}

TEST(ThreadPool, adjustPoolsizeBeforeStartOnlyChangesBounds) {
  ThreadPool pool(0, 4);
  pool.adjustPoolsize(2, 3);
  EXPECT_EQ(pool.workers(), 0u);
  pool.start();
  EXPECT_EQ(pool.workers(), 2u);
  EXPECT_EQ(pool.maxThreads(), 3u);
  pool.stop();
}

TEST(ThreadPool, adjustPoolsizeStartsThreadsForQueuedWork) {
  ThreadPool pool(0, 1);
  pool.start();
  Event blockerRunning;
  Event release;
  Event secondRan;
  pool.callInThread([&] {
    blockerRunning.open();
    EXPECT_TRUE(release.waitFor());
  });
  ASSERT_TRUE(blockerRunning.waitFor());
  pool.callInThread([&] { secondRan.open(); });
  EXPECT_EQ(pool.workers(), 1u);  // at max: the item waits
  EXPECT_EQ(pool.queued(), 1u);
  pool.adjustPoolsize(0, 2);
  EXPECT_EQ(pool.workers(), 2u);
  EXPECT_TRUE(secondRan.waitFor());  // while the first thread is still blocked
  release.open();
  pool.stop();
}

TEST(ThreadPool, adjustPoolsizeLetsIdleThreadsBeyondMaxExit) {
  ThreadPool pool(4, 4);
  pool.start();
  EXPECT_EQ(pool.workers(), 4u);
  pool.adjustPoolsize(0, 1);
  ASSERT_TRUE(eventually([&] { return pool.workers() == 1u; }));
  // The pool still works with its one thread, and exited threads are joined.
  Counter done;
  for (int i = 0; i < 5; ++i) pool.callInThread([&] { done.add(); });
  ASSERT_TRUE(done.waitFor(5));
  EXPECT_EQ(pool.workers(), 1u);
  pool.adjustPoolsize(0, 1);  // joins the threads that exited
  pool.stop();
  EXPECT_EQ(pool.workers(), 0u);
}

TEST(ThreadPool, adjustPoolsizeLetsBusyThreadsBeyondMaxFinishTheirItem) {
  ThreadPool pool(0, 2);
  pool.start();
  Counter running;
  Event release;
  Counter done;
  for (int i = 0; i < 2; ++i) {
    pool.callInThread([&] {
      running.add();
      EXPECT_TRUE(release.waitFor());
      done.add();
    });
  }
  ASSERT_TRUE(running.waitFor(2));
  pool.adjustPoolsize(0, 1);
  EXPECT_EQ(pool.workers(), 2u);  // both busy: nobody exits mid-item
  release.open();
  ASSERT_TRUE(done.waitFor(2));
  ASSERT_TRUE(eventually([&] { return pool.workers() == 1u; }));
  pool.stop();
}

TEST(ThreadPool, namesItsThreads) {
  ThreadPool pool(0, 1, "resolver");
  pool.start();
  std::string name;
  Event done;
  pool.callInThread([&] {
    name = currentThreadName();
    done.open();
  });
  ASSERT_TRUE(done.waitFor());
  pool.stop();
  EXPECT_EQ(name, "resolver-1");
}

TEST(ThreadPool, cutsLongNamesToFifteenCharactersKeepingTheNumber) {
  ThreadPool pool(0, 1, "a-very-long-pool-name");
  pool.start();
  std::string name;
  Event done;
  pool.callInThread([&] {
    name = currentThreadName();
    done.open();
  });
  ASSERT_TRUE(done.waitFor());
  pool.stop();
  EXPECT_EQ(name, "a-very-long-p-1");
}

TEST(ThreadPool, workItemIsDestroyedOnTheThreadThatRanItAfterRunning) {
  ThreadPool pool(0, 1);
  pool.start();
  std::thread::id ranOn;
  std::thread::id destroyedOn;
  bool destroyedBeforeRunning = true;
  Event done;
  pool.callInThread([&, guard = DestroyedOn(&destroyedOn)] {
    ranOn = std::this_thread::get_id();
    destroyedBeforeRunning = destroyedOn != std::thread::id();
  });
  pool.callInThread([&] { done.open(); });  // runs after the first item is destroyed
  ASSERT_TRUE(done.waitFor());
  pool.stop();
  EXPECT_FALSE(destroyedBeforeRunning);
  EXPECT_EQ(destroyedOn, ranOn);
  EXPECT_NE(destroyedOn, std::this_thread::get_id());
}

TEST(ThreadPool, workNeverRunIsDestroyedByTheDestructorOnItsThread) {
  std::thread::id destroyedOn;
  bool ran = false;
  {
    ThreadPool pool;
    pool.callInThread([&, guard = DestroyedOn(&destroyedOn)] { ran = true; });
  }
  EXPECT_FALSE(ran);
  EXPECT_EQ(destroyedOn, std::this_thread::get_id());
}

TEST(ThreadPool, destructorStopsAStartedPool) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(0, 2);
    pool.start();
    for (int i = 0; i < 20; ++i) pool.callInThread([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 20);  // drained before the threads were joined
}

TEST(ThreadPool, stopOrStartFromAPoolThreadThrows) {
  ThreadPool pool(0, 1);
  pool.start();
  int refused = 0;
  Event done;
  pool.callInThread([&] {
    try {
      pool.stop();
    } catch (const std::logic_error&) {
      ++refused;
    }
    try {
      pool.start();
    } catch (const std::logic_error&) {
      ++refused;
    }
    done.open();
  });
  ASSERT_TRUE(done.waitFor());
  pool.stop();
  EXPECT_EQ(refused, 2);
}

TEST(ThreadPool, workMayQueueMoreWork) {
  ThreadPool pool(0, 2);
  pool.start();
  Counter done;
  std::function<void(int)> chain = [&](int left) {
    done.add();
    if (left > 0) pool.callInThread([&chain, left] { chain(left - 1); });
  };
  pool.callInThread([&] { chain(49); });
  ASSERT_TRUE(done.waitFor(50));
  pool.stop();
  EXPECT_EQ(done.value(), 50);
}

TEST(ThreadPool, restartsAfterStop) {
  ThreadPool pool(1, 2);
  for (int round = 0; round < 3; ++round) {
    pool.start();
    Event done;
    pool.callInThread([&] { done.open(); });
    ASSERT_TRUE(done.waitFor());
    pool.stop();
    EXPECT_EQ(pool.workers(), 0u);
  }
}

TEST(ThreadPool, manyProducersManyThreads) {
  ThreadPool pool(0, 4);
  pool.start();
  Counter done;
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < 250; ++i) pool.callInThread([&] { done.add(); });
    });
  }
  for (std::thread& t : producers) t.join();
  ASSERT_TRUE(done.waitFor(1000));
  pool.stop();
  EXPECT_EQ(done.value(), 1000);
}

}  // namespace
