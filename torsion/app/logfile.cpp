#include "torsion/app/logfile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>

#include "torsion/log/json_observer.hpp"

namespace torsion::app {
namespace {

std::string inQuotes(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error) {
  throw LogFileError(what + " " + inQuotes(path) + ": " + std::strerror(error), path, error);
}

// The n of "<name>.<n>", for a positive n written without leading zeros; 0 otherwise.
unsigned rotationNumber(std::string_view entry, std::string_view name) {
  if (entry.size() <= name.size() + 1 || entry.substr(0, name.size()) != name ||
      entry[name.size()] != '.') {
    return 0;
  }
  const std::string_view digits = entry.substr(name.size() + 1);
  if (digits.front() == '0') return 0;
  unsigned n = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return error == std::errc() && end == digits.data() + digits.size() ? n : 0;
}

void closeQuietly(int fd) {
  if (fd >= 0) ::close(fd);
}

// The numbers of the rotated files of `path` present, ascending.
std::vector<unsigned> rotatedNumbers(const std::filesystem::path& path, std::error_code& error) {
  std::vector<unsigned> logs;
  const std::string name = path.filename().string();
  const std::filesystem::path directory =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  for (std::filesystem::directory_iterator it(directory, error), end; !error && it != end;
       it.increment(error)) {
    if (const unsigned n = rotationNumber(it->path().filename().string(), name); n > 0) {
      logs.push_back(n);
    }
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

}  // namespace

LogFileError::LogFileError(const std::string& message, std::filesystem::path path, int error)
    : Error(message), path_(std::move(path)), error_(error) {}

LogFile::LogFile(std::filesystem::path path) : LogFile(std::move(path), Options{}) {}

LogFile::LogFile(std::filesystem::path path, Options options)
    : path_(std::move(path)), options_(options), mode_(options.defaultMode) {
  if (!mode_) {
    struct stat info {};
    if (::stat(path_.c_str(), &info) == 0) mode_ = info.st_mode & 07777;
  }
  const std::lock_guard lock(mutex_);
  openLocked();
}

LogFile::~LogFile() { closeQuietly(fd_); }

void LogFile::openLocked() {
  // O_EXCL first, to know whether the file is new and so takes mode_.
  bool created = true;
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) fail("Couldn't open log file", path_, errno);
  struct stat info {};
  if ((created && mode_ && ::fchmod(fd, *mode_) != 0) || ::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    fail("Couldn't open log file", path_, error);
  }
  closeQuietly(fd_);
  fd_ = fd;
  size_ = static_cast<std::uint64_t>(info.st_size);
}

void LogFile::write(std::string_view data) {
  const std::lock_guard lock(mutex_);
  if (options_.rotateLength > 0 && size_ >= options_.rotateLength) rotateLocked(false);
  while (!data.empty()) {
    const ssize_t wrote = ::write(fd_, data.data(), data.size());
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) fail("Couldn't write to log file", path_, errno);
    data.remove_prefix(static_cast<std::size_t>(wrote));
    size_ += static_cast<std::uint64_t>(wrote);
  }
}

void LogFile::rotate() {
  const std::lock_guard lock(mutex_);
  rotateLocked(true);
}

void LogFile::rotateLocked(bool throwing) {
  auto failed = [&](const std::string& what, const std::filesystem::path& path, int error) {
    if (throwing) fail(what, path, error);
  };
  std::error_code error;
  std::vector<unsigned> logs = rotatedNumbers(path_, error);
  if (error) return failed("Couldn't list the rotated files of", path_, error.value());
  std::reverse(logs.begin(), logs.end());  // highest first, so that no rename overwrites
  for (const unsigned n : logs) {
    const std::filesystem::path from = rotatedPath(n);
    if (options_.maxRotatedFiles && n >= *options_.maxRotatedFiles) {
      if (::unlink(from.c_str()) != 0 && errno != ENOENT) {
        return failed("Couldn't remove old log file", from, errno);
      }
    } else if (::rename(from.c_str(), rotatedPath(n + 1).c_str()) != 0) {
      return failed("Couldn't rotate log file", from, errno);
    }
  }
  const std::filesystem::path first = rotatedPath(1);
  if (::rename(path_.c_str(), first.c_str()) != 0) {
    return failed("Couldn't rotate log file", path_, errno);
  }
  // The old descriptor still writes to what is now .1 until the new file is open, so a
  // failure below loses nothing; the rename is undone so that the next rotation starts over.
  try {
    openLocked();
  } catch (const LogFileError&) {
    ::rename(first.c_str(), path_.c_str());
    if (throwing) throw;
  }
}

void LogFile::reopen() {
  const std::lock_guard lock(mutex_);
  openLocked();
}

std::uint64_t LogFile::size() const {
  const std::lock_guard lock(mutex_);
  return size_;
}

std::filesystem::path LogFile::rotatedPath(unsigned n) const {
  std::filesystem::path rotated = path_;
  rotated += "." + std::to_string(n);
  return rotated;
}

std::vector<unsigned> LogFile::listLogs() const {
  std::error_code ignored;
  return rotatedNumbers(path_, ignored);
}

std::optional<LogFileFormat> parseLogFileFormat(std::string_view name) noexcept {
  auto equalsIgnoringCase = [name](std::string_view word) {
    return std::equal(name.begin(), name.end(), word.begin(), word.end(), [](char a, char b) {
      return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
    });
  };
  if (equalsIgnoringCase("text")) return LogFileFormat::text;
  if (equalsIgnoringCase("json")) return LogFileFormat::json;
  return std::nullopt;
}

LogObserver logFileObserver(std::shared_ptr<LogFile> file, LogFileFormat format, LogTimeZone zone) {
  if (format == LogFileFormat::json) {
    return [file = std::move(file)](const LogEvent& event) {
      std::string line = eventAsJSON(event);
      line += '\n';
      file->write(line);
    };
  }
  return [file = std::move(file), zone](const LogEvent& event) {
    const std::string text = formatEventAsText(event, zone);
    if (!text.empty()) file->write(text);
  };
}

}  // namespace torsion::app
