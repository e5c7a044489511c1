// torsion::app::LogFile (Twisted's logfile.LogFile: size rotation, numbering, reopen) and the
// observer that writes log events into one.
#include "torsion/app/logfile.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "app/runner_support.hpp"
#include "torsion/log/json_observer.hpp"
#include "torsion/log/log.hpp"

namespace torsion::app {
namespace {

using test::readFile;
using test::TempDir;
using test::writeFile;

mode_t modeOf(const std::filesystem::path& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return info.st_mode & 07777;
}

LogFile::Options rotatingAt(std::uint64_t length, std::optional<unsigned> keep = std::nullopt) {
  LogFile::Options options;
  options.rotateLength = length;
  options.maxRotatedFiles = keep;
  return options;
}

// Everything the log file and its rotated files hold, oldest first.
std::string allWritten(const LogFile& file) {
  std::vector<unsigned> logs = file.listLogs();
  std::string out;
  for (auto it = logs.rbegin(); it != logs.rend(); ++it) out += readFile(file.rotatedPath(*it));
  return out + readFile(file.path());
}

TEST(LogFile, appendsToWhatTheFileHeld) {
  TempDir dir;
  writeFile(dir / "x.log", "earlier\n");
  LogFile file(dir / "x.log");
  EXPECT_EQ(file.size(), 8u);
  file.write("later\n");
  EXPECT_EQ(file.size(), 14u);
  EXPECT_EQ(readFile(dir / "x.log"), "earlier\nlater\n");
}

TEST(LogFile, defaultsToTwistedsRotateLength) {
  EXPECT_EQ(LogFile::Options{}.rotateLength, 1'000'000u);
  EXPECT_FALSE(LogFile::Options{}.maxRotatedFiles.has_value());
}

TEST(LogFile, rotatesBeforeTheWriteThatFindsItFull) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(10));
  file.write("12345");
  file.write("67890");  // now 10 bytes: due, but rotation waits for the next write
  EXPECT_EQ(file.listLogs(), std::vector<unsigned>{});
  file.write("abc");
  EXPECT_EQ(file.listLogs(), std::vector<unsigned>{1});
  EXPECT_EQ(readFile(dir / "x.log.1"), "1234567890");
  EXPECT_EQ(readFile(dir / "x.log"), "abc");
  EXPECT_EQ(file.size(), 3u);
}

TEST(LogFile, aSingleWriteLargerThanRotateLengthStaysWhole) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(4));
  file.write("0123456789");
  file.write("ab");
  EXPECT_EQ(readFile(dir / "x.log.1"), "0123456789");
  EXPECT_EQ(readFile(dir / "x.log"), "ab");
}

TEST(LogFile, numbersRotatedFilesNewestFirst) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(2));
  for (const char* chunk : {"aa", "bb", "cc", "dd"}) file.write(chunk);
  EXPECT_EQ(file.listLogs(), (std::vector<unsigned>{1, 2, 3}));
  EXPECT_EQ(readFile(dir / "x.log.3"), "aa");
  EXPECT_EQ(readFile(dir / "x.log.2"), "bb");
  EXPECT_EQ(readFile(dir / "x.log.1"), "cc");
  EXPECT_EQ(readFile(dir / "x.log"), "dd");
}

TEST(LogFile, keepsAtMostMaxRotatedFiles) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(1, 2));
  for (const char* chunk : {"a", "b", "c", "d", "e", "f"}) file.write(chunk);
  EXPECT_EQ(file.listLogs(), (std::vector<unsigned>{1, 2}));
  EXPECT_EQ(readFile(dir / "x.log.2"), "d");
  EXPECT_EQ(readFile(dir / "x.log.1"), "e");
  EXPECT_EQ(readFile(dir / "x.log"), "f");
}

TEST(LogFile, neverRotatesWithRotateLengthZero) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(0));
  for (int i = 0; i < 100; ++i) file.write("0123456789");
  EXPECT_EQ(file.listLogs(), std::vector<unsigned>{});
  EXPECT_EQ(file.size(), 1000u);
}

TEST(LogFile, losesNoDataAcrossManyRotations) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(100));
  std::string expected;
  for (int i = 0; i < 500; ++i) {
    const std::string line = "line " + std::to_string(i) + std::string(i % 37, '.') + "\n";
    file.write(line);
    expected += line;
  }
  EXPECT_GT(file.listLogs().size(), 100u);
  EXPECT_EQ(allWritten(file), expected);
}

