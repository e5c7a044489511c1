// torsion::app::daemonize and its status pipe, and the other process options (umask, run
// directory, uid/gid). Each daemon test forks a launcher process that calls daemonize(); this
// test process plays the launcher's parent (the shell) and, as child subreaper, adopts the
// daemon so that it can reap it too.
#include "torsion/app/daemon.hpp"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/runner_support.hpp"

namespace torsion::app {
namespace {

using test::Child;
using test::Pipe;
using test::TempDir;

constexpr char kDied[] =
    "The daemon exited before it reported that it started; see its log file for why.\n";

// Orphans of this process's descendants (the daemons) become its children while this lives.
struct Subreaper {
  Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~Subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

bool isDevNull(int fd) {
  struct stat null {};
  struct stat info {};
  return ::stat("/dev/null", &null) == 0 && ::fstat(fd, &info) == 0 && S_ISCHR(info.st_mode) &&
         info.st_rdev == null.st_rdev;
}

class Daemonize : public ::testing::Test {
 protected:
  // Forks the launcher: it sends its stdout and stderr to pipes this test reads, runs
  // `prelude`, and calls daemonize(); the daemon says its pid, then runs `body`, whose result
  // is its exit status.
  void launch(
      const std::function<int(DaemonChild&)>& body, const std::function<void()>& prelude = [] {}) {
    launcher_.emplace([&] {
      ::dup2(out_.write, STDOUT_FILENO);
      ::dup2(err_.write, STDERR_FILENO);
      out_.closeRead();
      out_.closeWrite();
      err_.closeRead();
      err_.closeWrite();
      facts_.closeRead();
      go_.closeWrite();
      prelude();
      launcherPid_ = ::getpid();
      DaemonChild status = daemonize();
      tell("pid " + std::to_string(::getpid()));
      return body(status);
    });
    out_.closeWrite();
    err_.closeWrite();
    facts_.closeWrite();
    go_.closeRead();
    const std::string pid = hear();
    ASSERT_EQ(pid.rfind("pid ", 0), 0u) << pid;
    daemon_ = std::stoi(pid.substr(4));
  }

  void TearDown() override {
    go_.closeWrite();  // a daemon still waiting for its cue ends
    if (daemon_ > 0) {
      EXPECT_EQ(Child::waitForExit(daemon_), 0) << "the daemon's exit status";
    }
    if (launcher_) launcher_->wait();
  }

  // In the daemon: one line to the test, and waiting for the test's cue.
  void tell(const std::string& line) { test::writeAll(facts_.write, line + "\n"); }
  void awaitCue() { (void)test::readByte(go_.read); }

  // In the test: the daemon's next line ("" if it ended), and the cue.
  std::string hear() {
    std::string line;
    while (const std::optional<char> c = test::readByte(facts_.read)) {
      if (*c == '\n') return line;
      line += *c;
    }
    return line;
  }
  void cue() { test::writeAll(go_.write, "g"); }

  int launcherStatus() { return launcher_->wait(); }
  std::string launcherStderr() { return test::readToEnd(err_.read).value_or("<timed out>"); }
  std::string launcherStdout() { return test::readToEnd(out_.read).value_or("<timed out>"); }

