// torsiond daemonised (no -n), as a shell would run it: the launching command returns 0 only
// once the application accepts connections, or prints the error and returns non-zero; the
// daemon has its own session, pid file, log file (under umask 0077 unless --umask), and lets
// go of the launcher's stdout and stderr; SIGTERM stops it and removes its pid file.
//
// The test process is a child subreaper (PR_SET_CHILD_SUBREAPER) while a test runs, so the
// daemon, orphaned by the double fork, becomes its child: its exit status can be read and it
// is reaped, and the fixture kills whatever daemon a failed test leaves behind.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "torsiond/torsiond_support.hpp"

namespace torsiond::test {
namespace {

// The session id of `pid` (field 6 of /proc/<pid>/stat), or 0.
pid_t sessionOf(pid_t pid) {
  const std::string text = readFile("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  char state = 0;
  long ppid = 0, pgrp = 0, session = 0;
  if (std::sscanf(text.c_str() + paren + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) !=
      4) {
    return 0;
  }
  return static_cast<pid_t>(session);
}

mode_t modeOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 07777;
  return info.st_mode & 0777;
}

class TorsiondDaemon : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
  void TearDown() override {
    for (pid_t pid : daemons_) {
      if (isRunning(pid)) ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    // Orphans of the launchers (the process between the two forks exits at once; it is
    // reaped by its parent, the launcher) are ours too while we are a subreaper.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  std::string path(const std::string& name) const { return (dir / name).string(); }
  RunOptions inDir() const {
    RunOptions options;
    options.cwd = dir.path().string();
    return options;
  }

  // Runs the launching command to its end; its status.
  int launch(const std::vector<std::string>& args, const RunOptions& options,
             std::string* err = nullptr, std::string* out = nullptr) {
    Torsiond launcher(args, options);
    const int status = launcher.wait();
    // The daemon must not keep the launcher's output open: `x=$(torsiond ...)` would hang.
    EXPECT_TRUE(launcher.waitForEndOfOutput()) << "something holds the launcher's stdout/stderr";
    if (err != nullptr) *err = launcher.err();
    if (out != nullptr) *out = launcher.out();
    launcherPid_ = launcher.pid();
    return status;
  }

  // The daemon's pid from its pid file (remembered, to be killed if the test fails).
  pid_t daemonFrom(const std::string& pidfile) {
    const std::string text = readFile(pidfile);
    if (text.empty()) return 0;
    const auto pid = static_cast<pid_t>(std::stol(text));
    daemons_.push_back(pid);
    return pid;
  }

  // Waits for the daemon (our child, as a subreaper) to exit; its status, or -1 on timeout.
  static int waitDaemon(pid_t pid) {
    if (!waitGone(pid)) return -1;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  TempDir dir;
  pid_t launcherPid_ = 0;
  std::vector<pid_t> daemons_;
};

TEST_F(TorsiondDaemon, theLauncherReturnsZeroOnceThePortAcceptsAndSigtermStopsTheDaemon) {
  const std::uint16_t port = freeTcpPort();
  std::string err, out;
  ASSERT_EQ(launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "wire", "--echo",
                    "tcp:" + std::to_string(port) + ":interface=127.0.0.1"},
                   inDir(), &err, &out),
            0)
      << err;
  EXPECT_EQ(err, "");
  EXPECT_EQ(out, "");
  // No retry: the launcher returned, so the port accepts now.
  const Fd client = connectTcp(port);
  ASSERT_TRUE(client) << "not accepting yet: " << std::strerror(errno);
  EXPECT_EQ(echo(client, "hello\r\n"), "hello\r\n");

  const pid_t daemon = daemonFrom(path("t.pid"));
  ASSERT_GT(daemon, 0);
  EXPECT_NE(daemon, launcherPid_) << "the pid file holds the daemon's pid, not the launcher's";
  EXPECT_TRUE(isRunning(daemon));
  EXPECT_NE(sessionOf(daemon), sessionOf(::getpid())) << "setsid()";
  EXPECT_NE(sessionOf(daemon), daemon) << "not a session leader: it cannot get a terminal back";
  const std::string log = readFile(path("t.log"));
  EXPECT_TRUE(contains(log, "pid " + std::to_string(daemon) + ")")) << log;

  ::kill(daemon, SIGTERM);
  EXPECT_EQ(waitDaemon(daemon), 0);
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
  EXPECT_TRUE(contains(readFile(path("t.log")), "Received SIGTERM, shutting down."))
      << readFile(path("t.log"));
  EXPECT_FALSE(connectTcp(port));
}

TEST_F(TorsiondDaemon, aSigtermAsSoonAsTheLauncherReturnsIsGraceful) {
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    ASSERT_EQ(launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "wire", "--echo",
                      "unix:" + path("e.sock")},
                     inDir()),
              0);
    const pid_t daemon = daemonFrom(path("t.pid"));
    ASSERT_GT(daemon, 0);
    ::kill(daemon, SIGTERM);
    ASSERT_EQ(waitDaemon(daemon), 0) << readFile(path("t.log"));
    ASSERT_FALSE(std::filesystem::exists(path("t.pid")));
  }
}

TEST_F(TorsiondDaemon, theDefaultUmaskIs0077AndTheDefaultLogIsTorsiondLogInTheRundir) {
  ASSERT_EQ(launch({"wire", "--echo", "unix:e.sock"}, inDir()), 0);
  const pid_t daemon = daemonFrom(path("torsiond.pid"));
  ASSERT_GT(daemon, 0);
  ASSERT_TRUE(std::filesystem::exists(path("torsiond.log")));
  EXPECT_EQ(modeOf(path("torsiond.log")), 0600u);
  EXPECT_TRUE(contains(readFile(path("torsiond.log")), "starting up"));
  ::kill(daemon, SIGTERM);
  EXPECT_EQ(waitDaemon(daemon), 0);
}

