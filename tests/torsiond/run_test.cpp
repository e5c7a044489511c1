// torsiond run in the foreground (-n) as a subprocess: SIGTERM/SIGINT shut it down with status
// 0, a second one while the stop hangs ends it at once; the pid file; a port in use; the
// poll reactor; log formats, levels, files and SIGUSR1; --rundir and --umask; --workers.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "torsiond/torsiond_support.hpp"

namespace torsiond::test {
namespace {

// The pids in the "starting up (reactor: R, pid N)" lines of `log`, with their reactors.
std::vector<std::pair<std::string, pid_t>> startups(const std::string& log) {
  static const std::regex line(R"(starting up \(reactor: (\w+), pid (\d+)\))");
  std::vector<std::pair<std::string, pid_t>> found;
  for (std::sregex_iterator it(log.begin(), log.end(), line), end; it != end; ++it) {
    found.emplace_back((*it)[1].str(), static_cast<pid_t>(std::stol((*it)[2].str())));
  }
  return found;
}

class TorsiondRun : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir / name).string(); }
  RunOptions inDir() const {
    RunOptions options;
    options.cwd = dir.path().string();
    return options;
  }
  // -n, a pid file in the directory, and a wire echo service on a Unix socket there.
  std::vector<std::string> echoArgs(std::vector<std::string> before = {}) const {
    std::vector<std::string> args{"-n", "--pidfile", path("t.pid")};
    args.insert(args.end(), before.begin(), before.end());
    for (const char* a : {"wire", "--echo"}) args.emplace_back(a);
    args.push_back("unix:" + path("echo.sock"));
    return args;
  }
  void expectEchoes() const {
    const Fd client = connectUnix(path("echo.sock"));
    ASSERT_TRUE(client) << "cannot connect: " << std::strerror(errno);
    EXPECT_EQ(echo(client, "ping\r\n"), "ping\r\n");
  }

  TempDir dir;
};

