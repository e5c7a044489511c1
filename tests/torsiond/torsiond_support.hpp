// Helpers for the torsiond integration tests: the program run as a subprocess with its output
// captured, waits that are bounded and never sleep (poll() on pipes, on a pidfd, on an
// inotify descriptor), and small blocking clients over loopback and Unix sockets.
//
// TORSIOND_PATH and the plugin directories come from tests/CMakeLists.txt.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "app/runner_support.hpp"

extern char** environ;

#ifndef TORSIOND_PATH
#error "tests/CMakeLists.txt defines TORSIOND_PATH"
#endif

namespace torsiond::test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Generous: the ASan build under a loaded machine is slow, and a wait that runs out is a
// failure, never a pass.
inline constexpr milliseconds kLimit{30'000};

inline const std::string kTorsiond = TORSIOND_PATH;
inline const std::string kTestPluginDir = TORSIOND_TEST_PLUGIN_DIR;

using torsion::test::readFile;
using torsion::test::TempDir;
using torsion::test::writeFile;

// Milliseconds left until `deadline` (0 when past), for poll().
inline int msLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// poll() that restarts after EINTR with the time left; the number of ready descriptors.
inline int pollUntil(pollfd* fds, nfds_t count, Clock::time_point deadline) {
  for (;;) {
    const int ready = ::poll(fds, count, msLeft(deadline));
    if (ready >= 0 || errno != EINTR) return ready;
  }
}

// A descriptor that closes itself.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// glibc 2.36's <sys/pidfd.h> lacks extern "C", hence the raw system call.
inline Fd pidfdOpen(pid_t pid) { return Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

// Waits until process `pid` (a child or not) has exited; false after `limit`. A pidfd turns
// readable when the process ends, zombie or reaped.
inline bool waitGone(pid_t pid, milliseconds limit = kLimit) {
  Fd pidfd = pidfdOpen(pid);
  if (!pidfd) return errno == ESRCH;
  pollfd entry{pidfd.get(), POLLIN, 0};
  return pollUntil(&entry, 1, Clock::now() + limit) > 0;
}

// True while `pid` runs (exists and is not a zombie).
inline bool isRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;
  return text[paren + 2] != 'Z' && text[paren + 2] != 'X';
}

// The parent pid of `pid`, from /proc (0 when unknown).
inline pid_t parentOf(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  char state = 0;
  long ppid = 0;
  if (std::sscanf(text.c_str() + paren + 1, " %c %ld", &state, &ppid) != 2) return 0;
  return static_cast<pid_t>(ppid);
}

inline std::vector<std::string> linesOf(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

inline bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Waits until the file at `path` exists and contains `text`; false after `limit`. An inotify
// watch on its directory wakes the wait on every change, so nothing sleeps or spins.
inline bool waitForFileContaining(const std::filesystem::path& path, std::string_view text,
                                  milliseconds limit = kLimit) {
  const auto deadline = Clock::now() + limit;
  Fd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!inotify) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  if (::inotify_add_watch(inotify.get(), path.parent_path().c_str(),
                          IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    throw std::system_error(errno, std::generic_category(), "inotify_add_watch");
  }
  for (;;) {
    // Checked after the watch exists, so a change between the check and the poll wakes it.
    if (contains(readFile(path), text)) return true;
    pollfd entry{inotify.get(), POLLIN, 0};
    if (pollUntil(&entry, 1, deadline) <= 0) return contains(readFile(path), text);
    char events[4096];
    while (::read(inotify.get(), events, sizeof events) > 0) {
    }
  }
}

// The environment of a torsiond run: the test's own, minus the variables torsiond reads
// (so that the ctest environment cannot change a test), plus `extra`.
inline std::vector<std::string> environmentWith(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string name(entry.substr(0, entry.find('=')));
    if (name == "TORSION_PLUGIN_PATH" || name == "TORSION_REACTOR" || extra.count(name) != 0) {
      continue;
    }
    env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

struct RunOptions {
  std::map<std::string, std::string> env;  // added to the environment
  std::string cwd;                         // the directory it starts in (empty: unchanged)
};

// Runs with TORSION_PLUGIN_PATH set to `path`.
inline RunOptions pluginPath(const std::string& path) {
  RunOptions options;
  options.env["TORSION_PLUGIN_PATH"] = path;
  return options;
}

// torsiond as a child process: stdin from /dev/null, stdout and stderr into pipes that are
// read while waiting (so it never blocks on a full pipe). The destructor kills it (SIGKILL)
// and reaps it if it still runs: every test ends its children.
class Torsiond {
 public:
  explicit Torsiond(const std::vector<std::string>& args, const RunOptions& options = {}) {
    // Everything the child needs is built before fork(): after it, only async-signal-safe
    // calls until exec.
    std::vector<std::string> argvStrings{kTorsiond};
    argvStrings.insert(argvStrings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argvStrings) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> envStrings = environmentWith(options.env);
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);
    const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();

    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
      ::dup2(devNull, 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      if (cwd != nullptr && ::chdir(cwd) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(devNull);
    ::close(out[1]);
    ::close(err[1]);
    out_ = Fd(out[0]);
    err_ = Fd(err[0]);
    ::fcntl(out_.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_.get(), F_SETFL, O_NONBLOCK);
    pidfd_ = pidfdOpen(pid_);
    if (!pidfd_) throw std::system_error(errno, std::generic_category(), "pidfd_open");
  }

  ~Torsiond() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Torsiond(const Torsiond&) = delete;
  Torsiond& operator=(const Torsiond&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signo) const {
    if (!reaped_) ::kill(pid_, signo);
  }

  // What it wrote so far (read while waiting).
  const std::string& out() const { return outText_; }
  const std::string& err() const { return errText_; }

  // Reads its output until stdout contains `text`; false if it exited without writing it or
  // `limit` passed.
  bool waitForOutput(std::string_view text, milliseconds limit = kLimit) {
    return waitFor([&] { return contains(outText_, text); }, limit);
  }
  bool waitForStderr(std::string_view text, milliseconds limit = kLimit) {
    return waitFor([&] { return contains(errText_, text); }, limit);
  }

  // Reads until both pipes reach end of file: nothing (a daemon it left behind included)
  // holds them open any more. False after `limit`.
  bool waitForEndOfOutput(milliseconds limit = kLimit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      drain();
      if (!out_ && !err_) return true;
      pollfd fds[2] = {{out_ ? out_.get() : err_.get(), POLLIN, 0}, {err_.get(), POLLIN, 0}};
      if (pollUntil(fds, out_ && err_ ? 2 : 1, deadline) <= 0) return false;
    }
  }

  // True once the process has exited (without reaping it).
  bool hasExited() {
    pollfd entry{pidfd_.get(), POLLIN, 0};
    return reaped_ || ::poll(&entry, 1, 0) > 0;
  }

  // Waits for it to exit and returns its status (128 + the signal when a signal ended it);
  // after `limit` it is killed and -1 returned. The output written before it exited is read.
  int wait(milliseconds limit = kLimit) {
    if (reaped_) return status_;
    const bool exited = waitFor([] { return false; }, limit, /*untilExit=*/true);
    if (!exited) ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    drain();
    status_ = !exited ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return status_;
  }

 private:
  // Pumps stdout and stderr until `done()` holds (true), the process exits (with untilExit:
  // true; else false unless done() held), or the deadline (false).
  template <class Done>
  bool waitFor(Done done, milliseconds limit, bool untilExit = false) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      drain();
      if (done()) return true;
      if (reaped_) return untilExit;
      pollfd fds[3] = {{pidfd_.get(), POLLIN, 0}, {out_.get(), POLLIN, 0}, {err_.get(), POLLIN, 0}};
      const nfds_t count = 1 + (out_ ? 1 : 0) + (err_ ? 1 : 0);
      if (!out_) fds[1] = fds[2];
      const int ready = pollUntil(fds, count, deadline);
      if (ready <= 0) {
        drain();
        return done();
      }
      if (fds[0].revents != 0) {
        // Exited: what it wrote is in the pipes already (a daemon it left behind may hold
        // them open, so do not wait for end of file).
        drain();
        return untilExit || done();
      }
    }
  }

  // Reads whatever is available on both pipes without blocking.
  void drain() {
    drainOne(out_, outText_);
    drainOne(err_, errText_);
  }
  static void drainOne(Fd& fd, std::string& into) {
    if (!fd) return;
    char buffer[4096];
    for (;;) {
      const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
      if (got > 0) {
        into.append(buffer, static_cast<std::size_t>(got));
        continue;
      }
      if (got == 0) fd.reset();  // end of file
      if (got < 0 && errno == EINTR) continue;
      return;
    }
  }

  pid_t pid_ = -1;
  Fd pidfd_, out_, err_;
  std::string outText_, errText_;
  bool reaped_ = false;
  int status_ = -1;
};

// The one line of `text` (empty if it is not exactly one line ending in "\n").
inline std::string oneLine(const std::string& text) {
  if (text.empty() || text.back() != '\n' || text.find('\n') != text.size() - 1) return {};
  return text.substr(0, text.size() - 1);
}

// ---- sockets -----------------------------------------------------------------------------

// A free TCP port on 127.0.0.1: bound to port 0, read back, closed. Another process may take
// it before torsiond binds it (a small race, accepted: the kernel hands out ephemeral ports
// in sequence, so a port just released is not soon given again); the tests that do not need
// TCP use Unix sockets in a temporary directory instead.
inline std::uint16_t freeTcpPort() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// A socket listening on 127.0.0.1 (a free port): for "address already in use".
struct TcpListener {
  Fd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::uint16_t port = 0;
  TcpListener() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd.get(), 8) != 0) {
      throw std::system_error(errno, std::generic_category(), "bind/listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
};

// A blocking connection to 127.0.0.1:port; an invalid Fd if it is refused.
inline Fd connectTcp(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fd();
  return fd;
}

// A blocking connection to the Unix socket at `path`; an invalid Fd if it fails.
inline Fd connectUnix(const std::filesystem::path& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof addr.sun_path) throw std::length_error("socket path too long: " + p);
  std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fd();
  return fd;
}

