// The Reactor: one named test per behaviour of reference sections 3.1-3.6 and 3.15, run
// against both pollers (epoll and poll).
#include "torsion/core/reactor.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/testing/log_capture.hpp"

extern char** environ;

using namespace std::chrono_literals;
using torsion::Deferred;
using torsion::Reactor;
using torsion::testing::flushLoggedErrors;
using Phase = torsion::Reactor::Phase;

using torsion::test::Boom;

namespace {

class ReactorTest : public ::testing::TestWithParam<const char*> {
 protected:
  ReactorTest() : reactor(Reactor::Options{GetParam(), false}) {}

  // Runs the reactor with a safety net: if the test's own path does not stop it within
  // `limit`, the test fails and the reactor stops.
  void runWithLimit(torsion::Seconds limit = 10s) {
    auto guard = reactor.callLater(limit, [this] {
      ADD_FAILURE() << "the reactor was still running after the test's time limit";
      reactor.stop();
    });
    reactor.run();
    if (guard.active()) guard.cancel();
  }

  Reactor reactor;
};

INSTANTIATE_TEST_SUITE_P(Pollers, ReactorTest, ::testing::Values("epoll", "poll"),
                         [](const auto& info) { return std::string(info.param); });

// A pipe whose read end the reactor watches.
class PipeReader : public torsion::IReadDescriptor {
 public:
  PipeReader() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    readFd = fds[0];
    writeFd = fds[1];
  }
  ~PipeReader() override {
    ::close(readFd);
    ::close(writeFd);
  }
  int fileno() const override { return readFd; }
  void doRead() override {
    char buf[64];
    ssize_t n = ::read(readFd, buf, sizeof buf);
    if (n > 0) data.append(buf, static_cast<std::size_t>(n));
    if (onRead) onRead();
  }
  void connectionLost(const torsion::Failure& reason) override { lost = reason.getErrorMessage(); }
  void send(const std::string& s) {
    ASSERT_EQ(::write(writeFd, s.data(), s.size()), ssize_t(s.size()));
  }

  int readFd = -1;
  int writeFd = -1;
  std::string data;
  std::string lost;
  std::function<void()> onRead;
};

// ---- 3.1 callLater ---------------------------------------------------------------------

