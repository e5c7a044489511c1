// The runner behind `torsiond [options] PLUGIN [plugin options]` (Twisted's twistd: options in
// section 4 of the reference). The program itself (apps/torsiond) is torsiondMain().
//
// What a run does, in twistd's order: change to --rundir; refuse a live --pidfile; daemonise
// unless -n (the launching command waits on a status pipe and exits 0 once the application
// has started, or prints the error and exits non-zero); set the umask; start logging
// (--logfile, --syslog, --log-format, --log-level); write the pid file; build the plugin's
// service tree under an Application; restore --state; privilegedStartService(); switch to
// --uid/--gid; startService(); run the reactor until SIGTERM/SIGINT (a second one exits at
// once); stop the tree (waited for); save --state unless --no-save; remove the pid file.
//
// Exit status: 0 after a clean run; 1 when the application cannot start (a port in use, a
// live pid file, a state file that cannot be read); 2 for a bad command line, an unknown
// plugin or a bad endpoint string, with one line naming what is wrong.
#pragma once

#include <sys/types.h>

#include <iosfwd>
#include <optional>
#include <string>

#include "torsion/app/plugin.hpp"
#include "torsion/log/level.hpp"

namespace torsion::app {

struct RunnerOptions {
  bool nodaemon = false;
  // Empty: no pid file.
  std::string pidfile = "torsiond.pid";
  // "-" is stdout. Unset: stdout with -n, else "torsiond.log".
  std::optional<std::string> logfile;
  // Rotate the log file when it passes this many bytes (0: never).
  std::uint64_t logRotateLength = 1'000'000;
  std::string logFormat = "text";  // text | json
  LogLevel logLevel = LogLevel::info;
  bool syslog = false;
  std::string syslogPrefix = "torsiond";
  std::string rundir = ".";
  std::optional<mode_t> umask;
  std::string uid;  // name or number; empty: unchanged
  std::string gid;
  std::string reactor;  // epoll | poll; empty: TORSION_REACTOR or epoll
  int workers = 1;
  std::string stateFile;  // empty: no persistence
  bool noSave = false;

  ServiceMaker* plugin = nullptr;
};

struct ParseOutcome {
  // Set when the process should exit now with this status (help or version printed, or an
  // error reported on `err`).
  std::optional<int> exitStatus;
  RunnerOptions options;
};

// Parses a torsiond command line against the plugins of `registry` (each plugin's options are
// parsed into its maker). Help and version go to `out`, errors (one line) to `err`.
ParseOutcome parseCommandLine(int argc, const char* const* argv, PluginRegistry& registry,
                              std::ostream& out, std::ostream& err);

// Runs the plugin as the options say and returns the exit status. Errors go to stderr (and to
// the launching command through the status pipe when daemonised).
int runApplication(const RunnerOptions& options);

// torsiond's main(): built-in plugins plus those on TORSION_PLUGIN_PATH, parse, run.
int torsiondMain(int argc, char** argv);

}  // namespace torsion::app
