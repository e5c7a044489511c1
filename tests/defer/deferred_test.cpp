// Deferred<T>: one named test per item of section 2 of the Twisted reference (items 1-23),
// plus the typing rules of the C++ port.
#include "torsion/defer/deferred.hpp"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/testing/log_capture.hpp"

using torsion::AlreadyCalledError;
using torsion::CancelledError;
using torsion::Deferred;
using torsion::Failure;
using torsion::Result;
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;

namespace {

struct Other : std::runtime_error {
  Other() : std::runtime_error("other") {}
};

// Item 1: a Deferred fires once; a second fire raises AlreadyCalledError.
TEST(Deferred, firesOnceAndSecondCallbackRaisesAlreadyCalled) {
  Deferred<int> d;
  int seen = 0;
  d.addCallback([&](int v) { seen = v; });
  d.callback(1);
  EXPECT_EQ(seen, 1);
  EXPECT_THROW(d.callback(2), AlreadyCalledError);
  EXPECT_THROW(d.errback(Boom()), AlreadyCalledError);
  EXPECT_EQ(seen, 1);
}

// Item 2: callback(Failure) is errback; errback() wraps the exception being handled.
TEST(Deferred, callbackWithFailureIsErrback) {
  Deferred<int> d;
  std::string msg;
  d.addErrback([&](Failure f) {
    msg = f.getErrorMessage();
    return 0;
  });
  d.callback(Failure(Boom()));
  EXPECT_EQ(msg, "boom");
}

TEST(Deferred, errbackWithoutArgumentWrapsCurrentException) {
  Deferred<int> d;
  bool trapped = false;
  d.addErrback([&](Failure f) {
    trapped = f.check<Boom>();
    return 0;
  });
  try {
    throw Boom();
  } catch (...) {
    d.errback();
  }
  EXPECT_TRUE(trapped);
}

// Item 3: callback() takes a value, never a Deferred. That is a compile-time error in C++
// (see callback(const Deferred<U>&) in deferred.hpp); here we check the types that do work.
TEST(Deferred, callbackTakesValueOfHeadType) {
  Deferred<std::string> d;
  std::string got;
  d.addCallback([&](std::string s) { got = s; });
  d.callback("text");
  EXPECT_EQ(got, "text");
}

// Item 4: each step gets the previous result; exceptions switch to errbacks and a
// recovering errback switches back.
TEST(Deferred, chainPassesResultsAndSwitchesBetweenPaths) {
  Deferred<int> d;
  std::vector<std::string> trace;
  d.addCallback([&](int v) {
     trace.push_back("cb1:" + std::to_string(v));
     return v + 1;
   })
      .addCallback([&](int v) -> int {
        trace.push_back("cb2:" + std::to_string(v));
        throw Boom();
      })
      .addCallback([&](int v) {
        trace.push_back("skipped");
        return v;
      })
      .addErrback([&](Failure f) {
        trace.push_back("eb:" + f.getErrorMessage());
        return 10;
      })
      .addCallback([&](int v) { trace.push_back("cb3:" + std::to_string(v)); });
  d.callback(1);
  EXPECT_EQ(trace, (std::vector<std::string>{"cb1:1", "cb2:2", "eb:boom", "cb3:10"}));
}

TEST(Deferred, callbackChangesTypeAndReturnsTypedHandle) {
  Deferred<int> d;
  Deferred<std::string> s = d.addCallback([](int v) { return std::to_string(v * 2); });
  Deferred<std::size_t> n = s.addCallback([](std::string v) { return v.size(); });
  d.callback(21);
  std::size_t got = 0;
  n.addCallback([&](std::size_t v) { got = v; });
  EXPECT_EQ(got, 2u);
}

TEST(Deferred, errbackReturningFailureKeepsFailing) {
  Deferred<int> d;
  std::vector<std::string> trace;
  d.addErrback([&](Failure f) {
     trace.push_back("eb1");
     return f;
   }).addErrback([&](Failure f) {
    trace.push_back("eb2:" + f.getErrorMessage());
    return 0;
  });
  d.errback(Boom());
  EXPECT_EQ(trace, (std::vector<std::string>{"eb1", "eb2:boom"}));
}

TEST(Deferred, trapRethrowsUnexpectedErrorsKeepingTheirOrigin) {
  Deferred<int> d;
  Failure original(Other(), torsion::SourceLocation::current());
  std::string seenOrigin;
  bool firstRan = false;
  d.addErrback([&](Failure f) {
     firstRan = true;
     f.trap<Boom>();
     return 1;
   }).addErrback([&](Failure f) {
    EXPECT_TRUE(f.check<Other>());
    seenOrigin = f.origin().file_name();
    return 2;
  });
  d.errback(original);
  EXPECT_TRUE(firstRan);
  EXPECT_EQ(seenOrigin, original.origin().file_name());
}

TEST(Deferred, resultReturnDecidesPathAtRunTime) {
  Deferred<int> d;
  std::string got;
  d.addCallback([](int v) -> Result<int> {
     if (v < 0) return Failure(Boom());
     return v;
   })
      .addCallbacks([&](int v) { got = "value " + std::to_string(v); },
                    [&](Failure f) { got = "failure " + f.getErrorMessage(); });
  d.callback(-1);
  EXPECT_EQ(got, "failure boom");
}

TEST(Deferred, addCallbacksRunsExactlyOneOfThePair) {
  Deferred<int> d;
  std::vector<std::string> trace;
  d.addCallbacks(
       [&](int) -> int {
         trace.push_back("cb");
         throw Boom();
       },
       [&](Failure) {
         trace.push_back("eb-same-step");
         return 0;
       })
      .addErrback([&](Failure) {
        trace.push_back("eb-next-step");
        return 0;
      });
  d.callback(1);
  EXPECT_EQ(trace, (std::vector<std::string>{"cb", "eb-next-step"}));
}

TEST(Deferred, addBothSeesValuesAndFailures) {
  std::vector<bool> oks;
  auto record = [&](Result<int> r) {
    oks.push_back(r.ok());
    return r;
  };
  Deferred<int> a;
  a.addBoth(record);
  a.callback(1);
  Deferred<int> b;
  b.addBoth(record).addErrback([](Failure) { return 0; });
  b.errback(Boom());
  EXPECT_EQ(oks, (std::vector<bool>{true, false}));
}

TEST(Deferred, voidDeferredCallbacksTakeNoArguments) {
  Deferred<void> d;
  int n = 0;
  d.addCallback([&] { ++n; }).addCallback([&] { return n * 10; }).addCallback([&](int v) {
    n = v;
  });
  d.callback();
  EXPECT_EQ(n, 10);
}

TEST(Deferred, errbackReturningVoidEndsChainAsVoid) {
  Deferred<int> d;
  bool logged = false;
  Deferred<void> end = d.addErrback([&](Failure) { logged = true; });
  d.errback(Boom());
  EXPECT_TRUE(logged);
  EXPECT_FALSE(end.failed());
}

TEST(Deferred, moveOnlyValuesFlowThroughTheChain) {
  Deferred<std::unique_ptr<int>> d;
  int got = 0;
  d.addCallback([](std::unique_ptr<int> p) {
     *p += 1;
     return p;
   }).addCallback([&](std::unique_ptr<int> p) { got = *p; });
  d.callback(std::make_unique<int>(41));
  EXPECT_EQ(got, 42);
}

TEST(Deferred, largeValuesAndCapturesAreStoredOutOfLine) {
  struct Big {
    char bytes[256];
  };
  Deferred<Big> d;
  std::string captured(200, 'x');
  char seen = 0;
  Big big{};
  big.bytes[255] = 'z';
  // A callable bigger than the inline limit (64 bytes) is boxed on the heap.
  d.addCallback([captured, pad = std::array<char, 128>{}](Big b) {
     return captured.size() + pad.size() > 0 ? b.bytes[255] : '?';
   }).addCallback([&](char c) { seen = c; });
  d.callback(big);
  EXPECT_EQ(seen, 'z');
}

TEST(Deferred, staleHandleIsRejectedWithLogicError) {
  Deferred<int> d;
  d.addCallback([](int v) { return std::to_string(v); });
  EXPECT_THROW(d.addCallback([](int v) { return v; }), std::logic_error);
}

TEST(Deferred, firingFromATypedTailHandleIsRejected) {
  Deferred<int> d;
  Deferred<std::string> s = d.addCallback([](int v) { return std::to_string(v); });
  EXPECT_THROW(s.callback("x"), std::logic_error);
  d.callback(1);
}

// Item 5: a callback added after firing runs at once.
TEST(Deferred, callbackAddedAfterFiringRunsImmediately) {
  Deferred<int> d;
  d.callback(3);
  int seen = 0;
  d.addCallback([&](int v) { seen = v; });
  EXPECT_EQ(seen, 3);
}

// Item 6: callbacks added while the chain runs are run by the same loop, not recursively.
TEST(Deferred, callbackAddedDuringRunIsPickedUpBySameLoop) {
  Deferred<int> d;
  std::vector<std::string> trace;
  int depth = 0;
  Deferred<int> tail = d;
  tail = d.addCallback([&](int v) {
    ++depth;
    tail.addCallback([&](int w) {
      trace.push_back("added-inside depth=" + std::to_string(depth));
      return w;
    });
    trace.push_back("first");
    --depth;
    return v;
  });
  d.callback(1);
  EXPECT_EQ(trace, (std::vector<std::string>{"first", "added-inside depth=0"}));
}

// Item 7: a callback returning an unfired Deferred pauses the chain until it fires.
TEST(Deferred, callbackReturningUnfiredDeferredPausesChain) {
  Deferred<int> outer;
  Deferred<std::string> inner;
  std::string got;
  outer.addCallback([&](int) { return inner; }).addCallback([&](std::string s) { got = s; });
  outer.callback(1);
  EXPECT_TRUE(outer.paused());
  EXPECT_EQ(got, "");
  inner.callback("inner result");
  EXPECT_EQ(got, "inner result");
  EXPECT_FALSE(outer.paused());
}

TEST(Deferred, callbackReturningFiredDeferredTakesItsResultAtOnce) {
  Deferred<int> outer;
  int got = 0;
  outer.addCallback([](int v) { return torsion::succeed(v * 2); }).addCallback([&](int v) {
    got = v;
  });
  outer.callback(4);
  EXPECT_EQ(got, 8);
  EXPECT_FALSE(outer.paused());
}

TEST(Deferred, innerFailureContinuesOnOuterErrbackPath) {
  Deferred<int> outer;
  Deferred<int> inner;
  std::string got;
  outer.addCallback([&](int) { return inner; }).addErrback([&](Failure f) {
    got = f.getErrorMessage();
    return 0;
  });
  outer.callback(1);
  inner.errback(Boom());
  EXPECT_EQ(got, "boom");
}

TEST(Deferred, innerResultIsStolenAndInnerCannotBeExtended) {
  Deferred<int> outer;
  Deferred<int> inner;
  outer.addCallback([&](int) { return inner; });
  outer.callback(1);
  inner.callback(2);
  EXPECT_THROW(inner.addCallback([](int v) { return v; }), std::logic_error);
}

TEST(Deferred, millionChainedDeferredsDoNotOverflowTheStack) {
  // Each link's callback returns the next, unfired, Deferred; firing the last one unwinds a
  // million continuations without recursion.
  constexpr int kLinks = 1'000'000;
  std::vector<Deferred<int>> links(kLinks);
  for (int i = 0; i + 1 < kLinks; ++i) {
    Deferred<int> next = links[i + 1];
    links[i].addCallback([next](int) { return next; });
  }
  for (int i = kLinks - 2; i >= 0; --i) links[i].callback(0);
  int got = 0;
  links[0].addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 0);
  EXPECT_TRUE(links[0].paused());
  links[kLinks - 1].callback(7);
  EXPECT_EQ(got, 7);
}

