// Turning the process into a daemon, and twistd's other process options (--umask, --rundir,
// --uid, --gid), as small functions a runner calls in order:
//
//   changeDirectory(rundir);                       // -d/--rundir
//   applyUmask(umask, daemonizing);                // --umask, 0077 by default for a daemon
//   checkPidFile(pidfile);                         // refuse at the terminal (pidfile.hpp)
//   DaemonChild status = daemonize();              // the launcher never returns from here
//   PidFile pid = PidFile::acquire(pidfile);       // the daemon's own pid
//   ... start the services (bind ports), then switchUidGid(user, group) ...
//   status.reportStarted();                        // the launcher exits 0
//   ... or on an error: status.reportFailed("Couldn't listen on ...: Address in use.");
//
// THE RULE: call daemonize() before any thread is started: before the reactor runs, before a
// ThreadPool or deferToThread, before anything that may start a thread. fork() copies only the
// calling thread, so a lock another thread held (in malloc, in stdio, in the log publisher)
// would stay locked forever in the daemon. daemonize() itself, in the launcher and between the
// forks, calls only async-signal-safe functions, so the launcher always reports; but the
// daemon's own code after daemonize() returns needs the rule.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "torsion/core/errors.hpp"

namespace torsion::app {

// A process option could not be applied (bad umask text, missing run directory, unknown user
// or group, no permission to switch): what() is one line saying which and why.
class ProcessSetupError : public Error {
 public:
  using Error::Error;
};

// The daemon's end of the status pipe that daemonize() opened to the launching process.
// Exactly one report reaches the launcher: the first of reportStarted/reportFailed, or, if the
// daemon dies or destroys this object without reporting, the end of the pipe, which the
// launcher reports as "the daemon exited before reporting that it started" with status 1.
// After the first report the pipe is closed and later reports do nothing. Reports never raise
// SIGPIPE and never throw, even if the launcher is gone (killed, or the terminal closed).
//
// The pipe is close-on-exec, but a child made with fork() (a --workers process, say) inherits
// it: report before forking such children, or close it in them with abandon().
class DaemonChild {
 public:
  // Connected to nothing: reports do nothing. What a runner uses when it does not daemonise
  // (-n), so that the same code runs in both modes.
  DaemonChild() noexcept = default;
  DaemonChild(DaemonChild&& other) noexcept;
  DaemonChild& operator=(DaemonChild&& other) noexcept;
  DaemonChild(const DaemonChild&) = delete;
  DaemonChild& operator=(const DaemonChild&) = delete;
  ~DaemonChild();  // closes the pipe: an unreported launcher then reports a death

  bool connected() const noexcept { return fd_ >= 0; }

  // The application has started (its ports listen): the launcher exits 0.
  void reportStarted() noexcept;
  // Starting failed: the launcher writes `message` and a newline to its stderr and exits with
  // `status` (1 if outside 1..255). A message longer than kMaxMessage bytes is cut there.
  void reportFailed(std::string_view message, int status = 1) noexcept;
  // Closes this process's end without reporting (in a forked worker, say). Async-signal-safe.
  void abandon() noexcept;

  static constexpr std::size_t kMaxMessage = 4000;

 private:
  friend DaemonChild daemonize();
  explicit DaemonChild(int fd) noexcept : fd_(fd) {}
  void send(const char* data, std::size_t size) noexcept;

  int fd_ = -1;
};

// Detaches the process from its terminal as twistd does: stdio is flushed, the process forks;
// the original process becomes the LAUNCHER, which blocks until the daemon reports and then
// exits (never returning); the child calls setsid() and forks again, the session leader exits,
// and the grandchild (the DAEMON, which can never reacquire a controlling terminal) points
// stdin, stdout and stderr at /dev/null and returns the DaemonChild to report through.
// The working directory and the umask are left alone (see changeDirectory and applyUmask);
// other descriptors stay open. The launcher prints what the daemon reports (see DaemonChild)
// to its stderr and exits with the status it reported; it waits as long as the daemon takes.
// Throws ProcessSetupError (in the calling process, nothing forked) if the pipe or the first
// fork cannot be made; a failure of the second fork is reported by the launcher.
DaemonChild daemonize();

// "022" -> 022: an octal number up to 0777 (twistd's --umask). Throws ProcessSetupError.
mode_t parseUmask(std::string_view text);

// Sets the umask to `umask`, or, when none is given and the process is daemonising, to 0077
// (twistd's default: a daemon's files are private unless asked otherwise). Returns the mask
// set, or nullopt if it was left alone (no umask given and not daemonising, as with -n).
std::optional<mode_t> applyUmask(std::optional<mode_t> umask, bool daemonizing);

// chdir(rundir) (twistd's -d/--rundir), or ProcessSetupError "Couldn't change directory to
// '<rundir>': <reason>".
void changeDirectory(const std::filesystem::path& rundir);

// A user or group given as a number or a name, as twistd's uidFromString/gidFromString: a
// decimal number is taken as it is, anything else is looked up (getpwnam/getgrnam).
// ProcessSetupError "No such user: 'x'" / "No such group: 'x'".
uid_t uidFromString(std::string_view user);
gid_t gidFromString(std::string_view group);

// Drops privileges to `user` and/or `group` (names or numbers; nullopt leaves that one alone),
// twistd's -u/--uid and -g/--gid. Order, so that nothing can be undone: the supplementary
// groups (initgroups to the user's groups, or just the group when the user has no passwd entry
// or only a group is given; only when running as root), then setgid, then setuid. Without a
// group the user's primary group is used; a user number with no passwd entry needs a group.
// Switching to the ids the process already has is a no-op, as in twistd (which warns). Throws
// ProcessSetupError naming the user or group: unknown, or not permitted ("Couldn't switch to
// user 'www' (uid 33): Operation not permitted").
void switchUidGid(const std::optional<std::string>& user, const std::optional<std::string>& group);

}  // namespace torsion::app
