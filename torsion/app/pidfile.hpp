// The pid file of a server process, as twistd keeps it (--pidfile, default "twistd.pid").
//
// A pid file holds one process id in decimal followed by a newline. It says "a server runs
// here": a second server given the same pid file refuses to start while that process lives.
//
// How a file found at the path is judged:
// - it names a live process (kill(pid, 0) succeeds, or fails with EPERM: the process exists but
//   belongs to someone else) -> running: starting is refused with AlreadyRunning;
// - it names a process that does not exist (ESRCH), or names the calling process itself (a
//   restarted container whose server is pid 1 again, and which has not written it yet) ->
//   stale: it is replaced, with a warning logged;
// - anything else (empty, not a positive decimal number, longer than a pid can be) -> refused
//   with PidFileError "contains a non-numeric value", as twistd does. Replacing it could
//   destroy a file that --pidfile was pointed at by mistake, and a pid file torsion wrote is
//   never half-written (see PidFile::acquire), so garbage means a human should look.
//
// twistd checks the pid file before daemonising (so that the refusal reaches the terminal) and
// writes it after (the daemon's pid differs from the launcher's); torsiond does the same with
// checkPidFile() and PidFile::acquire().
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "torsion/core/errors.hpp"

namespace torsion::app {

// The pid file cannot be read, written or judged; what() is one line naming the file.
class PidFileError : public Error {
 public:
  PidFileError(std::filesystem::path path, const std::string& message)
      : Error(message), path_(std::move(path)) {}
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// Another process, still alive, holds the pid file. A runner turns it into exit status 1 with
// what() as its one line:
//   Another server is running, PID 1234 (pid file /srv/app/torsiond.pid): run this one in
//   another directory or give it another --pidfile
class AlreadyRunning : public PidFileError {
 public:
  AlreadyRunning(std::filesystem::path path, pid_t pid);
  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_;
};

// What a pid file says (see the rules at the top of this file).
struct PidFileStatus {
  enum class State { absent, running, stale };
  State state = State::absent;
  pid_t pid = 0;  // the pid the file names; 0 when absent
};

// Judges the file at `path` without changing it. Throws PidFileError for a file that holds no
// valid pid or cannot be read.
PidFileStatus readPidFile(const std::filesystem::path& path);

// Throws AlreadyRunning if the file names a live process, PidFileError if it is garbage;
// returns otherwise (absent or stale: acquire() will replace a stale one).
void checkPidFile(const std::filesystem::path& path);

// Ownership of a pid file holding this process's pid. Move-only; destroying it (or release())
// removes the file if it still holds the pid this object wrote and the caller is that very
// process (a child made by fork() that destroys its copy leaves the parent's file alone).
// The file is removed at exit only if the object is destroyed: keep it in main()'s scope and
// leave main by returning, not by exit().
class PidFile {
 public:
  // Writes getpid() to `path`. A live holder -> AlreadyRunning; garbage -> PidFileError; a
  // stale file is replaced (and a warning logged to torsion.app.pidfile). The content is
  // written to a temporary file beside the target and then hard-linked into place, so the file
  // appears at once with its complete content, and of two processes that start together only
  // one gets it. (On a file system without hard links, it is created with O_EXCL and then
  // written.) Throws PidFileError, naming the file, when it cannot be written.
  static PidFile acquire(std::filesystem::path path);

  PidFile() noexcept = default;  // holds nothing
  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&& other) noexcept;
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;
  ~PidFile();

  // Removes the file if it still holds our pid (see above); afterwards this holds nothing.
  // Never throws: a file already gone, or replaced by another process's, is left as it is.
  void release() noexcept;

  bool held() const noexcept { return pid_ != 0; }
  const std::filesystem::path& path() const noexcept { return path_; }
  pid_t pid() const noexcept { return pid_; }

 private:
  PidFile(std::filesystem::path path, pid_t pid) : path_(std::move(path)), pid_(pid) {}

  std::filesystem::path path_;
  pid_t pid_ = 0;
};

}  // namespace torsion::app