TEST(Deferred, millionCallbacksOnOneDeferredRunIteratively) {
  Deferred<int> d;
  Deferred<int> tail = d;
  for (int i = 0; i < 1'000'000; ++i) tail = tail.addCallback([](int v) { return v + 1; });
  d.callback(0);
  int got = 0;
  tail.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 1'000'000);
}

// The chain's storage: records span an inline buffer and linked overflow blocks; these
// exercise every transition between them.
TEST(Deferred, callbacksAddedWhileRunningCrossStorageBlocks) {
  Deferred<int> d;
  int ran = 0;
  Deferred<int> tail = d;
  std::function<int(int)> grow = [&](int v) {
    ++ran;
    if (ran < 2000) tail = tail.addCallback(grow);
    return v + 1;
  };
  tail = tail.addCallback(grow);
  d.callback(0);
  EXPECT_EQ(ran, 2000);
  int got = -1;
  tail.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 2000);
}

TEST(Deferred, unfiredChainSpanningBlocksIsDestroyedCleanly) {
  auto counter = std::make_shared<int>(0);
  {
    Deferred<int> d;
    Deferred<int> tail = d;
    for (int i = 0; i < 1000; ++i) {
      tail = tail.addCallback([counter, pad = std::array<char, 40>{}](int v) {
        return v + static_cast<int>(pad.size()) * 0;
      });
    }
    EXPECT_EQ(counter.use_count(), 1001);
  }
  EXPECT_EQ(counter.use_count(), 1);  // every stored callable was destroyed
}

