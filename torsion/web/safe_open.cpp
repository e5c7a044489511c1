#include "torsion/web/safe_open.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>

namespace torsion::web {
namespace {

// O_PATH takes no other flags (openat2 refuses them).
int addedFlags(int flags) {
  return (flags & O_PATH) ? O_CLOEXEC : O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
}

int sysOpenat2(int dirfd, const char* path, int flags, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(static_cast<unsigned>(flags));
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int viaOpenat2(const std::string& root, const std::string& relative, int flags) {
  Fd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) {
    return -errno;
  }
  // The kernel answers EAGAIN when a concurrent rename might have let ".." escape: try again.
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = sysOpenat2(dir.get(), relative.c_str(), flags | addedFlags(flags),
                        RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
      return fd;
    }
    if (errno != EAGAIN && errno != EINTR) {
      return -errno;
    }
  }
  return -EAGAIN;
}

std::unique_ptr<char, decltype(&std::free)> realPath(const std::string& path) {
  return {::realpath(path.c_str(), nullptr), &std::free};
}

int viaRealpath(const std::string& root, const std::string& relative, int flags) {
  auto base = realPath(root);
  if (!base) {
    return -errno;
  }
  std::string rootReal = base.get();
  auto resolved = realPath(rootReal + "/" + relative);
  if (!resolved) {
    return -errno;
  }
  std::string_view target = resolved.get();
  bool beneath = target == rootReal;
  if (!beneath) {
    std::string prefix = rootReal == "/" ? rootReal : rootReal + "/";
    beneath = target.substr(0, prefix.size()) == prefix;
  }
  if (!beneath) {
    return -EXDEV;
  }
  // The resolved path holds no symlink; O_NOFOLLOW refuses one swapped in since.
  int fd = ::open(resolved.get(), flags | addedFlags(flags) | O_NOFOLLOW);
  return fd >= 0 ? fd : -errno;
}

}  // namespace

bool openat2Available() {
  static const bool available = [] {
    int fd = sysOpenat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, RESOLVE_NO_MAGICLINKS);
    if (fd < 0) {
      return false;  // ENOSYS (old kernel), EPERM (a seccomp filter)...
    }
    ::close(fd);
    return true;
  }();
  return available;
}

int openBeneath(const std::string& root, std::string_view relative, int flags,
                BeneathResolver resolver) {
  if (!relative.empty() && relative.front() == '/') {
    return -EXDEV;
  }
  if (relative.find('\0') != std::string_view::npos) {
    return -ENOENT;
  }
  if (relative.empty()) {
    int fd = ::open(root.c_str(), flags | addedFlags(flags));
    return fd >= 0 ? fd : -errno;
  }
  if (resolver == BeneathResolver::automatic) {
    resolver = openat2Available() ? BeneathResolver::openat2 : BeneathResolver::realpath;
  }
  std::string rel(relative);
  if (resolver == BeneathResolver::openat2) {
    return viaOpenat2(root, rel, flags);
  }
  return viaRealpath(root, rel, flags);
}

}  // namespace torsion::web