TEST_F(TorsiondDaemon, anExplicitUmaskIsUsedInstead) {
  ASSERT_EQ(launch({"--umask", "022", "-l", path("t.log"), "--pidfile", path("t.pid"), "wire",
                    "--echo", "unix:e.sock"},
                   inDir()),
            0);
  const pid_t daemon = daemonFrom(path("t.pid"));
  EXPECT_EQ(modeOf(path("t.log")), 0644u);
  ::kill(daemon, SIGTERM);
  EXPECT_EQ(waitDaemon(daemon), 0);
}

TEST_F(TorsiondDaemon, aPortInUseIsReportedByTheLaunchingCommand) {
  const TcpListener taken;
  std::string err;
  EXPECT_EQ(launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "wire", "--echo",
                    "tcp:" + std::to_string(taken.port) + ":interface=127.0.0.1"},
                   inDir(), &err),
            1);
  EXPECT_TRUE(contains(err, "Address already in use")) << err;
  EXPECT_TRUE(contains(err, std::to_string(taken.port))) << err;
  EXPECT_FALSE(std::filesystem::exists(path("t.pid"))) << "no daemon stays behind";
}

TEST_F(TorsiondDaemon, aBadEndpointIsAUsageErrorOfTheLaunchingCommand) {
  std::string err;
  EXPECT_EQ(
      launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "wire", "--echo", "tcp:notaport"},
             inDir(), &err),
      2);
  EXPECT_TRUE(contains(oneLine(err), "notaport")) << err;
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
}

TEST_F(TorsiondDaemon, aLivePidFileIsRefusedAtTheTerminal) {
  const std::string live = std::to_string(::getpid());
  writeFile(path("t.pid"), live + "\n");
  std::string err;
  EXPECT_EQ(
      launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "wire", "--echo", "unix:e.sock"},
             inDir(), &err),
      1);
  const std::string line = oneLine(err);
  EXPECT_TRUE(contains(line, path("t.pid"))) << err;
  EXPECT_TRUE(contains(line, live)) << err;
  EXPECT_EQ(readFile(path("t.pid")), live + "\n");
}

#ifdef FIBONACCI_PLUGIN_DIR
TEST_F(TorsiondDaemon, aCorruptStateFileIsReportedByTheLaunchingCommand) {
  writeFile(path("fib.json"), "not json");
  RunOptions options = pluginPath(FIBONACCI_PLUGIN_DIR);
  options.cwd = dir.path().string();
  std::string err;
  EXPECT_EQ(launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "--state", path("fib.json"),
                    "fibonacci", "--port", "unix:" + path("fib.sock")},
                   options, &err),
            1);
  EXPECT_TRUE(contains(err, path("fib.json"))) << err;
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
}

TEST_F(TorsiondDaemon, theFibonacciServerContinuesAcrossDaemonRestarts) {
  RunOptions options = pluginPath(FIBONACCI_PLUGIN_DIR);
  options.cwd = dir.path().string();
  const std::vector<std::string> args{"--pidfile",   path("t.pid"), "-l",
                                      path("t.log"), "--state",     path("fib.json"),
                                      "fibonacci",   "--port",      "unix:" + path("fib.sock")};
  auto ask = [&](const Fd& client) {
    sendAll(client, "?");
    return readUntil(client, "\r\n");
  };
  ASSERT_EQ(launch(args, options), 0);
  pid_t daemon = daemonFrom(path("t.pid"));
  {
    const Fd client = connectUnix(path("fib.sock"));
    ASSERT_TRUE(client);
    EXPECT_EQ(ask(client), "2\r\n");
    EXPECT_EQ(ask(client), "3\r\n");
  }
  ::kill(daemon, SIGTERM);
  ASSERT_EQ(waitDaemon(daemon), 0);
  EXPECT_EQ(modeOf(path("fib.json")), 0600u);

  ASSERT_EQ(launch(args, options), 0);
  daemon = daemonFrom(path("t.pid"));
  const Fd client = connectUnix(path("fib.sock"));
  ASSERT_TRUE(client);
  EXPECT_EQ(ask(client), "5\r\n");
  ::kill(daemon, SIGTERM);
  EXPECT_EQ(waitDaemon(daemon), 0);
}
#endif

TEST_F(TorsiondDaemon, workersRunDetachedAndStopTogether) {
  const std::uint16_t port = freeTcpPort();
  ASSERT_EQ(launch({"--pidfile", path("t.pid"), "-l", path("t.log"), "--workers", "2", "wire",
                    "--echo", "tcp:" + std::to_string(port) + ":interface=127.0.0.1"},
                   inDir()),
            0);
  const pid_t supervisor = daemonFrom(path("t.pid"));
  ASSERT_GT(supervisor, 0);
  for (int i = 0; i < 10; ++i) {
    const Fd client = connectTcp(port);
    ASSERT_TRUE(client) << "connection " << i;
    EXPECT_EQ(echo(client, "w"), "w");
  }
  ::kill(supervisor, SIGTERM);
  EXPECT_EQ(waitDaemon(supervisor), 0) << readFile(path("t.log"));
  EXPECT_FALSE(std::filesystem::exists(path("t.pid")));
  EXPECT_FALSE(connectTcp(port)) << "a worker still listens";
}

}  // namespace
}  // namespace torsiond::test