TEST(Deferred, pausedMidChainThenExtendedAcrossBlocks) {
  Deferred<int> d;
  Deferred<int> inner;
  Deferred<int> tail = d;
  for (int i = 0; i < 300; ++i) tail = tail.addCallback([](int v) { return v + 1; });
  tail = tail.addCallback([&](int v) { return inner.addCallback([v](int w) { return v + w; }); });
  d.callback(0);
  EXPECT_TRUE(d.paused());
  for (int i = 0; i < 1000; ++i) tail = tail.addCallback([](int v) { return v + 1; });
  inner.callback(5);
  int got = 0;
  tail.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 1305);
}

// Item 8: returning the Deferred itself from its own callback is an error (a warning that
// "will raise in future" in Twisted 22.4).
TEST(Deferred, callbackReturningItsOwnDeferredFails) {
  Deferred<int> d;
  bool failed = false;
  d.addCallback([&](int) { return d; }).addErrback([&](Failure f) {
    failed = f.check<std::logic_error>();
    return 0;
  });
  d.callback(1);
  EXPECT_TRUE(failed);
}

// Item 9: chainDeferred fires another Deferred with this chain's result.
TEST(Deferred, chainDeferredFiresTheOtherDeferred) {
  Deferred<int> a;
  Deferred<int> b;
  int got = 0;
  b.addCallback([&](int v) { got = v; });
  a.chainDeferred(b);
  a.callback(9);
  EXPECT_EQ(got, 9);
}