TEST_P(ReactorTest, callLaterTiesRunInSchedulingOrder) {
  std::vector<int> order;
  for (int i = 0; i < 20; ++i) reactor.callLater(0s, [&order, i] { order.push_back(i); });
  reactor.callLater(0s, [&] { reactor.stop(); });
  runWithLimit();
  std::vector<int> expected(20);
  for (int i = 0; i < 20; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
}

TEST_P(ReactorTest, callLaterRunsInTimeOrder) {
  std::vector<int> order;
  reactor.callLater(30ms, [&] { order.push_back(3); });
  reactor.callLater(10ms, [&] { order.push_back(1); });
  reactor.callLater(20ms, [&] { order.push_back(2); });
  reactor.callLater(40ms, [&] { reactor.stop(); });
  runWithLimit();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_P(ReactorTest, callScheduledWhileTimersRunWaitsForNextIteration) {
  bool inner = false;
  reactor.callLater(0s, [&] { reactor.callLater(0s, [&] { inner = true; }); });
  reactor.iterate();
  EXPECT_FALSE(inner);  // scheduled during the timer pass: not in the same pass
  reactor.iterate();
  EXPECT_TRUE(inner);
}

TEST_P(ReactorTest, exceptionInTimedCallIsLoggedAndLoopGoesOn) {
  bool after = false;
  reactor.callLater(0s, [] { throw Boom(); });
  reactor.callLater(0s, [&] {
    after = true;
    reactor.stop();
  });
  runWithLimit();
  EXPECT_TRUE(after);
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST_P(ReactorTest, negativeDelayCountsAsZero) {
  bool ran = false;
  reactor.callLater(-5s, [&] { ran = true; });
  reactor.iterate();
  EXPECT_TRUE(ran);
}

// ---- 3.2 DelayedCall -------------------------------------------------------------------

TEST_P(ReactorTest, delayedCallResetEarlierAndLater) {
  std::vector<int> order;
  auto a = reactor.callLater(10s, [&] { order.push_back(1); });
  auto b = reactor.callLater(20ms, [&] { order.push_back(2); });
  a.reset(10ms);  // earlier: now before b
  b.reset(30ms);  // later
  reactor.callLater(50ms, [&] { reactor.stop(); });
  runWithLimit();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_P(ReactorTest, delayedCallCancelAndGetDelayedCalls) {
  bool ran = false;
  auto call = reactor.callLater(0s, [&] { ran = true; });
  EXPECT_EQ(reactor.getDelayedCalls().size(), 1u);
  call.cancel();
  EXPECT_TRUE(reactor.getDelayedCalls().empty());
  EXPECT_THROW(call.cancel(), torsion::AlreadyCancelled);
  reactor.iterate();
  EXPECT_FALSE(ran);
}

TEST_P(ReactorTest, delayMovesTheCallLater) {
  auto call = reactor.callLater(1s, [] {});
  const double t = call.getTime();
  call.delay(2s);
  EXPECT_NEAR(call.getTime(), t + 2.0, 1e-9);
  call.cancel();
}

// ---- 3.3 startup, system events, callWhenRunning ---------------------------------------

TEST_P(ReactorTest, startupTriggersRunInPhaseOrderThenCallWhenRunning) {
  std::vector<std::string> order;
  reactor.callWhenRunning([&] { order.push_back("callWhenRunning"); });
  reactor.addSystemEventTrigger(Phase::after, "startup", [&] { order.push_back("after"); });
  reactor.addSystemEventTrigger(Phase::during, "startup", [&] {
    order.push_back(reactor.running() ? "during(running)" : "during");
  });
  reactor.addSystemEventTrigger(Phase::before, "startup", [&] {
    order.push_back(reactor.running() ? "before(running)" : "before");
  });
  reactor.callLater(0s, [&] { reactor.stop(); });
  runWithLimit();
  EXPECT_EQ(order,
            (std::vector<std::string>{"before", "during(running)", "callWhenRunning", "after"}));
}

TEST_P(ReactorTest, callWhenRunningWhileRunningCallsAtOnce) {
  bool called = false;
  reactor.callWhenRunning([&] {
    reactor.callWhenRunning([&] { called = true; });
    EXPECT_TRUE(called);
    reactor.stop();
  });
  runWithLimit();
  EXPECT_TRUE(called);
}

TEST_P(ReactorTest, shutdownPhasesInOrderAndDuringSeesNotRunning) {
  std::vector<std::string> order;
  reactor.addSystemEventTrigger(Phase::before, "shutdown", [&] {
    order.push_back(reactor.running() ? "before(running)" : "before");
  });
  reactor.addSystemEventTrigger(Phase::during, "shutdown", [&] {
    order.push_back(reactor.running() ? "during(running)" : "during");
  });
  reactor.addSystemEventTrigger(Phase::after, "shutdown", [&] { order.push_back("after"); });
  reactor.callWhenRunning([&] { reactor.stop(); });
  runWithLimit();
  EXPECT_EQ(order, (std::vector<std::string>{"before(running)", "during", "after"}));
}

TEST_P(ReactorTest, beforeShutdownDeferredDelaysShutdownUntilItFires) {
  std::vector<std::string> order;
  reactor.addSystemEventTrigger(Phase::before, "shutdown", [&]() -> Deferred<void> {
    Deferred<void> drained;
    reactor.callLater(20ms, [&order, drained]() mutable {
      order.push_back("drained");
      drained.callback();
    });
    return drained;
  });
  reactor.addSystemEventTrigger(Phase::during, "shutdown", [&] { order.push_back("during"); });
  reactor.callWhenRunning([&] { reactor.stop(); });
  runWithLimit();
  EXPECT_EQ(order, (std::vector<std::string>{"drained", "during"}));
}

TEST_P(ReactorTest, removedTriggerDoesNotRun) {
  bool ran = false;
  auto id = reactor.addSystemEventTrigger(Phase::during, "custom", [&] { ran = true; });
  reactor.removeSystemEventTrigger(id);
  reactor.fireSystemEvent("custom");
  EXPECT_FALSE(ran);
  EXPECT_THROW(reactor.removeSystemEventTrigger(id), std::invalid_argument);
}

TEST_P(ReactorTest, customEventsFireThreePhasesOnce) {
  std::vector<std::string> order;
  reactor.addSystemEventTrigger(Phase::after, "custom", [&] { order.push_back("after"); });
  reactor.addSystemEventTrigger(Phase::before, "custom", [&] { order.push_back("before"); });
  reactor.addSystemEventTrigger(Phase::during, "custom", [&] { order.push_back("during"); });
  reactor.fireSystemEvent("custom");
  reactor.fireSystemEvent("custom");  // triggers are consumed
  EXPECT_EQ(order, (std::vector<std::string>{"before", "during", "after"}));
}

TEST_P(ReactorTest, exceptionInTriggerIsLoggedAndOthersRun) {
  bool second = false;
  reactor.addSystemEventTrigger(Phase::during, "custom", [] { throw Boom(); });
  reactor.addSystemEventTrigger(Phase::during, "custom", [&] { second = true; });
  reactor.fireSystemEvent("custom");
  EXPECT_TRUE(second);
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST_P(ReactorTest, stopWhenNotRunningRaises) {
  EXPECT_THROW(reactor.stop(), torsion::ReactorNotRunning);
}

TEST_P(ReactorTest, runAfterStopRaisesNotRestartable) {
  reactor.callWhenRunning([&] { reactor.stop(); });
  runWithLimit();
  EXPECT_THROW(reactor.run(), torsion::ReactorNotRestartable);
}

TEST_P(ReactorTest, runWhileRunningRaisesAlreadyRunning) {
  reactor.callWhenRunning([&] {
    EXPECT_THROW(reactor.run(), torsion::ReactorAlreadyRunning);
    reactor.stop();
  });
  runWithLimit();
}

TEST_P(ReactorTest, secondStopWhileStoppingRaises) {
  reactor.callWhenRunning([&] {
    reactor.stop();
    EXPECT_THROW(reactor.stop(), torsion::ReactorNotRunning);
  });
  runWithLimit();
}

// ---- 3.4 crash vs stop -----------------------------------------------------------------

TEST_P(ReactorTest, crashEndsLoopWithoutShutdownTriggersAndAllowsRunAgain) {
  bool shutdownRan = false;
  reactor.addSystemEventTrigger(Phase::before, "shutdown", [&] { shutdownRan = true; });
  reactor.callWhenRunning([&] { reactor.crash(); });
  runWithLimit();
  EXPECT_FALSE(shutdownRan);
  EXPECT_FALSE(reactor.running());
  int runs = 0;
  reactor.callWhenRunning([&] {
    ++runs;
    reactor.stop();
  });
  runWithLimit();  // a crashed reactor can run again
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(shutdownRan);
}

// ---- 3.5 callFromThread ----------------------------------------------------------------

TEST_P(ReactorTest, callFromThreadRunsFifoOnReactorThread) {
  std::vector<int> order;
  const auto reactorThread = std::this_thread::get_id();
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      reactor.callFromThread([&, i] {
        EXPECT_EQ(std::this_thread::get_id(), reactorThread);
        order.push_back(i);
        if (i == 99) reactor.stop();
      });
    }
  });
  runWithLimit();
  producer.join();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST_P(ReactorTest, callFromThreadWakesABlockedLoop) {
  // No timer pending: the loop blocks in the poller until the other thread wakes it.
  std::atomic<bool> started{false};
  std::thread producer;
  reactor.callWhenRunning([&] {
    producer = std::thread([&] { reactor.callFromThread([&] { reactor.stop(); }); });
    started = true;
  });
  auto guard = reactor.callLater(10s, [&] {
    ADD_FAILURE() << "callFromThread did not wake the loop";
    reactor.stop();
  });
  reactor.run();
  if (guard.active()) guard.cancel();
  producer.join();
  EXPECT_TRUE(started);
}

TEST_P(ReactorTest, callFromThreadFromManyThreadsKeepsEachThreadsOrder) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 1000;
  std::vector<std::vector<int>> seen(kThreads);
  int total = 0;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        reactor.callFromThread([&, t, i] {
          seen[t].push_back(i);
          if (++total == kThreads * kCalls) reactor.stop();
        });
      }
    });
  }
  runWithLimit();
  for (auto& p : producers) p.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<std::size_t>(kCalls));
    for (int i = 0; i < kCalls; ++i) EXPECT_EQ(seen[t][i], i);
  }
}