// Connects with connect() retried on a bounded loop of short poll() waits, for servers whose
// readiness cannot be read from their output; an invalid Fd after `limit`.
template <class Connect>
Fd connectWhenReady(Connect connect, milliseconds limit = kLimit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (Fd fd = connect()) return fd;
    if (Clock::now() >= deadline) return Fd();
    ::poll(nullptr, 0, 20);
  }
}

inline bool sendAll(const Fd& fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

// Reads until the data ends with `terminator` (or end of file, or `limit`); what was read.
inline std::string readUntil(const Fd& fd, std::string_view terminator,
                             milliseconds limit = kLimit) {
  const auto deadline = Clock::now() + limit;
  std::string got;
  while (got.size() < terminator.size() ||
         got.compare(got.size() - terminator.size(), terminator.size(), terminator) != 0) {
    pollfd entry{fd.get(), POLLIN, 0};
    if (pollUntil(&entry, 1, deadline) <= 0) break;
    char buffer[4096];
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got;
}

// Reads until end of file (or `limit`).
inline std::string readToEnd(const Fd& fd, milliseconds limit = kLimit) {
  const auto deadline = Clock::now() + limit;
  std::string got;
  for (;;) {
    pollfd entry{fd.get(), POLLIN, 0};
    if (pollUntil(&entry, 1, deadline) <= 0) return got;
    char buffer[4096];
    const ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return got;
    got.append(buffer, static_cast<std::size_t>(n));
  }
}

// An echo round trip: sends `text`, expects it back.
inline std::string echo(const Fd& fd, const std::string& text) {
  if (!sendAll(fd, text)) return "<send failed>";
  return readUntil(fd, text);
}

}  // namespace torsiond::test
