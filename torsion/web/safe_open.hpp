// Opening a path below a root directory without ever leaving it: what static.File resolves
// every request with. Plain POSIX calls, no reactor; usable by any code that serves files
// named by untrusted input.
#pragma once

#include <string>
#include <string_view>

namespace torsion::web {

enum class BeneathResolver {
  // openat2(RESOLVE_BENEATH) when the kernel has it (Linux 5.6+, and not refused by a seccomp
  // filter: probed once), else realpath.
  automatic,
  // The kernel resolves the path and refuses, atomically, any step out of the root: "..",
  // an absolute path, or a symlink whose target lies outside (EXDEV), magic links (/proc).
  openat2,
  // Portable: realpath() the result, check that it lies under realpath(root), then open it
  // with O_NOFOLLOW. A symlink swapped in between the check and the open by someone who can
  // write inside the root is refused for the last component only; openat2 has no such window.
  realpath,
};

// Opens `relative` ("a/b.txt", "" for the root itself) below the directory `root`, with
// `flags` (O_RDONLY, O_DIRECTORY, O_PATH...; O_CLOEXEC is added, and O_NOCTTY and O_NONBLOCK
// unless O_PATH, the last so that a FIFO never blocks the caller). Symlinks are followed as long as
// every step stays below the root. `relative` must not start with '/'. With "" the root is opened
// as named (it may be a symlink or a regular file: the administrator chose it). Returns the
// descriptor, or -errno: ENOENT/ENOTDIR when absent, EXDEV when the path leads out of the root,
// ELOOP, EACCES, and the like.
int openBeneath(const std::string& root, std::string_view relative, int flags,
                BeneathResolver resolver = BeneathResolver::automatic);

// Whether the automatic resolver uses openat2 on this system.
bool openat2Available();

}  // namespace torsion::web
