#include "torsion/app/daemon.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

namespace torsion::app {
namespace {

// The status pipe carries one frame from the daemon to the launcher:
//   '0'                                       started
//   '1' <status byte> <length: 2 bytes, big-endian> <message>   failed
// The frame says how long it is, so the launcher needs no end-of-file to know it has all of it
// (a worker that inherited the pipe may keep it open). The "pipe" is a socket pair, so that
// the daemon can send with MSG_NOSIGNAL.
constexpr char kStarted = '0';
constexpr char kFailed = '1';
constexpr std::size_t kHeader = 4;
static_assert(DaemonChild::kMaxMessage <= 0xffff);  // the length field

constexpr char kDiedMessage[] =
    "The daemon exited before it reported that it started; see its log file for why.\n";

// --- async-signal-safe helpers (used in the launcher and between the forks) ---

void writeAllSafe(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    const ssize_t wrote = ::write(fd, data, size);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return;
    data += wrote;
    size -= static_cast<std::size_t>(wrote);
  }
}

void sendAllSafe(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    // MSG_NOSIGNAL: a launcher that is gone must not kill the daemon with SIGPIPE.
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
}

std::size_t appendSafe(char* out, std::size_t at, std::size_t capacity, const char* text) noexcept {
  while (*text != '\0' && at < capacity) out[at++] = *text++;
  return at;
}

// Sends a failure frame "<what>: <strerror>" and leaves: for the process between the forks.
[[noreturn]] void failBeforeDaemon(int fd, const char* what, int error) noexcept {
  char frame[kHeader + 256];
  std::size_t length = kHeader;
  length = appendSafe(frame, length, sizeof frame, "Couldn't daemonize: ");
  length = appendSafe(frame, length, sizeof frame, what);
  length = appendSafe(frame, length, sizeof frame, ": ");
  // strerrordesc_np returns a constant string: no locale, no allocation.
  const char* reason = ::strerrordesc_np(error);
  length = appendSafe(frame, length, sizeof frame, reason != nullptr ? reason : "unknown error");
  const std::size_t message = length - kHeader;
  frame[0] = kFailed;
  frame[1] = 1;
  frame[2] = static_cast<char>((message >> 8) & 0xff);
  frame[3] = static_cast<char>(message & 0xff);
  sendAllSafe(fd, frame, length);
  ::_exit(1);
}

// The original process: waits for the daemon's frame, says what it means, and exits.
[[noreturn]] void runLauncher(int fd, pid_t firstChild) noexcept {
  char frame[kHeader + DaemonChild::kMaxMessage];
  std::size_t have = 0;
  for (;;) {
    if (have >= 1 && frame[0] == kStarted) break;
    if (have >= kHeader) {
      const std::size_t length =
          (static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]);
      if (have >= kHeader + length) break;
    }
    if (have == sizeof frame) break;
    const ssize_t got = ::read(fd, frame + have, sizeof frame - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // end of file: every holder of the daemon's end is gone
    have += static_cast<std::size_t>(got);
  }
  ::close(fd);
  // Reap the process between the forks (it exits right after the second fork).
  while (::waitpid(firstChild, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (have >= 1 && frame[0] == kStarted) ::_exit(0);
  if (have >= kHeader && frame[0] == kFailed) {
    const int status = static_cast<unsigned char>(frame[1]);
    std::size_t length =
        (static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]);
    if (length > have - kHeader) length = have - kHeader;
    writeAllSafe(STDERR_FILENO, frame + kHeader, length);
    if (length == 0 || frame[kHeader + length - 1] != '\n') writeAllSafe(STDERR_FILENO, "\n", 1);
    ::_exit(status);
  }
  writeAllSafe(STDERR_FILENO, kDiedMessage, sizeof kDiedMessage - 1);
  ::_exit(1);
}

// A descriptor numbered 3 or more, so that pointing 0-2 at /dev/null cannot close it (the
// caller may have started with stdin, stdout or stderr closed).
int aboveStdio(int fd) noexcept {
  if (fd > STDERR_FILENO) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  ::close(fd);
  return moved;
}

std::string inQuotes(std::string_view text) { return "'" + std::string(text) + "'"; }

// --- users and groups ---

struct UserEntry {
  uid_t uid;
  gid_t gid;
  std::string name;
};

std::size_t lookupBufferSize(int which) {
  const long hint = ::sysconf(which);
  return hint > 0 ? static_cast<std::size_t>(hint) : 16384;
}

// getpwnam_r/getpwuid_r with a buffer that grows until the entry fits.
template <class Lookup>
std::optional<UserEntry> lookupUser(Lookup lookup) {
  std::vector<char> buffer(lookupBufferSize(_SC_GETPW_R_SIZE_MAX));
  for (;;) {
    passwd entry{};
    passwd* found = nullptr;
    const int error = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (error != 0 || found == nullptr) return std::nullopt;
    return UserEntry{entry.pw_uid, entry.pw_gid, entry.pw_name};
  }
}

std::optional<gid_t> lookupGroup(const std::string& name) {
  std::vector<char> buffer(lookupBufferSize(_SC_GETGR_R_SIZE_MAX));
  for (;;) {
    group entry{};
    group* found = nullptr;
    const int error = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (error == ERANGE && buffer.size() < (1u << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (error != 0 || found == nullptr) return std::nullopt;
    return entry.gr_gid;
  }
}

// A decimal id: digits only, below the (id_t)-1 that means "no change" to setuid and friends.
std::optional<unsigned> parseId(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  unsigned long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value >= 0xffffffffULL) return std::nullopt;
  return static_cast<unsigned>(value);
}

}  // namespace

// --- DaemonChild ---

DaemonChild::DaemonChild(DaemonChild&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DaemonChild& DaemonChild::operator=(DaemonChild&& other) noexcept {
  if (this != &other) {
    abandon();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DaemonChild::~DaemonChild() { abandon(); }

void DaemonChild::abandon() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void DaemonChild::send(const char* data, std::size_t size) noexcept {
  if (fd_ < 0) return;
  sendAllSafe(fd_, data, size);
  abandon();
}

void DaemonChild::reportStarted() noexcept {
  const char frame = kStarted;
  send(&frame, 1);
}

void DaemonChild::reportFailed(std::string_view message, int status) noexcept {
  if (message.size() > kMaxMessage) message = message.substr(0, kMaxMessage);
  if (status < 1 || status > 255) status = 1;
  char frame[kHeader + kMaxMessage];
  frame[0] = kFailed;
  frame[1] = static_cast<char>(status);
  frame[2] = static_cast<char>((message.size() >> 8) & 0xff);
  frame[3] = static_cast<char>(message.size() & 0xff);
  std::memcpy(frame + kHeader, message.data(), message.size());
  send(frame, kHeader + message.size());
}

// --- daemonize ---

DaemonChild daemonize() {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw ProcessSetupError(std::string("Couldn't daemonize: no status pipe: ") +
                            std::strerror(errno));
  }
  const int launcherEnd = aboveStdio(ends[0]);
  const int daemonEnd = aboveStdio(ends[1]);
  if (launcherEnd < 0 || daemonEnd < 0) {
    const int error = errno;
    if (launcherEnd >= 0) ::close(launcherEnd);
    if (daemonEnd >= 0) ::close(daemonEnd);
    throw ProcessSetupError(std::string("Couldn't daemonize: no status pipe: ") +
                            std::strerror(error));
  }
  // Whatever stdio still buffers would otherwise be written by no one (the launcher leaves
  // with _exit) or into /dev/null (the daemon).
  std::fflush(nullptr);

  const pid_t first = ::fork();
  if (first < 0) {
    const int error = errno;
    ::close(launcherEnd);
    ::close(daemonEnd);
    throw ProcessSetupError(std::string("Couldn't daemonize: fork failed: ") +
                            std::strerror(error));
  }
  if (first > 0) {
    ::close(daemonEnd);
    runLauncher(launcherEnd, first);
  }

  // Between the forks: only async-signal-safe calls.
  ::close(launcherEnd);
  if (::setsid() < 0) failBeforeDaemon(daemonEnd, "setsid failed", errno);
  const pid_t second = ::fork();
  if (second < 0) failBeforeDaemon(daemonEnd, "second fork failed", errno);
  if (second > 0) ::_exit(0);  // the session leader leaves: the daemon has no terminal, ever

  const int devNull = ::open("/dev/null", O_RDWR);
  if (devNull < 0) failBeforeDaemon(daemonEnd, "opening /dev/null failed", errno);
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    while (::dup2(devNull, fd) < 0 && (errno == EINTR || errno == EBUSY)) {
    }
  }
  if (devNull > STDERR_FILENO) ::close(devNull);
  return DaemonChild(daemonEnd);
}

// --- umask, run directory ---

mode_t parseUmask(std::string_view text) {
  mode_t value = 0;
  bool valid = !text.empty() && text.size() <= 4;
  for (const char c : text) {
    if (c < '0' || c > '7') valid = false;
    if (valid) value = static_cast<mode_t>(value * 8 + static_cast<mode_t>(c - '0'));
  }
  if (!valid || value > 0777) {
    throw ProcessSetupError("Invalid umask " + inQuotes(text) +
                            ": give an octal number from 000 to 777, such as 022");
  }
  return value;
}

std::optional<mode_t> applyUmask(std::optional<mode_t> umask, bool daemonizing) {
  if (!umask && daemonizing) umask = 0077;
  if (umask) ::umask(*umask);
  return umask;
}

void changeDirectory(const std::filesystem::path& rundir) {
  if (::chdir(rundir.c_str()) != 0) {
    throw ProcessSetupError("Couldn't change directory to " + inQuotes(rundir.string()) + ": " +
                            std::strerror(errno));
  }
}

// --- users and groups ---

uid_t uidFromString(std::string_view user) {
  if (const std::optional<unsigned> id = parseId(user)) return static_cast<uid_t>(*id);
  const std::string name(user);
  const std::optional<UserEntry> entry =
      lookupUser([&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwnam_r(name.c_str(), p, b, n, r);
      });
  if (!entry) throw ProcessSetupError("No such user: " + inQuotes(user));
  return entry->uid;
}

gid_t gidFromString(std::string_view group) {
  if (const std::optional<unsigned> id = parseId(group)) return static_cast<gid_t>(*id);
  const std::optional<gid_t> gid = lookupGroup(std::string(group));
  if (!gid) throw ProcessSetupError("No such group: " + inQuotes(group));
  return *gid;
}

void switchUidGid(const std::optional<std::string>& user, const std::optional<std::string>& group) {
  std::optional<uid_t> uid;
  std::optional<UserEntry> entry;
  if (user) {
    uid = uidFromString(*user);
    entry = lookupUser([&](passwd* p, char* b, std::size_t n, passwd** r) {
      return ::getpwuid_r(*uid, p, b, n, r);
    });
  }
  std::optional<gid_t> gid;
  if (group) {
    gid = gidFromString(*group);
  } else if (user) {
    if (!entry) {
      throw ProcessSetupError("User " + inQuotes(*user) +
                              " has no passwd entry, so no primary group: give a group too");
    }
    gid = entry->gid;
  }
  const bool sameUser = !uid || (*uid == ::getuid() && *uid == ::geteuid());
  const bool sameGroup = !gid || (*gid == ::getgid() && *gid == ::getegid());
  if (sameUser && sameGroup) return;

  if (::geteuid() == 0 && gid) {
    // Root's supplementary groups would otherwise survive the switch.
    const int result =
        uid && entry ? ::initgroups(entry->name.c_str(), *gid) : ::setgroups(1, &*gid);
    if (result != 0) {
      throw ProcessSetupError("Couldn't set the supplementary groups for " +
                              (user ? "user " + inQuotes(*user) : "group " + inQuotes(*group)) +
                              ": " + std::strerror(errno));
    }
  }
  if (!sameGroup && ::setgid(*gid) != 0) {
    throw ProcessSetupError("Couldn't switch to group " + inQuotes(group ? *group : entry->name) +
                            " (gid " + std::to_string(*gid) + "): " + std::strerror(errno));
  }
  if (!sameUser && ::setuid(*uid) != 0) {
    throw ProcessSetupError("Couldn't switch to user " + inQuotes(*user) + " (uid " +
                            std::to_string(*uid) + "): " + std::strerror(errno));
  }
}

}  // namespace torsion::app
