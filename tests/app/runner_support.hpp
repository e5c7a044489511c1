// Helpers for the process-level runner tests (pid file, log file, daemon): a temporary
// directory, forked child processes waited for with a time limit, and small file helpers.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace torsion::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/torsion-app-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void writeFile(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// A pipe whose ends close themselves.
struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
    read = fds[0];
    write = fds[1];
  }
  ~Pipe() {
    closeRead();
    closeWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void closeRead() {
    if (read >= 0) ::close(read);
    read = -1;
  }
  void closeWrite() {
    if (write >= 0) ::close(write);
    write = -1;
  }
};

// Waits until `fd` is readable (or at EOF); false after `limit`.
inline bool waitReadable(int fd, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  pollfd entry{fd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, static_cast<int>(limit.count()));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

// Reads what `fd` delivers until EOF, waiting at most `limit` for each chunk; nullopt if it
// timed out first.
inline std::optional<std::string> readToEnd(
    int fd, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  std::string out;
  char buffer[4096];
  for (;;) {
    if (!waitReadable(fd, limit)) return std::nullopt;
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return out;
    out.append(buffer, static_cast<std::size_t>(got));
  }
}

// Reads exactly one byte from `fd`, or nullopt on EOF or timeout.
inline std::optional<char> readByte(int fd,
                                    std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  char c = 0;
  if (!waitReadable(fd, limit)) return std::nullopt;
  ssize_t got;
  do {
    got = ::read(fd, &c, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) return std::nullopt;
  return c;
}

inline void writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t wrote = ::write(fd, data.data(), data.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(wrote));
  }
}

// A forked child process running `body`; its return value is the exit status (an exception
// escaping it gives 99). The child leaves with _exit, never returning into the test runner.
// Only fork from a test process that runs no other thread (the body may then allocate).
class Child {
 public:
  explicit Child(const std::function<int()>& body) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
      int status = 99;
      try {
        status = body();
      } catch (...) {
      }
      ::_exit(status);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const { return pid_ <= 0; }

  // The child's exit status (128 + signal if a signal killed it); waits at most `limit`, then
  // kills it and returns -1.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const pid_t pid = std::exchange(pid_, 0);
    return pid > 0 ? waitForExit(pid, limit) : -1;
  }

  // True while the child has not exited (it is not reaped).
  bool running() const {
    siginfo_t info{};
    return pid_ > 0 &&
           ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
  }

  // Waits for a child of this process (made by fork, or an orphan adopted as its subreaper)
  // to exit, at most `limit`, then kills it: the exit status (128 + signal), or -1 if it had
  // to be killed. Waiting is a poll on a pidfd, so it needs no sleep.
  static int waitForExit(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    bool killed = false;
    // glibc 2.36's <sys/pidfd.h> lacks extern "C", hence the raw system call.
    if (const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); pidfd >= 0) {
      killed = !waitReadable(pidfd, limit);
      ::close(pidfd);
      if (killed) ::kill(pid, SIGKILL);
    }
    int status = 0;
    pid_t got;
    do {
      got = ::waitpid(pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    if (got < 0 || killed) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

}  // namespace torsion::test