// Item 10: pause/unpause nest as a counter; results wait until it returns to 0.
TEST(Deferred, pauseHoldsResultsUntilUnpausedAsCounter) {
  Deferred<int> d;
  int seen = 0;
  d.addCallback([&](int v) { seen = v; });
  d.pause();
  d.pause();
  d.callback(5);
  EXPECT_EQ(seen, 0);
  d.unpause();
  EXPECT_EQ(seen, 0);
  d.unpause();
  EXPECT_EQ(seen, 5);
  EXPECT_THROW(d.unpause(), std::logic_error);
}

// Item 11: cancel() calls the canceller; errbacks with CancelledError if it did not fire.
TEST(Deferred, cancelCallsCancellerThenErrbacksWithCancelledError) {
  int cancellerCalls = 0;
  Deferred<int> d([&](Deferred<int>&) { ++cancellerCalls; });
  bool cancelled = false;
  d.addErrback([&](Failure f) {
    cancelled = f.check<CancelledError>();
    return 0;
  });
  d.cancel();
  EXPECT_EQ(cancellerCalls, 1);
  EXPECT_TRUE(cancelled);
  // With a canceller, a late result is not swallowed.
  EXPECT_THROW(d.callback(1), AlreadyCalledError);
}

TEST(Deferred, cancellerThatFiresDecidesTheResult) {
  Deferred<int> d([](Deferred<int>& self) { self.callback(99); });
  int got = 0;
  d.addCallback([&](int v) { got = v; });
  d.cancel();
  EXPECT_EQ(got, 99);
}

TEST(Deferred, cancelWithoutCancellerSwallowsFirstLateResultOnly) {
  Deferred<int> d;
  d.addErrback([](Failure f) {
    f.trap<CancelledError>();
    return 0;
  });
  d.cancel();
  EXPECT_NO_THROW(d.callback(1));  // the producer's late result: swallowed
  EXPECT_THROW(d.callback(2), AlreadyCalledError);
}

// Item 12: cancelling a Deferred waiting on an inner one cancels the inner one.
TEST(Deferred, cancelWhileWaitingOnInnerCancelsInner) {
  Deferred<int> outer;
  bool innerCancelled = false;
  Deferred<int> inner([&](Deferred<int>&) { innerCancelled = true; });
  bool outerSawCancel = false;
  outer.addCallback([&](int) { return inner; }).addErrback([&](Failure f) {
    outerSawCancel = f.check<CancelledError>();
    return 0;
  });
  outer.callback(1);
  outer.cancel();
  EXPECT_TRUE(innerCancelled);
  EXPECT_TRUE(outerSawCancel);
}

// Item 13: cancel() on a fired Deferred that is not waiting does nothing.
TEST(Deferred, cancelAfterFiringDoesNothing) {
  Deferred<int> d;
  d.callback(1);
  d.cancel();
  int got = 0;
  d.addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 1);
}

