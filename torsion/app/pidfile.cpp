#include "torsion/app/pidfile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "torsion/log/logger.hpp"

namespace torsion::app {
namespace {

const Logger& log() {
  static const Logger logger("torsion.app.pidfile");
  return logger;
}

std::string inQuotes(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

std::string errnoText(int error) { return std::strerror(error); }

// A pid file as found on disk: the pid it names and which file it was (to tell, after moving
// it aside, whether it was still the same file).
struct Found {
  pid_t pid = 0;
  dev_t device = 0;
  ino_t inode = 0;
};

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// The pid in `text`: a positive decimal number, optionally surrounded by white space.
std::optional<pid_t> parsePid(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > std::numeric_limits<pid_t>::max()) return std::nullopt;
  }
  if (value <= 0) return std::nullopt;  // 0 and -1 would make kill() signal process groups
  return static_cast<pid_t>(value);
}

// The file at `path`, or nullopt if there is none. Throws PidFileError for garbage.
std::optional<Found> readFound(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw PidFileError(path, "Couldn't read pid file " + inQuotes(path) + ": " + errnoText(errno));
  }
  char buffer[64];
  std::size_t length = 0;
  int error = 0;
  struct stat info {};
  if (::fstat(fd, &info) != 0) error = errno;
  while (error == 0 && length < sizeof buffer) {
    const ssize_t got = ::read(fd, buffer + length, sizeof buffer - length);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) error = errno;
    if (got <= 0) break;
    length += static_cast<std::size_t>(got);
  }
  ::close(fd);
  if (error != 0) {
    throw PidFileError(path, "Couldn't read pid file " + inQuotes(path) + ": " + errnoText(error));
  }
  const std::optional<pid_t> pid =
      length < sizeof buffer ? parsePid(std::string_view(buffer, length)) : std::nullopt;
  if (!pid) {
    throw PidFileError(path,
                       "Pid file " + inQuotes(path) +
                           " contains a non-numeric value; remove it if no server runs there");
  }
  return Found{*pid, info.st_dev, info.st_ino};
}

bool isRunning(pid_t pid) {
  if (pid == ::getpid()) return false;  // it is us, and we have not written it: a leftover
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Writes "<pid>\n" to a new file at `path` (which must not exist).
int writeNewFile(const std::filesystem::path& path, pid_t pid) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  const std::string text = std::to_string(pid) + "\n";
  std::size_t done = 0;
  int error = 0;
  while (done < text.size()) {
    const ssize_t wrote = ::write(fd, text.data() + done, text.size() - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      error = errno;
      break;
    }
    done += static_cast<std::size_t>(wrote);
  }
  if (::close(fd) != 0 && error == 0 && errno != EINTR) error = errno;
  if (error != 0) ::unlink(path.c_str());
  return error;
}

std::filesystem::path sibling(const std::filesystem::path& path, std::string_view what, pid_t pid) {
  std::filesystem::path result = path;
  result += ".";
  result += what;
  result += ".";
  result += std::to_string(pid);
  return result;
}

// Moves a stale file out of the way, unless it changed since it was judged stale.
void removeStale(const std::filesystem::path& path, const Found& found, pid_t self) {
  // rename, then compare, so that a fresh file another process put there in the meantime is
  // never deleted: if what was moved aside is not the file judged stale, it goes back.
  const std::filesystem::path aside = sibling(path, "stale", self);
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    if (errno == ENOENT) return;  // someone else removed it: look again
    throw PidFileError(
        path, "Couldn't remove stale pid file " + inQuotes(path) + ": " + errnoText(errno));
  }
  struct stat info {};
  const bool same = ::lstat(aside.c_str(), &info) == 0 && info.st_dev == found.device &&
                    info.st_ino == found.inode;
  if (same) {
    log().warn("Removing stale pid file {path} (PID {pid} is not running)",
               {{"path", path.string()}, {"pid", found.pid}});
  } else {
    (void)::link(aside.c_str(), path.c_str());  // EEXIST: a third process won; look again
  }
  ::unlink(aside.c_str());
}

}  // namespace

AlreadyRunning::AlreadyRunning(std::filesystem::path path, pid_t pid)
    : PidFileError(path, "Another server is running, PID " + std::to_string(pid) + " (pid file " +
                             inQuotes(path) +
                             "): run this one in another directory or give it another --pidfile"),
      pid_(pid) {}

PidFileStatus readPidFile(const std::filesystem::path& path) {
  const std::optional<Found> found = readFound(path);
  if (!found) return {};
  return {isRunning(found->pid) ? PidFileStatus::State::running : PidFileStatus::State::stale,
          found->pid};
}

void checkPidFile(const std::filesystem::path& path) {
  const PidFileStatus status = readPidFile(path);
  if (status.state == PidFileStatus::State::running) throw AlreadyRunning(path, status.pid);
}

PidFile PidFile::acquire(std::filesystem::path path) {
  const pid_t self = ::getpid();
  const std::filesystem::path temporary = sibling(path, "new", self);
  ::unlink(temporary.c_str());  // a leftover of an earlier process that had our pid
  if (const int error = writeNewFile(temporary, self); error != 0) {
    throw PidFileError(path, "Couldn't write pid file " + inQuotes(path) + ": " + errnoText(error));
  }
  struct RemoveTemporary {
    const std::filesystem::path& file;
    ~RemoveTemporary() { ::unlink(file.c_str()); }
  } removeTemporary{temporary};

  // Each round either takes the file, refuses, or removes a stale one; a round repeats only
  // when another process changed the file in between, so a few rounds are plenty.
  constexpr int kRounds = 16;
  for (int round = 0; round < kRounds; ++round) {
    if (::link(temporary.c_str(), path.c_str()) == 0) return PidFile(std::move(path), self);
    int error = errno;
    if (error == EPERM || error == ENOTSUP || error == EOPNOTSUPP || error == EMLINK) {
      // No hard links here: create it exclusively (a reader may briefly see it empty).
      error = writeNewFile(path, self);
      if (error == 0) return PidFile(std::move(path), self);
    }
    if (error != EEXIST) {
      throw PidFileError(path,
                         "Couldn't write pid file " + inQuotes(path) + ": " + errnoText(error));
    }
    const std::optional<Found> found = readFound(path);
    if (!found) continue;  // removed in the meantime
    if (isRunning(found->pid)) throw AlreadyRunning(path, found->pid);
    removeStale(path, *found, self);
  }
  throw PidFileError(
      path, "Couldn't write pid file " + inQuotes(path) + ": other processes keep replacing it");
}

PidFile::PidFile(PidFile&& other) noexcept
    : path_(std::move(other.path_)), pid_(std::exchange(other.pid_, 0)) {}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    pid_ = std::exchange(other.pid_, 0);
  }
  return *this;
}

PidFile::~PidFile() { release(); }

void PidFile::release() noexcept {
  const pid_t pid = std::exchange(pid_, 0);
  if (pid == 0 || pid != ::getpid()) return;
  try {
    const std::optional<Found> found = readFound(path_);
    if (found && found->pid == pid && ::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      // Typically after --uid: the new user may not write the pid file's directory. The
      // next start finds the file stale and replaces it; twistd warns the same way.
      log().warn("Could not remove the pid file {path}: {why}",
                 {{"path", path_.string()}, {"why", errnoText(errno)}});
    }
  } catch (...) {
    // Garbage or unreadable: not ours any more, so not ours to remove.
  }
}

}  // namespace torsion::app