TEST(LogFile, writersOnSeveralThreadsLoseAndSplitNothing) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(4096));
  constexpr int kThreads = 4;
  constexpr int kLines = 500;
  {
    std::vector<std::jthread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&file, t] {
        for (int i = 0; i < kLines; ++i) {
          file.write("<thread " + std::to_string(t) + " line " + std::to_string(i) + ">\n");
        }
      });
    }
  }
  const std::string all = allWritten(file);
  std::vector<int> nextLine(kThreads, 0);
  std::size_t start = 0;
  int lines = 0;
  while (start < all.size()) {
    const std::size_t end = all.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = all.substr(start, end - start);
    int t = -1;
    int i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "<thread %d line %d>", &t, &i), 2) << line;
    ASSERT_TRUE(t >= 0 && t < kThreads) << line;
    EXPECT_EQ(i, nextLine[t]++) << "each thread's lines arrive in order";
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, kThreads * kLines);
}

TEST(LogFile, reopenAfterAnExternalRenameStartsANewFile) {
  TempDir dir;
  LogFile file(dir / "x.log");
  file.write("a");
  std::filesystem::rename(dir / "x.log", dir / "x.log-20261122");  // what logrotate does
  file.write("b");                                                 // still the old file, until told
  file.reopen();
  EXPECT_EQ(file.size(), 0u);
  file.write("c");
  EXPECT_EQ(readFile(dir / "x.log-20261122"), "ab");
  EXPECT_EQ(readFile(dir / "x.log"), "c");
}

TEST(LogFile, reopenKeepsAppendingToAFileStillInPlace) {
  TempDir dir;
  LogFile file(dir / "x.log");
  file.write("a");
  file.reopen();
  EXPECT_EQ(file.size(), 1u);
  file.write("b");
  EXPECT_EQ(readFile(dir / "x.log"), "ab");
}

TEST(LogFile, reopenThatFailsKeepsTheOldFile) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  LogFile file(dir / "sub" / "x.log");
  file.write("a");
  std::filesystem::rename(dir / "sub", dir / "moved");
  EXPECT_THROW(file.reopen(), LogFileError);
  file.write("b");
  EXPECT_EQ(readFile(dir / "moved" / "x.log"), "ab");
}

TEST(LogFile, createsNewFilesWithTheDefaultMode) {
  TempDir dir;
  LogFile::Options options = rotatingAt(1);
  options.defaultMode = 0640;
  LogFile file(dir / "x.log", options);
  EXPECT_EQ(modeOf(dir / "x.log"), 0640u);
  file.write("a");
  file.write("b");
  EXPECT_EQ(modeOf(dir / "x.log"), 0640u);
  EXPECT_EQ(modeOf(dir / "x.log.1"), 0640u);
}

TEST(LogFile, rotationKeepsTheModeOfTheFileItFound) {
  TempDir dir;
  writeFile(dir / "x.log", "a");
  std::filesystem::permissions(dir / "x.log", static_cast<std::filesystem::perms>(0604));
  LogFile file(dir / "x.log", rotatingAt(1));
  file.write("b");
  EXPECT_EQ(modeOf(dir / "x.log"), 0604u);
}