TEST_F(TorsiondRun, sigtermShutsItDownWithStatusZeroAndRemovesThePidFile) {
  Torsiond t(echoArgs(), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  const auto started = startups(t.out());
  ASSERT_EQ(started.size(), 1u) << t.out();
  EXPECT_EQ(started[0].second, t.pid());
  EXPECT_EQ(readFile(path("t.pid")), std::to_string(t.pid()) + "\n");
  expectEchoes();

  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  EXPECT_TRUE(contains(t.out(), "Received SIGTERM, shutting down.")) << t.out();
  EXPECT_TRUE(contains(t.out(), "Main loop terminated.")) << t.out();
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
  EXPECT_EQ(t.err(), "");
}

TEST_F(TorsiondRun, anOpenConnectionDoesNotHoldTheShutdown) {
  Torsiond t(echoArgs(), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  const Fd client = connectUnix(path("echo.sock"));
  ASSERT_TRUE(client);
  ASSERT_EQ(echo(client, "x"), "x");
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  EXPECT_EQ(readToEnd(client), "") << "the connection was closed when the process ended";
}

TEST_F(TorsiondRun, sigintShutsItDownGracefullyToo) {
  Torsiond t(echoArgs(), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  t.signal(SIGINT);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  EXPECT_TRUE(contains(t.out(), "Received SIGINT, shutting down.")) << t.out();
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
}

// "starting up" is the runner's word that the application runs; a SIGTERM sent as soon as it
// is read must be a graceful stop, not the default action of the signal (which would leave
// the pid file behind and lose the --state). Repeated because the window is short.
TEST_F(TorsiondRun, aSigtermAsSoonAsItSaysStartingUpIsGraceful) {
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    Torsiond t(echoArgs(), inDir());
    ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
    t.signal(SIGTERM);
    ASSERT_EQ(t.wait(), 0) << t.out() << t.err();
    ASSERT_FALSE(std::filesystem::exists(path("t.pid")));
  }
}

TEST_F(TorsiondRun, aSecondSigtermWhileTheStopHangsExitsAtOnce) {
  RunOptions options = pluginPath(kTestPluginDir + "/hang");
  options.cwd = dir.path().string();
  Torsiond t({"-n", "--pidfile", path("t.pid"), "hang"}, options);
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  t.signal(SIGTERM);
  ASSERT_TRUE(t.waitForOutput("stopService called")) << t.out() << t.err();
  EXPECT_FALSE(t.hasExited()) << "the first SIGTERM waits for the stop";
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 128 + SIGTERM) << t.out() << t.err();
  EXPECT_TRUE(contains(t.out(), "again, exiting at once")) << t.out();
}

TEST_F(TorsiondRun, aSigintAfterASigtermAlsoExitsAtOnce) {
  RunOptions options = pluginPath(kTestPluginDir + "/hang");
  options.cwd = dir.path().string();
  Torsiond t({"-n", "--pidfile", "", "hang"}, options);
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  t.signal(SIGTERM);
  ASSERT_TRUE(t.waitForOutput("stopService called")) << t.out() << t.err();
  t.signal(SIGINT);
  EXPECT_EQ(t.wait(), 128 + SIGINT) << t.out() << t.err();
}

// ---- the pid file ------------------------------------------------------------------------

TEST_F(TorsiondRun, aPidFileNamingALiveProcessIsRefused) {
  // The test's own pid: alive, and not torsiond's.
  const std::string live = std::to_string(::getpid());
  writeFile(path("t.pid"), live + "\n");
  Torsiond t(echoArgs(), inDir());
  EXPECT_EQ(t.wait(), 1) << t.out() << t.err();
  const std::string line = oneLine(t.err());
  EXPECT_FALSE(line.empty()) << "not one line:\n" << t.err();
  EXPECT_TRUE(contains(line, path("t.pid"))) << line;
  EXPECT_TRUE(contains(line, "PID " + live)) << line;
  EXPECT_EQ(readFile(path("t.pid")), live + "\n") << "left alone";
  EXPECT_FALSE(std::filesystem::exists(path("echo.sock"))) << "it never listened";
}

TEST_F(TorsiondRun, aStalePidFileIsReplaced) {
  pid_t dead;
  {
    torsion::test::Child child([] { return 0; });
    dead = child.pid();
    ASSERT_EQ(child.wait(), 0);
  }
  writeFile(path("t.pid"), std::to_string(dead) + "\n");
  Torsiond t(echoArgs(), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  EXPECT_EQ(readFile(path("t.pid")), std::to_string(t.pid()) + "\n");
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
}

TEST_F(TorsiondRun, theDefaultPidFileIsTorsiondPidInTheRundir) {
  TempDir rundir;
  Torsiond t({"-n", "--rundir", rundir.path().string(), "wire", "--echo", "unix:echo.sock"},
             inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  EXPECT_EQ(readFile(rundir / "torsiond.pid"), std::to_string(t.pid()) + "\n");
  EXPECT_TRUE(connectUnix(rundir / "echo.sock")) << "relative endpoints are in the rundir";
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  EXPECT_FALSE(std::filesystem::exists(rundir / "torsiond.pid"));
  EXPECT_FALSE(std::filesystem::exists(dir / "torsiond.pid"));
}

TEST_F(TorsiondRun, aMissingRundirIsAnErrorNamingIt) {
  Torsiond t({"-n", "--rundir", path("nowhere"), "wire", "--echo", "unix:e.sock"}, inDir());
  EXPECT_EQ(t.wait(), 1) << t.out() << t.err();
  EXPECT_TRUE(contains(oneLine(t.err()), path("nowhere"))) << t.err();
}

// ---- a port in use -----------------------------------------------------------------------

TEST_F(TorsiondRun, aPortInUseExitsWithStatusOneAndSaysSoOnStderr) {
  const TcpListener taken;
  const std::string port = std::to_string(taken.port);
  Torsiond t(
      {"-n", "--pidfile", path("t.pid"), "wire", "--echo", "tcp:" + port + ":interface=127.0.0.1"},
      inDir());
  EXPECT_EQ(t.wait(), 1) << t.out() << t.err();
  EXPECT_TRUE(contains(t.err(), "Address already in use")) << t.err();
  EXPECT_TRUE(contains(t.err(), port)) << "the port is named: " << t.err();
  EXPECT_FALSE(std::filesystem::exists(path("t.pid"))) << "removed on the way out";
}

// ---- reactors and logs -------------------------------------------------------------------

TEST_F(TorsiondRun, thePollReactorRunsTheApplication) {
  Torsiond t(echoArgs({"--reactor", "poll"}), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  const auto started = startups(t.out());
  ASSERT_EQ(started.size(), 1u) << t.out();
  EXPECT_EQ(started[0].first, "poll");
  expectEchoes();
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
}

TEST_F(TorsiondRun, theDefaultReactorIsEpoll) {
  Torsiond t(echoArgs(), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  const auto started = startups(t.out());
  ASSERT_EQ(started.size(), 1u) << t.out();
  EXPECT_EQ(started[0].first, "epoll");
}

TEST_F(TorsiondRun, jsonLogFormatWritesOneJsonObjectPerLine) {
  Torsiond t(echoArgs({"--log-format", "json"}), inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  t.signal(SIGTERM);
  ASSERT_EQ(t.wait(), 0) << t.out() << t.err();
  const auto lines = linesOf(t.out());
  ASSERT_GE(lines.size(), 3u) << t.out();
  std::vector<std::string> texts;
  for (const std::string& line : lines) {
    const auto event = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(event.is_object()) << "not a JSON object: " << line;
    EXPECT_TRUE(event.contains("log_level")) << line;
    EXPECT_TRUE(event.contains("log_namespace")) << line;
    EXPECT_TRUE(event.contains("log_time")) << line;
    texts.push_back(event.value("log_text", ""));
  }
  auto has = [&](const std::string& text) {
    for (const auto& t : texts) {
      if (contains(t, text)) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("starting up")) << t.out();
  EXPECT_TRUE(has("Received SIGTERM, shutting down.")) << t.out();
}

TEST_F(TorsiondRun, logLevelWarnLeavesInfoEventsOut) {
  Torsiond t(echoArgs({"--log-level", "warn"}), inDir());
  const Fd client = connectWhenReady([&] { return connectUnix(path("echo.sock")); });
  ASSERT_TRUE(client) << t.out() << t.err();
  ASSERT_EQ(echo(client, "x"), "x");
  // No "starting up" to wait for: the echo's answer shows that the reactor runs, hence that
  // its signal handlers are in place.
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  EXPECT_EQ(t.out(), "") << "info events were logged";
}

TEST_F(TorsiondRun, aLogFileGetsTheEventsAndSigusr1ReopensIt) {
  const std::string log = path("t.log");
  Torsiond t(echoArgs({"-l", log}), inDir());
  ASSERT_TRUE(waitForFileContaining(log, "starting up")) << readFile(log) << t.err();
  EXPECT_EQ(t.out(), "") << "nothing on stdout with a log file";

  // What logrotate does: move the file away, then ask for a new one.
  std::filesystem::rename(log, path("t.log.old"));
  t.signal(SIGUSR1);
  ASSERT_TRUE(waitForFileContaining(log, "reopened")) << t.err();
  expectEchoes();
  t.signal(SIGTERM);
  ASSERT_EQ(t.wait(), 0) << t.out() << t.err();

  const std::string before = readFile(path("t.log.old"));
  const std::string after = readFile(log);
  EXPECT_TRUE(contains(before, "starting up")) << before;
  EXPECT_FALSE(contains(before, "shutting down")) << before;
  EXPECT_TRUE(contains(after, "Received SIGTERM, shutting down.")) << after;
  EXPECT_TRUE(contains(after, "Main loop terminated.")) << after;
  EXPECT_FALSE(contains(after, "starting up")) << after;
}

TEST_F(TorsiondRun, aLogFileIsCreatedUnderTheGivenUmask) {
  const std::string log = path("t.log");
  Torsiond t(echoArgs({"-l", log, "--umask", "027"}), inDir());
  ASSERT_TRUE(waitForFileContaining(log, "starting up")) << t.err();
  struct stat info {};
  ASSERT_EQ(::stat(log.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0640u);
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.err();
}

TEST_F(TorsiondRun, withoutUmaskTheForegroundProcessKeepsTheInheritedOne) {
  const std::string log = path("t.log");
  const mode_t previous = ::umask(022);
  Torsiond t(echoArgs({"-l", log}), inDir());
  ::umask(previous);
  ASSERT_TRUE(waitForFileContaining(log, "starting up")) << t.err();
  struct stat info {};
  ASSERT_EQ(::stat(log.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.err();
}

// ---- --uid / --gid -----------------------------------------------------------------------

// The real, effective, saved and filesystem ids of `pid` from /proc ("Uid:" or "Gid:").
std::string idsOf(pid_t pid, const std::string& which) {
  for (const std::string& line : linesOf(readFile("/proc/" + std::to_string(pid) + "/status"))) {
    if (line.rfind(which + ":", 0) == 0) return line.substr(which.size() + 1);
  }
  return {};
}

TEST_F(TorsiondRun, uidAndGidAreTakenAfterListening) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  const std::string uid = std::to_string(nobody->pw_uid);
  const std::string gid = std::to_string(nobody->pw_gid);
  // The socket is made in a directory only root may enter: listening happened before the
  // switch, or it could not have.
  Torsiond t({"-n", "--pidfile", "", "--uid", "nobody", "--gid", gid, "wire", "--echo",
              "unix:" + path("echo.sock")},
             inDir());
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  EXPECT_EQ(idsOf(t.pid(), "Uid"), "\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(idsOf(t.pid(), "Gid"), "\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid);
  expectEchoes();
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
}

TEST_F(TorsiondRun, anUnknownUserStopsTheStartNamingIt) {
  Torsiond t({"-n", "--pidfile", path("t.pid"), "--uid", "no-such-user-here", "wire", "--echo",
              "unix:" + path("echo.sock")},
             inDir());
  EXPECT_EQ(t.wait(), 1) << t.out() << t.err();
  EXPECT_TRUE(contains(oneLine(t.err()), "no-such-user-here")) << t.err();
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
}

// ---- --workers ---------------------------------------------------------------------------

TEST_F(TorsiondRun, twoWorkersShareThePortAndSigtermStopsThemAll) {
  const std::uint16_t port = freeTcpPort();
  Torsiond t({"-n", "--pidfile", path("t.pid"), "--workers", "2", "wire", "--echo",
              "tcp:" + std::to_string(port) + ":interface=127.0.0.1"},
             inDir());
  ASSERT_TRUE(t.waitForOutput("2 workers running")) << t.out() << t.err();
  const auto started = startups(t.out());
  ASSERT_EQ(started.size(), 2u) << t.out();
  std::set<pid_t> workers;
  for (const auto& [reactor, pid] : started) {
    workers.insert(pid);
    EXPECT_NE(pid, t.pid());
    EXPECT_EQ(parentOf(pid), t.pid()) << "worker " << pid << " is the supervisor's child";
  }
  ASSERT_EQ(workers.size(), 2u) << t.out();
  EXPECT_EQ(readFile(path("t.pid")), std::to_string(t.pid()) + "\n") << "the supervisor's pid";

  for (int i = 0; i < 20; ++i) {
    const Fd client = connectTcp(port);
    ASSERT_TRUE(client) << "connection " << i;
    EXPECT_EQ(echo(client, "n" + std::to_string(i)), "n" + std::to_string(i));
  }

  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
  for (pid_t pid : workers) {
    EXPECT_TRUE(waitGone(pid)) << "worker " << pid << " still runs";
  }
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
  EXPECT_FALSE(connectTcp(port)) << "nobody listens any more";
}

TEST_F(TorsiondRun, aWorkerThatCannotListenFailsTheStart) {
  const TcpListener taken;
  Torsiond t({"-n", "--pidfile", path("t.pid"), "--workers", "2", "wire", "--echo",
              "tcp:" + std::to_string(taken.port) + ":interface=127.0.0.1"},
             inDir());
  EXPECT_EQ(t.wait(), 1) << t.out() << t.err();
  EXPECT_TRUE(contains(t.err(), "Address already in use")) << t.err();
  for (const auto& [reactor, pid] : startups(t.out())) {
    EXPECT_TRUE(waitGone(pid)) << "worker " << pid << " left running";
  }
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
}

}  // namespace
}  // namespace torsiond::test
