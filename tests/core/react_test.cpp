// react(): Twisted's task.react, on a real Reactor that runs briefly (callLater(0) work only).
#include "torsion/core/react.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <stdexcept>

#include "support/helpers.hpp"
#include "torsion/defer/task.hpp"
#include "torsion/testing/log_capture.hpp"

using namespace torsion;  // NOLINT: test brevity
using std::chrono::seconds;
using torsion::testing::flushLoggedErrors;

using torsion::test::Boom;

namespace {

TEST(React, exitCodeZeroOnSuccess) {
  bool wasRunning = false;
  bool shutdownRan = false;
  const int code = react([&](Reactor& reactor) {
    wasRunning = reactor.running();
    reactor.addSystemEventTrigger(Reactor::Phase::before, "shutdown", [&] { shutdownRan = true; });
    return deferLater(reactor, seconds(0), [] { return 42; });  // a value: ignored
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(wasRunning);   // main is called once the reactor runs
  EXPECT_TRUE(shutdownRan);  // the reactor was stopped, not crashed
}

TEST(React, alreadyFiredDeferredStopsAtOnce) {
  EXPECT_EQ(react([](Reactor&) { return succeed(); }), 0);
}

TEST(React, failureLogsAndReturnsOne) {
  const int code = react([](Reactor& reactor) {
    return deferLater(reactor, seconds(0), []() -> void { throw Boom(); });
  });
  EXPECT_EQ(code, 1);
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);

  // An exception main throws itself counts the same.
  EXPECT_EQ(react([](Reactor&) -> Deferred<void> { throw Boom(); }), 1);
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(React, systemExitCode) {
  // Not logged: the test main would fail this test for an unflushed error.
  const int code = react([](Reactor& reactor) {
    return deferLater(reactor, seconds(0), []() -> void { throw SystemExit(7); });
  });
  EXPECT_EQ(code, 7);
  EXPECT_EQ(react([](Reactor&) { return fail<void>(SystemExit(0)); }), 0);
}

TEST(React, coroutineMain) {
  int steps = 0;
  const int code = react([&](Reactor& reactor) -> Deferred<void> {
    for (int i = 0; i < 3; ++i) {
      co_await deferLater(reactor, seconds(0));
      ++steps;
    }
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(steps, 3);

  EXPECT_EQ(react([](Reactor& reactor) -> Deferred<int> {
              co_await deferLater(reactor, seconds(0));
              throw SystemExit(3);
            }),
            3);
}

TEST(React, stoppedByOthersReturnsZero) {
  // main's Deferred never fires: something else stops the reactor, as a signal would.
  const int code = react(
      [](Reactor& reactor) {
        reactor.callLater(seconds(0), [&reactor] { reactor.stop(); });
        return Deferred<void>();
      },
      Reactor::Options{.poller = "poll", .installSignalHandlers = false});
  EXPECT_EQ(code, 0);
}

TEST(React, stoppedBySignalReturnsZero) {
  // The reactor handles SIGTERM from its startup on, before main is called.
  bool stopping = false;
  const int code = react([&](Reactor& reactor) {
    reactor.addSystemEventTrigger(Reactor::Phase::before, "shutdown", [&] { stopping = true; });
    reactor.callLater(seconds(0), [] { std::raise(SIGTERM); });
    return Deferred<void>();
  });
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(stopping);
}

TEST(React, failureDuringShutdownStillCounts) {
  // As in Twisted: main's Deferred failing once the shutdown began sets the code.
  Deferred<void> finished;
  const int code = react([&](Reactor& reactor) {
    reactor.addSystemEventTrigger(Reactor::Phase::before, "shutdown",
                                  [&] { finished.errback(SystemExit(5)); });
    reactor.callLater(seconds(0), [&reactor] { reactor.stop(); });
    return finished;
  });
  EXPECT_EQ(code, 5);
}

}  // namespace