TEST_P(ReactorTest, drainRunsOnlyWhatWasQueuedWhenItBegan) {
  bool second = false;
  reactor.callFromThread([&] { reactor.callFromThread([&] { second = true; }); });
  reactor.iterate();
  EXPECT_FALSE(second);
  reactor.iterate();
  EXPECT_TRUE(second);
}

TEST_P(ReactorTest, exceptionInThreadCallIsLogged) {
  reactor.callFromThread([] { throw Boom(); });
  reactor.iterate();
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

// ---- IReactorFDSet ---------------------------------------------------------------------

TEST_P(ReactorTest, readerIsCalledWhenReadableAndNotAfterRemoval) {
  PipeReader pipe;
  reactor.addReader(&pipe);
  pipe.send("hello");
  reactor.iterate(1s);
  EXPECT_EQ(pipe.data, "hello");
  reactor.removeReader(&pipe);
  pipe.send("more");
  reactor.iterate();
  EXPECT_EQ(pipe.data, "hello");
  EXPECT_TRUE(reactor.getReaders().empty());
}

class PipeWriter : public torsion::IWriteDescriptor {
 public:
  explicit PipeWriter(int fd) : fd_(fd) {}
  int fileno() const override { return fd_; }
  void doWrite() override { ++writes; }
  int writes = 0;

 private:
  int fd_;
};

TEST_P(ReactorTest, writerIsCalledWhileWritable) {
  PipeReader pipe;
  PipeWriter writer(pipe.writeFd);
  reactor.addWriter(&writer);
  reactor.iterate();
  EXPECT_GE(writer.writes, 1);
  EXPECT_EQ(reactor.getWriters().size(), 1u);
  reactor.removeWriter(&writer);
  const int before = writer.writes;
  reactor.iterate();
  EXPECT_EQ(writer.writes, before);
}

TEST_P(ReactorTest, exceptionInDoReadDropsDescriptorAndCallsConnectionLost) {
  PipeReader pipe;
  pipe.onRead = [] { throw Boom(); };
  reactor.addReader(&pipe);
  pipe.send("x");
  reactor.iterate(1s);
  EXPECT_EQ(pipe.lost, "boom");
  EXPECT_TRUE(reactor.getReaders().empty());
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST_P(ReactorTest, removeAllReturnsTheReaders) {
  PipeReader a, b;
  reactor.addReader(&a);
  reactor.addReader(&b);
  auto removed = reactor.removeAll();
  EXPECT_EQ(removed.size(), 2u);
  EXPECT_TRUE(reactor.getReaders().empty());
}

TEST_P(ReactorTest, readerCanRemoveAnotherDuringDispatch) {
  PipeReader a, b;
  a.onRead = [&] { reactor.removeReader(&b); };
  b.onRead = [&] { reactor.removeReader(&a); };
  reactor.addReader(&a);
  reactor.addReader(&b);
  a.send("1");
  b.send("2");
  reactor.iterate(1s);
  // Whichever ran first removed the other before it was called.
  EXPECT_EQ(a.data.size() + b.data.size(), 1u);
}

// ---- 3.6 signals -----------------------------------------------------------------------

TEST(ReactorSignals, sigtermInProcessStopsGracefully) {
  Reactor reactor;
  torsion::testing::LogCapture capture;
  bool shutdownRan = false;
  reactor.addSystemEventTrigger(Phase::before, "shutdown", [&] { shutdownRan = true; });
  reactor.callWhenRunning([] { ::raise(SIGTERM); });
  auto guard = reactor.callLater(10s, [&] {
    ADD_FAILURE() << "SIGTERM did not stop the reactor";
    reactor.stop();
  });
  reactor.run();
  if (guard.active()) guard.cancel();
  EXPECT_TRUE(shutdownRan);
  EXPECT_TRUE(capture.contains("Received SIGTERM, shutting down."));
  struct sigaction now {};
  ::sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);  // restored after run()
}

TEST(ReactorSignals, sigintIsLeftAloneWhenItsHandlerIsNotTheDefault) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ::sigaction(SIGINT, &ignore, &previous);
  Reactor reactor;
  void (*during)(int) = nullptr;
  reactor.callWhenRunning([&] {
    struct sigaction now {};
    ::sigaction(SIGINT, nullptr, &now);
    during = now.sa_handler;
    reactor.stop();
  });
  reactor.run();
  ::sigaction(SIGINT, &previous, nullptr);
  EXPECT_EQ(during, SIG_IGN);
}

