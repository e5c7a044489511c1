// ReactorCleanCheck: trial's dirty-reactor check on a real Reactor.
#include "torsion/testing/reactor_clean.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "torsion/core/reactor.hpp"
#include "torsion/testing/gtest.hpp"

namespace torsion::testing {
namespace {

using std::chrono::seconds;

// One end of a pipe, watched for reading or writing.
class PipeEnd : public IReadDescriptor, public IWriteDescriptor {
 public:
  PipeEnd() {
    if (::pipe(fds_) != 0) throw std::runtime_error("pipe");
  }
  ~PipeEnd() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int fileno() const override { return fds_[0]; }
  void doRead() override {}
  void doWrite() override {}

 private:
  int fds_[2];
};

TEST(ReactorCleanCheck, aFreshReactorIsClean) {
  Reactor reactor;
  ReactorCleanCheck check(reactor);
  EXPECT_TRUE(check.clean());
  EXPECT_EQ(check.report(), "");
  EXPECT_TRUE(reactorIsClean(check));
  EXPECT_NO_THROW(check.verify());
}

TEST(ReactorCleanCheck, reportsAPendingDelayedCall) {
  Reactor reactor;
  ReactorCleanCheck check(reactor);
  reactor.callLater(seconds(3600), [] {});
  EXPECT_FALSE(check.clean());
  const std::string report = check.report();
  EXPECT_NE(report.find("Reactor was unclean."), std::string::npos) << report;
  EXPECT_NE(report.find("DelayedCalls: (1 pending"), std::string::npos) << report;
  EXPECT_NE(report.find("(in 3"), std::string::npos) << report;  // 3599.9xx or 3600.000
  EXPECT_THROW(check.verify(), DirtyReactorError);
  const ::testing::AssertionResult result = reactorIsClean(check);
  EXPECT_FALSE(result);
  EXPECT_NE(std::string(result.message()).find("DelayedCall due at"), std::string::npos);
  check.cleanUp();
}

TEST(ReactorCleanCheck, callsThatRanOrWereCancelledDoNotCount) {
  Reactor reactor;
  ReactorCleanCheck check(reactor);
  bool ran = false;
  reactor.callLater(seconds(0), [&] { ran = true; });
  DelayedCall cancelled = reactor.callLater(seconds(60), [] {});
  cancelled.cancel();
  for (int i = 0; i < 10 && !ran; ++i) reactor.iterate();
  ASSERT_TRUE(ran);
  EXPECT_TRUE(check.clean()) << check.report();
}

TEST(ReactorCleanCheck, ignoresWhatWasPendingAtTheSnapshot) {
  Reactor reactor;
  DelayedCall before = reactor.callLater(seconds(60), [] {});
  PipeEnd pipe;
  reactor.addReader(&pipe);
  ReactorCleanCheck check(reactor);
  EXPECT_TRUE(check.clean()) << check.report();
  reactor.removeReader(&pipe);
  before.cancel();
}

TEST(ReactorCleanCheck, reportsLeftoverReadersAndWritersWithTheirDescriptor) {
  Reactor reactor;
  ReactorCleanCheck check(reactor);
  PipeEnd reader;
  PipeEnd writer;
  reactor.addReader(&reader);
  reactor.addWriter(&writer);
  const std::string report = check.report();
  EXPECT_NE(report.find("Selectables:"), std::string::npos) << report;
  EXPECT_NE(report.find("reader fd " + std::to_string(reader.fileno())), std::string::npos)
      << report;
  EXPECT_NE(report.find("writer fd " + std::to_string(writer.fileno())), std::string::npos)
      << report;
  EXPECT_NE(report.find("PipeEnd"), std::string::npos) << report;
  EXPECT_EQ(report.find("DelayedCalls"), std::string::npos) << report;

  EXPECT_EQ(check.cleanUp(), report);
  EXPECT_TRUE(check.clean()) << check.report();
  EXPECT_TRUE(reactor.getWriters().empty());
}

TEST(ReactorCleanCheck, cleanUpCancelsLeftoverCallsButNotTheSnapshotsOnes) {
  Reactor reactor;
  DelayedCall before = reactor.callLater(seconds(60), [] {});
  ReactorCleanCheck check(reactor);
  DelayedCall after = reactor.callLater(seconds(60), [] {});
  check.cleanUp();
  EXPECT_TRUE(after.cancelled());
  EXPECT_TRUE(before.active());
  EXPECT_TRUE(check.clean());
  before.cancel();
}

}  // namespace
}  // namespace torsion::testing