  Subreaper subreaper_;
  Pipe out_, err_, facts_, go_;
  std::optional<Child> launcher_;
  pid_t daemon_ = 0;
  pid_t launcherPid_ = 0;  // set in the launcher, so known to the daemon
};

TEST_F(Daemonize, launcherExitsZeroOnlyOnceTheDaemonReportsStarted) {
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  launch(
      [&](DaemonChild& status) {
        char here[4096];
        const mode_t mask = ::umask(0);
        ::umask(mask);
        tell(std::string(status.connected() ? "connected" : "unconnected") +
             (::getsid(0) != ::getpid() ? " not-session-leader" : " session-leader") +
             (::getpgid(0) == ::getsid(0) ? " in-its-session's-group" : " elsewhere") +
             (::getppid() != launcherPid_ ? " not-the-launcher's-child" : " the-launcher's-child") +
             (isDevNull(0) && isDevNull(1) && isDevNull(2) ? " stdio-null" : " stdio-open") +
             (::getcwd(here, sizeof here) != nullptr && std::string(here) == cwd ? " same-cwd"
                                                                                 : " moved") +
             " umask=" + std::to_string(mask));
        awaitCue();
        status.reportStarted();
        tell(status.connected() ? "still connected" : "reported");
        return 0;
      },
      [] {
        ::umask(022);
        std::printf("buffered before daemonize");  // no newline, no flush
      });
  EXPECT_EQ(
      hear(),
      "connected not-session-leader in-its-session's-group not-the-launcher's-child stdio-null "
      "same-cwd "
      "umask=18");
  EXPECT_TRUE(launcher_->running()) << "the launcher waits for the report";
  cue();
  EXPECT_EQ(launcherStatus(), 0);
  EXPECT_EQ(hear(), "reported");
  EXPECT_EQ(launcherStderr(), "");
  EXPECT_EQ(launcherStdout(), "buffered before daemonize") << "written once, by the launcher";
}

TEST_F(Daemonize, launcherPrintsTheReportedFailureAndExitsWithItsStatus) {
  launch([&](DaemonChild& status) {
    status.reportFailed("Couldn't listen on 127.0.0.1:8080: Address already in use.", 3);
    return 0;
  });
  EXPECT_EQ(launcherStatus(), 3);
  EXPECT_EQ(launcherStderr(), "Couldn't listen on 127.0.0.1:8080: Address already in use.\n");
}

TEST_F(Daemonize, aMessageEndingInANewlineGetsNoSecondOne) {
  launch([&](DaemonChild& status) {
    status.reportFailed("two\nlines\n");
    return 0;
  });
  EXPECT_EQ(launcherStatus(), 1);
  EXPECT_EQ(launcherStderr(), "two\nlines\n");
}

TEST_F(Daemonize, aStatusOutsideOneTo255BecomesOne) {
  launch([&](DaemonChild& status) {
    status.reportFailed("bad status", 300);
    return 0;
  });
  EXPECT_EQ(launcherStatus(), 1);
  EXPECT_EQ(launcherStderr(), "bad status\n");
}

TEST_F(Daemonize, aLongMessageIsCutAtMaxMessage) {
  launch([&](DaemonChild& status) {
    status.reportFailed(std::string(DaemonChild::kMaxMessage, 'x') + "tail", 2);
    return 0;
  });
  EXPECT_EQ(launcherStatus(), 2);
  EXPECT_EQ(launcherStderr(), std::string(DaemonChild::kMaxMessage, 'x') + "\n");
}

TEST_F(Daemonize, aDaemonThatDiesBeforeReportingFailsTheLauncher) {
  launch([&](DaemonChild&) -> int {
    ::_exit(0);  // no destructor, no report: as a crash would
  });
  EXPECT_EQ(launcherStatus(), 1);
  EXPECT_EQ(launcherStderr(), kDied);
}

TEST_F(Daemonize, droppingTheStatusUnreportedFailsTheLauncherAtOnce) {
  launch([&](DaemonChild& status) {
    { const DaemonChild dropped = std::move(status); }
    awaitCue();
    tell("still running");
    return 0;
  });
  EXPECT_EQ(launcherStatus(), 1) << "the launcher did not wait for the daemon to exit";
  EXPECT_EQ(launcherStderr(), kDied);
  cue();
  EXPECT_EQ(hear(), "still running");
}

TEST_F(Daemonize, onlyTheFirstReportCounts) {
  launch([&](DaemonChild& status) {
    status.reportStarted();
    status.reportFailed("too late", 4);
    tell(status.connected() ? "connected" : "closed");
    return 0;
  });
  EXPECT_EQ(launcherStatus(), 0);
  EXPECT_EQ(launcherStderr(), "");
  EXPECT_EQ(hear(), "closed");
}

TEST_F(Daemonize, aReportReachesTheLauncherWhileAForkedWorkerKeepsThePipeOpen) {
  launch([&](DaemonChild& status) {
    const pid_t worker = ::fork();  // inherits the daemon's end of the status pipe
    if (worker == 0) {
      awaitCue();
      ::_exit(0);
    }
    tell("worker " + std::to_string(worker));
    status.reportStarted();
    return 0;
  });
  const std::string worker = hear();
  ASSERT_EQ(worker.rfind("worker ", 0), 0u) << worker;
  EXPECT_EQ(launcherStatus(), 0) << "the launcher needs no end of file after a report";
  // Once the daemon is gone, this process (the subreaper) adopts the worker and can reap it.
  EXPECT_EQ(Child::waitForExit(std::exchange(daemon_, 0)), 0);
  cue();
  EXPECT_EQ(Child::waitForExit(std::stoi(worker.substr(7))), 0);
}

TEST_F(Daemonize, reportingToALauncherThatIsGoneDoesNotKillTheDaemon) {
  launch([&](DaemonChild& status) {
    awaitCue();
    status.reportFailed("nobody hears this");  // no SIGPIPE
    tell("survived");
    return 0;
  });
  ::kill(launcher_->pid(), SIGKILL);
  EXPECT_EQ(launcherStatus(), 128 + SIGKILL);
  cue();
  EXPECT_EQ(hear(), "survived");
}

TEST(DaemonChild, unconnectedIgnoresReports) {
  DaemonChild status;
  EXPECT_FALSE(status.connected());
  status.reportStarted();
  status.reportFailed("ignored");
  status.abandon();
  EXPECT_FALSE(status.connected());
}

// Runs `body` in a forked child and returns what it returned ("" for success), so that process
// state it changes (ids, directory) stays in the child.
std::string inChild(const std::function<std::string()>& body) {
  Pipe result;
  Child child([&] {
    result.closeRead();
    std::string text;
    try {
      text = body();
    } catch (const std::exception& e) {
      text = std::string("exception: ") + e.what();
    }
    test::writeAll(result.write, text);
    return 0;
  });
  result.closeWrite();
  const std::string text = test::readToEnd(result.read).value_or("<timed out>");
  const int status = child.wait();
  return status == 0 ? text : text + " <child exit " + std::to_string(status) + ">";
}

// Restores the umask a test changed.
struct UmaskGuard {
  mode_t saved = ::umask(022);
  ~UmaskGuard() { ::umask(saved); }
  static mode_t current() {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    return mask;
  }
};

TEST(Umask, parsesOctal) {
  EXPECT_EQ(parseUmask("022"), 022u);
  EXPECT_EQ(parseUmask("0077"), 077u);
  EXPECT_EQ(parseUmask("0"), 0u);
  EXPECT_EQ(parseUmask("777"), 0777u);
  EXPECT_EQ(parseUmask("7"), 07u);
}

TEST(Umask, refusesWhatIsNotAnOctalMaskNamingIt) {
  for (const std::string text : {"", "8", "09", "abc", "1000", "0o22", "-1", "22 ", "07777"}) {
    try {
      parseUmask(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const ProcessSetupError& e) {
      EXPECT_EQ(std::string(e.what()),
                "Invalid umask '" + text + "': give an octal number from 000 to 777, such as 022");
    }
  }
}

TEST(Umask, aDaemonDefaultsTo0077) {
  UmaskGuard guard;
  EXPECT_EQ(applyUmask(std::nullopt, true), std::optional<mode_t>(0077));
  EXPECT_EQ(UmaskGuard::current(), 0077u);
  TempDir dir;
  test::writeFile(dir / "private", "x");
  EXPECT_EQ(std::filesystem::status(dir / "private").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(Umask, aGivenUmaskWinsEvenWhenDaemonizing) {
  UmaskGuard guard;
  EXPECT_EQ(applyUmask(027, true), std::optional<mode_t>(027));
  EXPECT_EQ(UmaskGuard::current(), 027u);
  EXPECT_EQ(applyUmask(0, false), std::optional<mode_t>(0));
  EXPECT_EQ(UmaskGuard::current(), 0u);
}

TEST(Umask, isLeftAloneWithoutDaemonizing) {
  UmaskGuard guard;
  ::umask(023);
  EXPECT_EQ(applyUmask(std::nullopt, false), std::nullopt);
  EXPECT_EQ(UmaskGuard::current(), 023u);
}

TEST(RunDirectory, changesTheWorkingDirectory) {
  TempDir dir;
  const std::filesystem::path expected = std::filesystem::canonical(dir.path());
  EXPECT_EQ(inChild([&] {
              changeDirectory(dir.path());
              return std::filesystem::current_path() == expected ? std::string() : "not moved";
            }),
            "");
}

TEST(RunDirectory, aMissingDirectoryIsNamedInTheError) {
  TempDir dir;
  const std::filesystem::path before = std::filesystem::current_path();
  try {
    changeDirectory(dir / "missing");
    FAIL() << "changed into a missing directory";
  } catch (const ProcessSetupError& e) {
    EXPECT_EQ(std::string(e.what()), "Couldn't change directory to '" + (dir / "missing").string() +
                                         "': No such file or directory");
  }
  EXPECT_EQ(std::filesystem::current_path(), before);
}

std::optional<passwd> userNamed(const char* name) {
  const passwd* entry = ::getpwnam(name);
  return entry != nullptr ? std::optional<passwd>(*entry) : std::nullopt;
}

TEST(UserIds, numbersAreTakenAsTheyAre) {
  EXPECT_EQ(uidFromString("0"), 0u);
  EXPECT_EQ(uidFromString("54321"), 54321u) << "no passwd entry needed";
  EXPECT_EQ(gidFromString("54321"), 54321u);
}

TEST(UserIds, namesAreLookedUp) {
  EXPECT_EQ(uidFromString("root"), 0u);
  EXPECT_EQ(gidFromString("root"), 0u);
  if (const std::optional<passwd> nobody = userNamed("nobody")) {
    EXPECT_EQ(uidFromString("nobody"), nobody->pw_uid);
  }
}

TEST(UserIds, unknownNamesAreNamedInTheError) {
  for (const std::string user : {"no-such-user-torsion", "", "-1", "4294967295", "12x"}) {
    try {
      uidFromString(user);
      ADD_FAILURE() << "accepted user '" << user << "'";
    } catch (const ProcessSetupError& e) {
      EXPECT_EQ(std::string(e.what()), "No such user: '" + user + "'");
    }
  }
  try {
    gidFromString("no-such-group-torsion");
    ADD_FAILURE() << "accepted the group";
  } catch (const ProcessSetupError& e) {
    EXPECT_EQ(std::string(e.what()), "No such group: 'no-such-group-torsion'");
  }
}

// What the process is now, as one line.
std::string identity() {
  gid_t groups[64];
  const int count = ::getgroups(64, groups);
  std::string text = "uid=" + std::to_string(::getuid()) + "/" + std::to_string(::geteuid()) +
                     " gid=" + std::to_string(::getgid()) + "/" + std::to_string(::getegid()) +
                     " groups=";
  for (int i = 0; i < count; ++i) text += (i > 0 ? "," : "") + std::to_string(groups[i]);
  return text;
}

TEST(SwitchUidGid, doesNothingWithNeither) {
  EXPECT_EQ(inChild([] {
              const std::string before = identity();
              switchUidGid(std::nullopt, std::nullopt);
              return identity() == before ? std::string() : "changed: " + identity();
            }),
            "");
}

TEST(SwitchUidGid, anUnknownUserChangesNothing) {
  EXPECT_EQ(inChild([] {
              const std::string before = identity();
              try {
                switchUidGid("no-such-user-torsion", "root");
                return std::string("switched");
              } catch (const ProcessSetupError& e) {
                if (identity() != before) return "changed: " + identity();
                return std::string(e.what());
              }
            }),
            "No such user: 'no-such-user-torsion'");
}

class SwitchUidGidAsRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "switching ids needs root";
    nobody_ = userNamed("nobody");
    if (!nobody_) GTEST_SKIP() << "no user 'nobody'";
  }
  std::optional<passwd> nobody_;
};

TEST_F(SwitchUidGidAsRoot, dropsToTheUserAndItsPrimaryGroupForGood) {
  const std::string uid = std::to_string(nobody_->pw_uid);
  const std::string gid = std::to_string(nobody_->pw_gid);
  EXPECT_EQ(inChild([] {
              switchUidGid("nobody", std::nullopt);
              if (::setuid(0) == 0) return std::string("regained root");
              return identity();
            }),
            "uid=" + uid + "/" + uid + " gid=" + gid + "/" + gid + " groups=" + gid);
}

TEST_F(SwitchUidGidAsRoot, aGroupAloneKeepsTheUserAndDropsRootsGroups) {
  EXPECT_EQ(inChild([] {
              switchUidGid(std::nullopt, "54321");
              return identity();
            }),
            "uid=0/0 gid=54321/54321 groups=54321");
}

TEST_F(SwitchUidGidAsRoot, aUserNumberWithoutPasswdEntryNeedsAGroup) {
  EXPECT_EQ(inChild([] {
              try {
                switchUidGid("54321", std::nullopt);
                return std::string("switched");
              } catch (const ProcessSetupError& e) {
                return std::string(e.what()) + " | " + identity();
              }
            }),
            "User '54321' has no passwd entry, so no primary group: give a group too | " +
                inChild([] { return identity(); }));
  EXPECT_EQ(inChild([] {
              switchUidGid("54321", "54320");
              return identity();
            }),
            "uid=54321/54321 gid=54320/54320 groups=54320");
}

TEST_F(SwitchUidGidAsRoot, withoutPrivilegeTheErrorNamesWhatWasRefused) {
  EXPECT_EQ(inChild([&] {
              if (::setgroups(0, nullptr) != 0 || ::setgid(nobody_->pw_gid) != 0 ||
                  ::setuid(nobody_->pw_uid) != 0) {
                return std::string("couldn't drop privileges");
              }
              try {
                switchUidGid("root", "root");
                return std::string("switched");
              } catch (const ProcessSetupError& e) {
                return std::string(e.what());
              }
            }),
            "Couldn't switch to group 'root' (gid 0): Operation not permitted");
  EXPECT_EQ(inChild([&] {
              if (::setgroups(0, nullptr) != 0 || ::setgid(nobody_->pw_gid) != 0 ||
                  ::setuid(nobody_->pw_uid) != 0) {
                return std::string("couldn't drop privileges");
              }
              try {
                switchUidGid("root", std::to_string(nobody_->pw_gid));
                return std::string("switched");
              } catch (const ProcessSetupError& e) {
                return std::string(e.what());
              }
            }),
            "Couldn't switch to user 'root' (uid 0): Operation not permitted");
}

TEST_F(SwitchUidGidAsRoot, switchingToTheIdsItHasIsANoOpEvenUnprivileged) {
  EXPECT_EQ(inChild([&] {
              if (::setgroups(0, nullptr) != 0 || ::setgid(nobody_->pw_gid) != 0 ||
                  ::setuid(nobody_->pw_uid) != 0) {
                return std::string("couldn't drop privileges");
              }
              const std::string before = identity();
              switchUidGid("nobody", std::nullopt);
              return identity() == before ? std::string() : "changed: " + identity();
            }),
            "");
}

}  // namespace
}  // namespace torsion::app
