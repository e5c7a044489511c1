// LogFile: a log file that rotates itself by size (twisted.python.logfile.LogFile), and the
// observer that writes torsion's log events into one (twistd's --logfile).
//
//   auto file = std::make_shared<app::LogFile>("torsiond.log");
//   globalLogPublisher().addObserver(app::logFileObserver(file, app::LogFileFormat::text));
//   // on SIGUSR1, after logrotate moved the file away:
//   file->reopen();
//
// Rotation, as Twisted does it: before a write, if the file already holds rotateLength bytes
// or more, torsiond.log.N becomes torsiond.log.N+1 for every rotated file present (highest
// first), torsiond.log becomes torsiond.log.1, and a new torsiond.log is started. So a file
// may pass rotateLength by one write, and one write (one event) never straddles two files.
// With maxRotatedFiles = K, rotated files numbered K or more are deleted instead of shifted, so
// at most K remain (.1 to .K).
//
// Thread-safety: every member may be called from any thread; each call takes the object's
// mutex, so writes, rotations and reopens never interleave and no byte written is lost or
// reordered across a rotation or a reopen.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/log/publisher.hpp"
#include "torsion/log/text_observer.hpp"

namespace torsion::app {

// A log file could not be opened, written, rotated or reopened; what() names the file and the
// reason in one line, code() is the errno.
class LogFileError : public Error {
 public:
  LogFileError(const std::string& message, std::filesystem::path path, int error);
  const std::filesystem::path& path() const noexcept { return path_; }
  int code() const noexcept { return error_; }

 private:
  std::filesystem::path path_;
  int error_;
};

class LogFile {
 public:
  static constexpr std::uint64_t kDefaultRotateLength = 1'000'000;  // Twisted's default

  struct Options {
    // Rotate once the file holds this many bytes; 0 never rotates.
    std::uint64_t rotateLength = kDefaultRotateLength;
    // Keep at most this many rotated files; nullopt keeps them all.
    std::optional<unsigned> maxRotatedFiles;
    // The permissions of each file this object creates. Without it: the permissions the file
    // had when this object first opened it (so rotation keeps an operator's chmod), or, for a
    // file that did not exist, 0666 less the umask.
    std::optional<mode_t> defaultMode;
  };

  // Opens `path` for appending, creating it if needed (the directory must exist). Throws
  // LogFileError.
  explicit LogFile(std::filesystem::path path);
  LogFile(std::filesystem::path path, Options options);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Appends `data` with write(2), whole (retrying short writes), rotating first when the file
  // is due (see above). Nothing is buffered: once write returns, the bytes are in the kernel.
  // A rotation that fails (directory not writable, ...) is skipped and tried again at the next
  // write, and the data goes to the current file: rotation never costs a log line. Throws
  // LogFileError if the data cannot be written.
  void write(std::string_view data);

  // Rotates now, whatever the size. Throws LogFileError (and keeps writing to the current
  // file) if a rename or creating the new file fails.
  void rotate();

  // Closes the file and opens `path` again, creating it if it is gone: after an external tool
  // (logrotate) renamed the file, new data goes to a new file at `path`. Twisted's reopen().
  // Throws LogFileError, and keeps the old file, if `path` cannot be opened.
  void reopen();

  // Bytes in the current file (as found when it was opened, plus what this object wrote).
  std::uint64_t size() const;
  const std::filesystem::path& path() const noexcept { return path_; }
  // path() with ".n" appended.
  std::filesystem::path rotatedPath(unsigned n) const;
  // The numbers of the rotated files present, ascending (Twisted's listLogs).
  std::vector<unsigned> listLogs() const;

 private:
  void openLocked();                 // opens path_ into fd_/size_ (throws)
  void rotateLocked(bool throwing);  // returns quietly on failure unless throwing

  const std::filesystem::path path_;
  const Options options_;
  std::optional<mode_t> mode_;  // for files this object creates
  mutable std::mutex mutex_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

// The format a log file observer writes: torsion's text lines (formatEventAsText) or JSON
// lines (eventAsJSON plus "\n"); twist's --log-format=text|json.
enum class LogFileFormat { text, json };

// "text" or "json" (case-insensitive); nullopt for anything else.
std::optional<LogFileFormat> parseLogFileFormat(std::string_view name) noexcept;

// An observer writing each event into `file` in `format`, one write per event (so an event is
// never split by a rotation). Events the text format renders as nothing are skipped, as
// textFileObserver does. The observer shares ownership of the file, which therefore lives as
// long as any copy of the observer (the publisher may still be running one after
// removeObserver returns). A LogFileError from writing propagates to the publisher, which
// reports it to its other observers.
LogObserver logFileObserver(std::shared_ptr<LogFile> file,
                            LogFileFormat format = LogFileFormat::text,
                            LogTimeZone zone = LogTimeZone::local);

}  // namespace torsion::app
