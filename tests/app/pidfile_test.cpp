// torsion::app::PidFile: twistd's --pidfile rules (refuse a live pid, replace a stale one,
// refuse garbage, remove only our own file).
#include "torsion/app/pidfile.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "app/runner_support.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::app {
namespace {

using test::Child;
using test::Pipe;
using test::readFile;
using test::TempDir;
using test::writeFile;

// A child process that lives until the returned pipe's write end is closed.
struct LiveProcess {
  Pipe lifeline;
  Child child{[this] {
    lifeline.closeWrite();
    char c;
    while (::read(lifeline.read, &c, 1) < 0 && errno == EINTR) {
    }
    return 0;
  }};
  LiveProcess() { lifeline.closeRead(); }
  ~LiveProcess() {
    lifeline.closeWrite();
    child.wait();
  }
};

// The pid of a process that has exited and been reaped.
pid_t deadPid() {
  Child child([] { return 0; });
  const pid_t pid = child.pid();
  EXPECT_EQ(child.wait(), 0);
  return pid;
}

std::vector<std::string> directoryEntries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(PidFile, acquireWritesOurPidAndANewline) {
  TempDir dir;
  const PidFile pidFile = PidFile::acquire(dir / "torsiond.pid");
  EXPECT_TRUE(pidFile.held());
  EXPECT_EQ(pidFile.pid(), ::getpid());
  EXPECT_EQ(readFile(dir / "torsiond.pid"), std::to_string(::getpid()) + "\n");
  EXPECT_EQ(directoryEntries(dir.path()), std::vector<std::string>{"torsiond.pid"})
      << "the temporary file it was written through is gone";
}

TEST(PidFile, destroyingItRemovesTheFile) {
  TempDir dir;
  { const PidFile pidFile = PidFile::acquire(dir / "x.pid"); }
  EXPECT_FALSE(std::filesystem::exists(dir / "x.pid"));
}

TEST(PidFile, releaseRemovesOnceAndMovedFromObjectsHoldNothing) {
  TempDir dir;
  PidFile first = PidFile::acquire(dir / "x.pid");
  PidFile second = std::move(first);
  EXPECT_FALSE(first.held());  // NOLINT(bugprone-use-after-move): documented as holding nothing
  first.release();
  EXPECT_TRUE(std::filesystem::exists(dir / "x.pid"));
  second.release();
  EXPECT_FALSE(second.held());
  EXPECT_FALSE(std::filesystem::exists(dir / "x.pid"));
}

TEST(PidFile, refusesToStartOverALiveProcess) {
  TempDir dir;
  LiveProcess other;
  const std::string content = std::to_string(other.child.pid()) + "\n";
  writeFile(dir / "x.pid", content);

  try {
    (void)PidFile::acquire(dir / "x.pid");
    FAIL() << "acquire succeeded over a live pid";
  } catch (const AlreadyRunning& e) {
    EXPECT_EQ(e.pid(), other.child.pid());
    EXPECT_EQ(e.path(), dir / "x.pid");
    const std::string message = e.what();
    EXPECT_NE(message.find("PID " + std::to_string(other.child.pid())), std::string::npos)
        << message;
    EXPECT_NE(message.find((dir / "x.pid").string()), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
  EXPECT_EQ(readFile(dir / "x.pid"), content) << "the other server's file is untouched";
  EXPECT_THROW(checkPidFile(dir / "x.pid"), AlreadyRunning);
  EXPECT_EQ(readPidFile(dir / "x.pid").state, PidFileStatus::State::running);
}

TEST(PidFile, countsAProcessOfAnotherUserAsRunning) {
  TempDir dir;
  if (::geteuid() != 0) {
    // kill(1, 0) fails with EPERM for an unprivileged caller: pid 1 exists all the same.
    writeFile(dir / "x.pid", "1\n");
    EXPECT_EQ(readPidFile(dir / "x.pid").state, PidFileStatus::State::running);
    return;
  }
  // As root every kill(pid, 0) is permitted, so look from an unprivileged child at a process
  // of root's (this test process).
  std::filesystem::permissions(
      dir.path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                      std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                      std::filesystem::perms::others_exec);
  writeFile(dir / "x.pid", std::to_string(::getpid()) + "\n");
  Child child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
    if (::kill(::getppid(), 0) == 0 || errno != EPERM) return 11;  // the premise
    try {
      return readPidFile(dir / "x.pid").state == PidFileStatus::State::running ? 0 : 12;
    } catch (...) {
      return 13;
    }
  });
  EXPECT_EQ(child.wait(), 0);
}

TEST(PidFile, replacesAStalePidAndSaysSo) {
  TempDir dir;
  const pid_t dead = deadPid();
  writeFile(dir / "x.pid", std::to_string(dead) + "\n");
  EXPECT_EQ(readPidFile(dir / "x.pid").state, PidFileStatus::State::stale);
  EXPECT_NO_THROW(checkPidFile(dir / "x.pid"));

  testing::LogCapture capture;
  const PidFile pidFile = PidFile::acquire(dir / "x.pid");
  EXPECT_EQ(readFile(dir / "x.pid"), std::to_string(::getpid()) + "\n");
  EXPECT_TRUE(capture.contains("Removing stale pid file " + (dir / "x.pid").string() + " (PID " +
                               std::to_string(dead) + " is not running)"))
      << ::testing::PrintToString(capture.messages());
  EXPECT_EQ(directoryEntries(dir.path()), std::vector<std::string>{"x.pid"});
}

TEST(PidFile, treatsItsOwnPidAsALeftover) {
  // A container restarted with the same pid must not refuse to start because of itself.
  TempDir dir;
  writeFile(dir / "x.pid", std::to_string(::getpid()));
  EXPECT_EQ(readPidFile(dir / "x.pid").state, PidFileStatus::State::stale);
  testing::LogCapture capture;
  EXPECT_TRUE(PidFile::acquire(dir / "x.pid").held());
}

TEST(PidFile, acceptsWhiteSpaceAroundThePid) {
  TempDir dir;
  const pid_t dead = deadPid();
  writeFile(dir / "x.pid", "  " + std::to_string(dead) + " \r\n\n");
  const PidFileStatus status = readPidFile(dir / "x.pid");
  EXPECT_EQ(status.state, PidFileStatus::State::stale);
  EXPECT_EQ(status.pid, dead);
}

TEST(PidFile, refusesContentThatIsNotAPid) {
  TempDir dir;
  for (const std::string& content : std::vector<std::string>{
           "", "\n", "abc", "12abc", "-5", "+5", "0", "1 2", "99999999999999999999",
           std::string(100, '1'), std::string("12\0", 3)}) {
    SCOPED_TRACE(::testing::PrintToString(content));
    writeFile(dir / "x.pid", content);
    try {
      (void)PidFile::acquire(dir / "x.pid");
      ADD_FAILURE() << "acquire accepted garbage";
    } catch (const AlreadyRunning&) {
      ADD_FAILURE() << "garbage is not a running server";
    } catch (const PidFileError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("contains a non-numeric value"), std::string::npos) << message;
      EXPECT_NE(message.find((dir / "x.pid").string()), std::string::npos) << message;
    }
    EXPECT_THROW(readPidFile(dir / "x.pid"), PidFileError);
    EXPECT_EQ(readFile(dir / "x.pid"), content) << "garbage is left for a human to look at";
  }
}