// Item 18: a Deferred dropped while holding a Failure logs "Unhandled error in Deferred"
// at that moment.
TEST(Deferred, droppingUnhandledFailureLogsItDeterministically) {
  {
    Deferred<int> d;
    d.errback(Boom());
    EXPECT_TRUE(flushLoggedErrors<Boom>().empty());  // not yet: d is still alive
  }
  auto errors = flushLoggedErrors<Boom>();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].getErrorMessage(), "boom");
}

TEST(Deferred, unhandledErrorEventSaysUnhandledErrorInDeferred) {
  torsion::testing::LogCapture capture;
  { torsion::fail<int>(Boom()); }
  EXPECT_TRUE(capture.contains("Unhandled error in Deferred"));
  flushLoggedErrors<Boom>();
}

TEST(Deferred, handledFailureIsNotLogged) {
  {
    Deferred<int> d;
    d.addErrback([](Failure) { return 0; });
    d.errback(Boom());
  }
  EXPECT_TRUE(flushLoggedErrors().empty());
}

TEST(Deferred, failureHandedToOuterDeferredIsReportedOnceByTheOuter) {
  {
    Deferred<int> outer;
    Deferred<int> inner;
    outer.addCallback([&](int) { return inner; });
    outer.callback(1);
    inner.errback(Boom());
  }
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

// Item 22: maybeDeferred.
TEST(Deferred, maybeDeferredWrapsValuesExceptionsAndDeferreds) {
  int got = 0;
  torsion::maybeDeferred([] { return 5; }).addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 5);

  bool failed = false;
  torsion::maybeDeferred([]() -> int { throw Boom(); }).addErrback([&](Failure f) {
    failed = f.check<Boom>();
    return 0;
  });
  EXPECT_TRUE(failed);

  Deferred<int> pending;
  Deferred<int> same = torsion::maybeDeferred([&] { return pending; });
  EXPECT_TRUE(same == pending);

  bool ran = false;
  torsion::maybeDeferred([&] { ran = true; }).addCallback([&] { got = -1; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(got, -1);

  torsion::maybeDeferred([](int a, int b) { return Result<int>(a + b); }, 2, 3)
      .addCallback([&](int v) { got = v; });
  EXPECT_EQ(got, 5);
}

// Item 23: succeed and fail return fired Deferreds.
TEST(Deferred, succeedAndFailReturnFiredDeferreds) {
  auto s = torsion::succeed(std::string("ok"));
  EXPECT_TRUE(s.called());
  EXPECT_TRUE(s.hasResult());
  auto f = torsion::fail<int>(Boom());
  EXPECT_TRUE(f.called());
  EXPECT_TRUE(f.failed());
  f.addErrback([](Failure) { return 0; });
  auto v = torsion::succeed();
  EXPECT_TRUE(v.called());
}

TEST(Deferred, copiesShareOneChain) {
  Deferred<int> a;
  Deferred<int> b = a;
  int got = 0;
  b.addCallback([&](int v) { got = v; });
  a.callback(3);
  EXPECT_EQ(got, 3);
  EXPECT_TRUE(a == b);
}

TEST(Deferred, movedFromHandleThrowsLogicError) {
  Deferred<int> a;
  Deferred<int> b = std::move(a);
  EXPECT_FALSE(static_cast<bool>(a));  // NOLINT(bugprone-use-after-move): tested on purpose
  EXPECT_THROW(a.callback(1), std::logic_error);
  b.callback(1);
}

TEST(Failure, checkTrapValueAndMessage) {
  Failure f(Boom(), torsion::SourceLocation::current());
  EXPECT_TRUE(f.check<Boom>());
  EXPECT_TRUE((f.check<Other, std::runtime_error>()));
  EXPECT_FALSE(f.check<Other>());
  EXPECT_NO_THROW(f.trap<std::exception>());
  EXPECT_THROW(f.trap<Other>(), Boom);
  ASSERT_NE(f.value<Boom>(), nullptr);
  EXPECT_EQ(f.value<Other>(), nullptr);
  EXPECT_EQ(f.getErrorMessage(), "boom");
  EXPECT_THROW(f.raiseException(), Boom);
  EXPECT_NE(f.typeName().find("Boom"), std::string::npos);
  EXPECT_NE(f.describe().find("deferred_test.cpp"), std::string::npos);
}

TEST(Failure, nonStandardExceptionsAreDescribed) {
  Failure f(std::make_exception_ptr(42));
  EXPECT_EQ(f.typeName(), "int");
  EXPECT_NE(f.getErrorMessage().find("int"), std::string::npos);
}

}  // namespace