// The child side of sigtermDeliveredToAChildProcessStopsItGracefully: runs only when the
// parent test starts this binary with TORSION_SIGNAL_CHILD=1.
TEST(ReactorSignalChild, runsUntilSignalled) {
  if (std::getenv("TORSION_SIGNAL_CHILD") == nullptr) GTEST_SKIP() << "runs as a child only";
  Reactor reactor;
  torsion::testing::LogCapture capture;
  reactor.addSystemEventTrigger(Phase::after, "shutdown", [] { std::puts("after-shutdown"); });
  reactor.callWhenRunning([] {
    std::puts("ready");
    std::fflush(stdout);
  });
  auto guard = reactor.callLater(20s, [] { std::_Exit(3); });
  reactor.run();
  if (capture.contains("Received SIGTERM, shutting down.")) std::puts("logged-sigterm");
  std::fflush(stdout);
}

TEST(ReactorSignals, sigtermDeliveredToAChildProcessStopsItGracefully) {
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::string self = "/proc/self/exe";
  std::string filter = "--gtest_filter=ReactorSignalChild.runsUntilSignalled";
  char* argv[] = {self.data(), filter.data(), nullptr};
  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e) envStrings.emplace_back(*e);
  envStrings.emplace_back("TORSION_SIGNAL_CHILD=1");
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t child = -1;
  ASSERT_EQ(posix_spawn(&child, self.c_str(), &actions, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);

  std::string output;
  char buf[4096];
  bool signalled = false;
  for (;;) {  // bounded: the child writes "ready" or exits (its own 20 s guard)
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
    if (!signalled && output.find("ready\n") != std::string::npos) {
      ::kill(child, SIGTERM);
      signalled = true;
    }
  }
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(signalled) << output;
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("after-shutdown"), std::string::npos) << output;
  EXPECT_NE(output.find("logged-sigterm"), std::string::npos) << output;
}

// ---- 3.15 and construction -------------------------------------------------------------

TEST(ReactorPoller, unknownPollerNameIsRejectedByName) {
  try {
    Reactor reactor(Reactor::Options{"kqueue", false});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("kqueue"), std::string::npos);
  }
}

TEST(ReactorPoller, environmentChoosesThePoller) {
  ::setenv("TORSION_REACTOR", "poll", 1);
  Reactor a;
  ::unsetenv("TORSION_REACTOR");
  Reactor b;
  EXPECT_STREQ(a.pollerName(), "poll");
  EXPECT_STREQ(b.pollerName(), "epoll");
}

TEST(ReactorPoller, severalReactorsInOneProcessOnePerThread) {
  std::atomic<int> ran{0};
  auto body = [&] {
    Reactor r(Reactor::Options{"", false});
    r.callLater(0s, [&] {
      ++ran;
      r.stop();
    });
    r.run();
  };
  std::thread t1(body), t2(body);
  t1.join();
  t2.join();
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