TEST(LogFile, aFailedRotationKeepsWritingToTheCurrentFile) {
  TempDir dir;
  LogFile file(dir / "x.log", rotatingAt(1, 1));
  // x.log.1 must be deleted to make room, and a non-empty directory cannot be unlinked.
  std::filesystem::create_directories(dir / "x.log.1" / "blocker");
  file.write("a");
  file.write("b");
  file.write("c");
  EXPECT_EQ(readFile(dir / "x.log"), "abc");
  try {
    file.rotate();
    FAIL() << "rotate() succeeded";
  } catch (const LogFileError& e) {
    EXPECT_EQ(e.path(), dir / "x.log.1");
    EXPECT_NE(std::string(e.what()).find("Couldn't remove old log file '" +
                                         (dir / "x.log.1").string() + "'"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir / "x.log.1");
  file.write("d");  // due since long: rotates now
  EXPECT_EQ(readFile(dir / "x.log.1"), "abc");
  EXPECT_EQ(readFile(dir / "x.log"), "d");
}

TEST(LogFile, explicitRotateWorksAtAnySize) {
  TempDir dir;
  LogFile file(dir / "x.log");
  file.write("a");
  file.rotate();
  file.write("b");
  EXPECT_EQ(readFile(dir / "x.log.1"), "a");
  EXPECT_EQ(readFile(dir / "x.log"), "b");
}

TEST(LogFile, listLogsCountsOnlyItsOwnNumberedFiles) {
  TempDir dir;
  for (const char* name : {"x.log.1", "x.log.2", "x.log.01", "x.log.abc", "x.log.", "y.log.3",
                           "x.log.7.gz", "x.logs.4"}) {
    writeFile(dir / name, "");
  }
  const LogFile file(dir / "x.log");
  EXPECT_EQ(file.listLogs(), (std::vector<unsigned>{1, 2}));
}

TEST(LogFile, aMissingDirectoryIsReportedWithThePath) {
  TempDir dir;
  try {
    LogFile file(dir / "missing" / "x.log");
    FAIL() << "opened a file in a missing directory";
  } catch (const LogFileError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_EQ(std::string(e.what()), "Couldn't open log file '" +
                                         (dir / "missing" / "x.log").string() +
                                         "': No such file or directory");
  }
}

LogEvent eventAt(std::string format, LogLevel level = LogLevel::info) {
  LogEvent event;
  event.format = std::move(format);
  event.level = level;
  event.logNamespace = "torsion.test";
  event.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'795'341'600));
  return event;
}

TEST(LogFileObserver, writesTheTextFormat) {
  TempDir dir;
  auto file = std::make_shared<LogFile>(dir / "x.log");
  const LogObserver observer = logFileObserver(file, LogFileFormat::text, LogTimeZone::utc);
  observer(eventAt("hello"));
  observer(eventAt(""));  // renders as nothing: skipped
  observer(eventAt("two\nlines", LogLevel::warn));
  EXPECT_EQ(readFile(dir / "x.log"),
            "2026-11-22T10:00:00+0000 [torsion.test#info] hello\n"
            "2026-11-22T10:00:00+0000 [torsion.test#warn] two\n\tlines\n");
}

TEST(LogFileObserver, writesJsonLines) {
  TempDir dir;
  auto file = std::make_shared<LogFile>(dir / "x.log");
  const LogObserver observer = logFileObserver(file, LogFileFormat::json);
  LogEvent event = eventAt("hello {who}");
  event.fields.push_back({"who", FieldValue("world")});
  observer(event);
  observer(eventAt("again"));
  const std::string content = readFile(dir / "x.log");
  EXPECT_EQ(content, eventAsJSON(event) + "\n" + eventAsJSON(eventAt("again")) + "\n");
  EXPECT_NE(content.find("\"log_text\":\"hello world\""), std::string::npos) << content;
}

TEST(LogFileObserver, keepsEachEventWholeAcrossRotationsThroughAPublisher) {
  TempDir dir;
  auto file = std::make_shared<LogFile>(dir / "x.log", rotatingAt(200));
  LogPublisher publisher;
  publisher.addObserver(logFileObserver(file));
  const Logger log("torsion.test.rotation", publisher);
  for (int i = 0; i < 50; ++i) log.info("event number {i}", {{"i", i}});
  ASSERT_GT(file->listLogs().size(), 3u);
  int seen = 0;
  std::vector<unsigned> logs = file->listLogs();
  std::vector<std::filesystem::path> files;
  for (auto it = logs.rbegin(); it != logs.rend(); ++it) files.push_back(file->rotatedPath(*it));
  files.push_back(file->path());
  for (const auto& path : files) {
    const std::string content = readFile(path);
    ASSERT_FALSE(content.empty());
    EXPECT_EQ(content.back(), '\n') << path << " ends with a whole event";
    std::size_t at = 0;
    while ((at = content.find("[torsion.test.rotation#info] event number ", at)) !=
           std::string::npos) {
      at += 42;
      EXPECT_EQ(std::stoi(content.substr(at)), seen) << path;
      ++seen;
    }
  }
  EXPECT_EQ(seen, 50);
}

TEST(LogFileObserver, keepsItsFileAliveAfterTheCallerLetsGo) {
  TempDir dir;
  auto file = std::make_shared<LogFile>(dir / "x.log");
  const LogObserver observer = logFileObserver(file);
  file.reset();
  observer(eventAt("still here"));
  EXPECT_NE(readFile(dir / "x.log").find("still here"), std::string::npos);
}

TEST(LogFileFormat, parsesTextAndJsonIgnoringCase) {
  EXPECT_EQ(parseLogFileFormat("text"), LogFileFormat::text);
  EXPECT_EQ(parseLogFileFormat("JSON"), LogFileFormat::json);
  EXPECT_EQ(parseLogFileFormat("Json"), LogFileFormat::json);
  EXPECT_FALSE(parseLogFileFormat("xml").has_value());
  EXPECT_FALSE(parseLogFileFormat("").has_value());
  EXPECT_FALSE(parseLogFileFormat("texts").has_value());
}

}  // namespace
}  // namespace torsion::app
