// successResultOf, failureResultOf and assertNoResult: trial's helpers over GoogleTest.
// The failing cases run under a fake GoogleTest reporter, so that the failure they record is
// inspected here instead of failing this test.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/core/errors.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/gtest.hpp"

namespace torsion::testing {
namespace {

using ::testing::HasSubstr;
using torsion::test::Boom;

// What a helper did when run under a fake reporter: the failures it recorded and whether it
// threw ResultCheckFailed.
struct Checked {
  std::vector<std::string> failures;
  bool threw = false;
};

template <class F>
Checked check(F&& f) {
  Checked out;
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    try {
      f();
    } catch (const ResultCheckFailed&) {
      out.threw = true;
    }
  }
  for (int i = 0; i < results.size(); ++i)
    out.failures.emplace_back(results.GetTestPartResult(i).message());
  return out;
}

TEST(SuccessResultOf, returnsTheValueOfAFiredDeferred) {
  EXPECT_EQ(successResultOf(succeed(42)), 42);
  Deferred<std::string> d;
  d.callback("text");
  EXPECT_EQ(successResultOf(d), "text");
}

TEST(SuccessResultOf, returnsTheValueAfterTheCallbacksRan) {
  Deferred<int> d;
  Deferred<std::string> chain = d.addCallback([](int v) { return std::to_string(v * 2); });
  d.callback(21);
  EXPECT_EQ(successResultOf(chain), "42");
}

TEST(SuccessResultOf, movesAMoveOnlyValueOut) {
  Deferred<std::unique_ptr<int>> d;
  d.callback(std::make_unique<int>(7));
  std::unique_ptr<int> p = successResultOf(d);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(SuccessResultOf, acceptsADeferredVoid) {
  Deferred<void> d;
  d.callback();
  successResultOf(d);
  // The result was taken; the chain goes on with no value, as after trial's helper.
  bool ran = false;
  d.addCallback([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(SuccessResultOf, failsWhenThereIsNoResultAndLeavesTheDeferredAlone) {
  Deferred<int> d;
  Checked c = check([&] { successResultOf(d); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("found no result"));
  EXPECT_THAT(c.failures[0], HasSubstr("has not fired"));
  // Nothing was added: the producer and a later callback still see the value.
  int seen = 0;
  d.addCallback([&](int v) { seen = v; });
  d.callback(5);
  EXPECT_EQ(seen, 5);
}

TEST(SuccessResultOf, failsForAPausedChain) {
  Deferred<int> d;
  d.pause();
  d.callback(1);
  Checked c = check([&] { successResultOf(d); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("paused"));
  d.unpause();
  EXPECT_EQ(successResultOf(d), 1);
}

TEST(SuccessResultOf, failsForAFailureAndTakesIt) {
  // Taken: this test would fail with an unhandled error in Deferred otherwise.
  Checked c = check([] { successResultOf(fail<int>(Boom())); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("found a failure"));
  EXPECT_THAT(c.failures[0], HasSubstr("boom"));
}

TEST(SuccessResultOf, reportsAtTheCallersLine) {
  Deferred<int> d;
  ::testing::TestPartResultArray results;
  int line = 0;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    try {
      line = __LINE__ + 1;
      successResultOf(d);
    } catch (const ResultCheckFailed&) {
    }
  }
  ASSERT_EQ(results.size(), 1);
  EXPECT_EQ(results.GetTestPartResult(0).line_number(), line);
  EXPECT_THAT(results.GetTestPartResult(0).file_name(), HasSubstr("gtest_helpers_test.cpp"));
}

TEST(FailureResultOf, returnsTheFailure) {
  Failure f = failureResultOf(fail<int>(Boom()));
  EXPECT_TRUE(f.check<Boom>());
}

TEST(FailureResultOf, acceptsAnyOfTheGivenTypes) {
  Failure f =
      failureResultOf<ConnectionRefusedError, ConnectionLost>(fail<void>(ConnectionAborted()));
  EXPECT_TRUE(f.check<ConnectionAborted>());
}

TEST(FailureResultOf, failsForAnotherTypeAndNamesBoth) {
  Checked c = check([] { failureResultOf<ConnectionDone, CancelledError>(fail<int>(Boom())); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("torsion::ConnectionDone or torsion::CancelledError"));
  EXPECT_THAT(c.failures[0], HasSubstr("boom"));
}

TEST(FailureResultOf, failsForASuccess) {
  Checked c = check([] { failureResultOf(succeed(3)); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("found a success"));
}

TEST(FailureResultOf, failsWhenThereIsNoResult) {
  Deferred<void> d;
  Checked c = check([&] { failureResultOf<Boom>(d); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("found no result"));
  EXPECT_FALSE(d.called());
}

TEST(FailureResultOf, takesTheFailureSoItIsNotReportedAsUnhandled) {
  Deferred<int> d;
  d.errback(Boom());
  failureResultOf<Boom>(d);
  EXPECT_TRUE(d.called());
  // Had the failure stayed in the chain, releasing the last handle would log "Unhandled
  // error in Deferred" and the shared test main would fail this test.
}

TEST(AssertNoResult, passesForAnUnfiredDeferredAndAddsNothing) {
  Deferred<int> d;
  assertNoResult(d);
  int seen = 0;
  d.addCallback([&](int v) { seen = v; });
  d.callback(9);
  EXPECT_EQ(seen, 9);
}

TEST(AssertNoResult, passesForAChainWaitingOnAnotherDeferred) {
  Deferred<int> inner;
  Deferred<int> outer;
  Deferred<int> chain = outer.addCallback([inner](int) { return inner; });
  outer.callback(1);
  assertNoResult(chain);
  inner.callback(2);
  EXPECT_EQ(successResultOf(chain), 2);
}

TEST(AssertNoResult, failsForASuccessAndLeavesIt) {
  Deferred<int> d = succeed(4);
  Checked c = check([&] { assertNoResult(d); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("found a success"));
  EXPECT_EQ(successResultOf(d), 4);
}

TEST(AssertNoResult, failsForAFailureAndTakesIt) {
  Checked c = check([] { assertNoResult(fail<void>(Boom())); });
  EXPECT_TRUE(c.threw);
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_THAT(c.failures[0], HasSubstr("found a failure"));
  EXPECT_THAT(c.failures[0], HasSubstr("boom"));
}

}  // namespace
}  // namespace torsion::testing
