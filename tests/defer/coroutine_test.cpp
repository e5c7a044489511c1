// Coroutines returning Deferred<T> (reference items 15, 24, 25).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/testing/log_capture.hpp"

using torsion::CancelledError;
using torsion::Deferred;
using torsion::Failure;

using torsion::test::Boom;

namespace {

Deferred<int> addBoth(Deferred<int> a, Deferred<int> b) {
  int x = co_await std::move(a);
  int y = co_await std::move(b);
  co_return x + y;
}

TEST(Coroutine, awaitsDeferredsAndCoReturnFiresItsDeferred) {
  Deferred<int> a;
  Deferred<int> b;
  Deferred<int> sum = addBoth(a, b);
  EXPECT_FALSE(sum.called());
  a.callback(2);
  EXPECT_FALSE(sum.called());
  b.callback(3);
  int got = 0;
  sum.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 5);
}

TEST(Coroutine, startsEagerlyLikeEnsureDeferred) {
  std::vector<std::string> trace;
  auto co = [&]() -> Deferred<void> {
    trace.push_back("body");
    co_return;
  };
  Deferred<void> d = co();
  trace.push_back("after call");
  EXPECT_EQ(trace, (std::vector<std::string>{"body", "after call"}));
  EXPECT_TRUE(d.called());
}

TEST(Coroutine, escapingExceptionErrbacksItsDeferred) {
  auto co = []() -> Deferred<int> {
    co_await torsion::succeed();
    throw Boom();
  };
  bool failed = false;
  co().addErrback([&](Failure f) {
    failed = f.check<Boom>();
    return 0;
  });
  EXPECT_TRUE(failed);
}

TEST(Coroutine, awaitedFailureIsThrownAtCoAwait) {
  Deferred<int> source;
  auto co = [](Deferred<int> d) -> Deferred<std::string> {
    try {
      co_await std::move(d);
    } catch (const Boom& e) {
      co_return std::string("caught ") + e.what();
    }
    co_return std::string("no error");
  };
  Deferred<std::string> out = co(source);
  source.errback(Boom());
  std::string got;
  out.addCallback([&](std::string s) { got = s; });
  EXPECT_EQ(got, "caught boom");
}

TEST(Coroutine, awaitingFiredDeferredDoesNotSuspend) {
  bool suspendedAnywhere = false;
  auto co = [&]() -> Deferred<int> {
    int v = co_await torsion::succeed(7);
    co_return v;
  };
  Deferred<int> d = co();
  suspendedAnywhere = !d.called();
  EXPECT_FALSE(suspendedAnywhere);
}

TEST(Coroutine, millionReadyAwaitsDoNotGrowTheStack) {
  auto co = []() -> Deferred<long> {
    long total = 0;
    for (int i = 0; i < 1'000'000; ++i) total += co_await torsion::succeed(1L);
    co_return total;
  };
  long got = 0;
  co().addCallback([&](long v) { got = v; });
  EXPECT_EQ(got, 1'000'000);
}

TEST(Coroutine, manyUnfiredAwaitsFiredFromOutside) {
  std::vector<Deferred<int>> pending;
  auto co = [&]() -> Deferred<int> {
    int total = 0;
    for (int i = 0; i < 1000; ++i) {
      Deferred<int> d;
      pending.push_back(d);
      total += co_await std::move(d);
    }
    co_return total;
  };
  Deferred<int> out = co();
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i].callback(1);
  int got = 0;
  out.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 1000);
}

TEST(Coroutine, awaitsAPausedChainUntilItResumes) {
  Deferred<int> outer;
  Deferred<int> inner;
  Deferred<int> chained = outer.addCallback([&](int) { return inner; });
  outer.callback(0);
  auto co = [](Deferred<int> d) -> Deferred<int> { co_return co_await std::move(d) + 1; };
  Deferred<int> r = co(chained);
  EXPECT_FALSE(r.called());
  inner.callback(41);
  int got = 0;
  r.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 42);
}

// Item 15: cancelling the coroutine's Deferred cancels what it awaits; the CancelledError
// surfaces at the co_await, where the coroutine may catch it and go on.
TEST(Coroutine, cancelCancelsAwaitedDeferredAndCoroutineMayRecover) {
  bool awaitedCancelled = false;
  Deferred<int> awaited([&](Deferred<int>&) { awaitedCancelled = true; });
  auto co = [](Deferred<int> d) -> Deferred<std::string> {
    try {
      co_await std::move(d);
    } catch (const CancelledError&) {
      co_return std::string("recovered");
    }
    co_return std::string("not cancelled");
  };
  Deferred<std::string> out = co(awaited);
  out.cancel();
  EXPECT_TRUE(awaitedCancelled);
  std::string got;
  out.addCallback([&](std::string s) { got = s; });
  EXPECT_EQ(got, "recovered");
}

TEST(Coroutine, uncaughtCancellationErrbacksTheCoroutineDeferred) {
  Deferred<int> awaited;
  auto co = [](Deferred<int> d) -> Deferred<int> { co_return co_await std::move(d); };
  Deferred<int> out = co(awaited);
  out.cancel();
  bool cancelled = false;
  out.addErrback([&](Failure f) {
    cancelled = f.check<CancelledError>();
    return 0;
  });
  EXPECT_TRUE(cancelled);
  EXPECT_NO_THROW(awaited.callback(1));  // the late result of a cancelled Deferred: dropped
}