TEST(PidFile, absentFileIsNeitherRunningNorStale) {
  TempDir dir;
  const PidFileStatus status = readPidFile(dir / "none.pid");
  EXPECT_EQ(status.state, PidFileStatus::State::absent);
  EXPECT_EQ(status.pid, 0);
  EXPECT_NO_THROW(checkPidFile(dir / "none.pid"));
}

TEST(PidFile, reportsADirectoryItCannotWriteIn) {
  TempDir dir;
  try {
    (void)PidFile::acquire(dir / "missing" / "x.pid");
    FAIL() << "acquire succeeded in a missing directory";
  } catch (const PidFileError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("Couldn't write pid file '" + (dir / "missing" / "x.pid").string() +
                           "': No such file or directory"),
              std::string::npos)
        << message;
  }
}

TEST(PidFile, warnsWhenItCannotRemoveItsFileAfterDroppingPrivileges) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);  // others may not delete in it
  Child child([&] {
    testing::LogCapture capture;
    PidFile pidFile = PidFile::acquire(dir / "x.pid");
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 2;  // nobody, as after --uid
    pidFile.release();
    return capture.contains("Could not remove the pid file " + (dir / "x.pid").string() +
                            ": Permission denied")
               ? 0
               : 1;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "x.pid"));
}

TEST(PidFile, leavesAFileThatNoLongerHoldsOurPid) {
  TempDir dir;
  PidFile pidFile = PidFile::acquire(dir / "x.pid");
  writeFile(dir / "x.pid", "4242\n");  // someone else's now
  pidFile.release();
  EXPECT_EQ(readFile(dir / "x.pid"), "4242\n");
}

TEST(PidFile, aForkedChildDoesNotRemoveItsParentsFile) {
  TempDir dir;
  PidFile pidFile = PidFile::acquire(dir / "x.pid");
  Child child([&] {
    pidFile.release();  // the child's copy of the object
    return std::filesystem::exists(dir / "x.pid") ? 0 : 1;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(readFile(dir / "x.pid"), std::to_string(::getpid()) + "\n");
}

TEST(PidFile, onlyOneOfTwoProcessesStartingTogetherGetsIt) {
  // Both contenders stay alive until both have tried, so the loser must see a live holder
  // whichever order they run in.
  TempDir dir;
  Pipe results;
  Pipe finish;
  auto contender = [&] {
    results.closeRead();
    finish.closeWrite();
    char outcome = 'e';
    try {
      const PidFile pidFile = PidFile::acquire(dir / "x.pid");
      outcome = 'w';
      test::writeAll(results.write, std::string_view(&outcome, 1));
      char c;
      while (::read(finish.read, &c, 1) < 0 && errno == EINTR) {
      }
      return 0;
    } catch (const AlreadyRunning&) {
      outcome = 'r';
    } catch (...) {
    }
    test::writeAll(results.write, std::string_view(&outcome, 1));
    return 0;
  };
  Child first(contender);
  Child second(contender);
  results.closeWrite();
  std::string outcomes;
  for (int i = 0; i < 2; ++i) {
    const auto c = test::readByte(results.read);
    ASSERT_TRUE(c.has_value());
    outcomes += *c;
  }
  std::sort(outcomes.begin(), outcomes.end());
  EXPECT_EQ(outcomes, "rw");
  finish.closeWrite();
  EXPECT_EQ(first.wait(), 0);
  EXPECT_EQ(second.wait(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "x.pid")) << "the winner removed it at exit";
}

}  // namespace
}  // namespace torsion::app