TEST(Coroutine, cancelWhileRunningCancelsTheNextAwait) {
  Deferred<int> self;
  Deferred<void> gate;
  Deferred<int> later;
  bool caught = false;
  auto co = [&]() -> Deferred<int> {
    co_await Deferred<void>(gate);
    self.cancel();  // cancels our own Deferred while we run
    try {
      co_await Deferred<int>(later);
    } catch (const CancelledError&) {
      caught = true;
    }
    co_return 1;
  };
  self = co();
  gate.callback();
  EXPECT_TRUE(caught);
  EXPECT_TRUE(self.called());
}

TEST(Coroutine, cancelAfterCompletionDoesNothing) {
  auto co = []() -> Deferred<int> { co_return 3; };
  Deferred<int> d = co();
  d.cancel();
  int got = 0;
  d.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 3);
}

TEST(Coroutine, nestedCoroutinesAwaitEachOther) {
  Deferred<int> leaf;
  auto inner = [](Deferred<int> d) -> Deferred<int> { co_return co_await std::move(d) * 2; };
  auto outer = [&](Deferred<int> d) -> Deferred<int> {
    co_return co_await inner(std::move(d)) + 1;
  };
  Deferred<int> out = outer(leaf);
  leaf.callback(20);
  int got = 0;
  out.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 41);
}

TEST(Coroutine, cancellationPropagatesThroughNestedCoroutines) {
  bool leafCancelled = false;
  Deferred<int> leaf([&](Deferred<int>&) { leafCancelled = true; });
  auto inner = [](Deferred<int> d) -> Deferred<int> { co_return co_await std::move(d); };
  auto outer = [&](Deferred<int> d) -> Deferred<int> { co_return co_await inner(std::move(d)); };
  Deferred<int> out = outer(leaf);
  out.cancel();
  EXPECT_TRUE(leafCancelled);
  bool cancelled = false;
  out.addErrback([&](Failure f) {
    cancelled = f.check<CancelledError>();
    return 0;
  });
  EXPECT_TRUE(cancelled);
}

TEST(Coroutine, abandonedAwaitedDeferredFreesTheCoroutine) {
  auto marker = std::make_shared<int>(0);
  std::weak_ptr<int> watch = marker;
  Deferred<void> out;
  {
    Deferred<int> producer;
    auto co = [](Deferred<int> d, std::shared_ptr<int> keep) -> Deferred<void> {
      co_await std::move(d);
      ++*keep;
    };
    out = co(producer, std::move(marker));
    EXPECT_FALSE(watch.expired());
  }                              // the producer drops its only handle: the Deferred can never fire
  EXPECT_TRUE(watch.expired());  // the coroutine frame (and its locals) were destroyed
  EXPECT_FALSE(out.called());
}

TEST(Coroutine, awaitingTakesTheResult) {
  Deferred<int> d = torsion::succeed(1);
  auto co = [](Deferred<int>& d) -> Deferred<int> { co_return co_await d; };
  co(d);
  EXPECT_THROW(d.addCallback([](int v) { return v; }), std::logic_error);
}

TEST(Coroutine, unhandledFailureOfAFireAndForgetCoroutineIsLogged) {
  auto co = []() -> Deferred<void> {
    co_await torsion::succeed();
    throw Boom();
  };
  co();  // nobody keeps the Deferred
  EXPECT_EQ(torsion::testing::flushLoggedErrors<Boom>().size(), 1u);
}

TEST(Coroutine, moveOnlyResults) {
  auto co = []() -> Deferred<std::unique_ptr<int>> {
    auto p = co_await torsion::succeed(std::make_unique<int>(5));
    *p += 1;
    co_return p;
  };
  int got = 0;
  co().addCallback([&](std::unique_ptr<int> p) { got = *p; });
  EXPECT_EQ(got, 6);
}

}  // namespace

namespace {

TEST(Coroutine, awaitingADeferredNobodyElseHoldsFreesTheCoroutineAtOnce) {
  auto marker = std::make_shared<int>(0);
  std::weak_ptr<int> watch = marker;
  auto co = [](std::shared_ptr<int> keep) -> Deferred<void> {
    co_await Deferred<int>();  // a temporary: nothing can ever fire it
    ++*keep;
  };
  Deferred<void> out = co(std::move(marker));
  EXPECT_TRUE(watch.expired());
  EXPECT_FALSE(out.called());
}

TEST(Coroutine, foreignCoroutineTypesCanAwaitADeferred) {
  // A minimal eager coroutine type of "another library".
  struct Task {
    struct promise_type {
      Task get_return_object() { return {}; }
      std::suspend_never initial_suspend() noexcept { return {}; }
      std::suspend_never final_suspend() noexcept { return {}; }
      void return_void() {}
      void unhandled_exception() { std::terminate(); }
    };
  };
  Deferred<int> d;
  int got = 0;
  auto co = [&](Deferred<int> in) -> Task { got = co_await std::move(in); };
  co(d);
  d.callback(8);
  EXPECT_EQ(got, 8);
}

}  // namespace
