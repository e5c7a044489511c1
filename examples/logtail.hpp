// The log-tailing push server of examples/logtail_server.cpp, in a header so that
// tests/examples/logtail_test.cpp drives the same classes through testing::Clock and fake
// transports.
//
// It is the "enhanced weblog server" of the Twisted seed article (a Factory that rereads the
// log every second with callLater, and protocols that push new hits to their client), with
// the parts a real deployment needs:
//   - FileFollower follows a growing file by polling it (no inotify yet): each poll() reads
//     what was appended since the last one and returns the complete lines. A file that shrank
//     was truncated (copytruncate rotation, `> file`): it is read again from its start. A path
//     that now names another file was rotated (renamed, recreated): the rest of the old file
//     is read first, then the new one from its start. Polling cannot see a truncation that
//     the file outgrew again before the next poll; inotify will.
//   - LogTailFactory runs the poll on a LoopingCall while the factory is in use (startFactory
//     to stopFactory) and sends every new line to every connected client, as "line\r\n".
//   - Backpressure: each client's protocol (TailClient) registers itself as the push producer
//     of its transport. While the transport's buffer is over its high-water mark the transport
//     pauses it, and new lines wait in the client's own queue; the transport resumes it once
//     the buffer drained, and the queue goes out. A client whose queue grows past
//     LogTailOptions::maxPendingBytes is not keeping up: it is dropped (abortConnection, since
//     a loseConnection would wait forever for a reader that does not read). So a client that
//     stops reading costs the server at most the transport's high-water mark plus
//     maxPendingBytes, and the other clients are not held back: the file is read at one pace.
//     Dropping lines instead would hand the client a log with holes it cannot see.
// Everything runs on the reactor thread (or the test's thread with a testing::Clock).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "torsion/core/time.hpp"
#include "torsion/defer/task.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"

namespace examples::logtail {

inline const torsion::Logger& logger() {
  static const torsion::Logger log("examples.logtail");
  return log;
}

struct FollowOptions {
  // A longer line (no newline within this many bytes) is cut into pieces of this length, so
  // that a file without newlines cannot grow the follower's buffer without bound.
  std::size_t maxLineLength = 64 * 1024;
  // The most bytes one poll() reads; the rest is read by the next polls, so that a file that
  // grew by gigabytes does not stall the reactor.
  std::size_t maxReadPerPoll = 1024 * 1024;
};

// Follows the file at `path` as `tail -F -n 0` does: lines that were already there when it
// first opened the file are skipped; lines added later are returned by poll().
class FileFollower {
 public:
  explicit FileFollower(std::string path, FollowOptions options = {})
      : path_(std::move(path)), options_(options) {
    openFile(/*atEnd=*/true);
  }
  ~FileFollower() { closeFile(); }
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Reads what was appended since the last poll and returns the lines completed by it,
  // without their "\n" (or "\r\n"). A missing file is not an error: the follower waits for it
  // to appear (and then reads it from its start). Throws std::system_error when reading fails
  // (the follower then reopens the file at the next poll, from its start).
  std::vector<std::string> poll() {
    std::vector<std::string> lines;
    if (fd_ < 0 && !openFile(/*atEnd=*/false)) return lines;
    struct stat byPath {};
    const bool pathExists = ::stat(path_.c_str(), &byPath) == 0;
    if (pathExists && (byPath.st_dev != dev_ || byPath.st_ino != ino_)) {
      // Rotated: finish the old file (its writer may have added to it before letting go),
      // then start on the new one. A half line left at the end of the old file is complete
      // now: nothing will be added to it.
      if (!readAvailable(lines)) return lines;  // more of the old file than one poll reads
      if (!partial_.empty()) lines.push_back(std::exchange(partial_, {}));
      closeFile();
      ++rotations_;
      if (!openFile(/*atEnd=*/false)) return lines;
    } else {
      struct stat byFd {};
      if (::fstat(fd_, &byFd) != 0) fail("fstat");
      if (byFd.st_size < offset_) {
        ++truncations_;
        offset_ = 0;
        partial_.clear();
      }
    }
    readAvailable(lines);
    return lines;
  }

  const std::string& path() const noexcept { return path_; }
  // Times the follower started over because the file shrank / was replaced.
  std::uint64_t truncations() const noexcept { return truncations_; }
  std::uint64_t rotations() const noexcept { return rotations_; }

 private:
  // Opens the file; at the end of it (the first open) or at its start (a file that appeared
  // or replaced the one followed). Returns false if it does not exist (or cannot be opened).
  bool openFile(bool atEnd) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return false;
    }
    fd_ = fd;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = atEnd ? st.st_size : 0;
    partial_.clear();
    return true;
  }

  void closeFile() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    closeFile();
    throw std::system_error(err, std::generic_category(), std::string(what) + " " + path_);
  }

  // Reads from offset_ to the end of the file (at most maxReadPerPoll bytes) and appends the
  // completed lines. Returns true if it reached the end of the file.
  bool readAvailable(std::vector<std::string>& lines) {
    char buffer[64 * 1024];
    std::size_t budget = options_.maxReadPerPoll;
    while (budget > 0) {
      const ssize_t n = ::pread(fd_, buffer, std::min(sizeof buffer, budget), offset_);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("read");
      }
      if (n == 0) return true;
      offset_ += n;
      budget -= static_cast<std::size_t>(n);
      split(std::string_view(buffer, static_cast<std::size_t>(n)), lines);
    }
    return false;
  }

  void split(std::string_view data, std::vector<std::string>& lines) {
    while (!data.empty()) {
      const std::size_t nl = data.find('\n');
      const std::size_t take = nl == std::string_view::npos ? data.size() : nl;
      partial_.append(data.substr(0, take));
      if (nl != std::string_view::npos) {
        if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
        lines.push_back(std::exchange(partial_, {}));
        data.remove_prefix(nl + 1);
      } else {
        data = {};
      }
      while (partial_.size() >= options_.maxLineLength) {
        lines.push_back(partial_.substr(0, options_.maxLineLength));
        partial_.erase(0, options_.maxLineLength);
      }
    }
  }

  std::string path_;
  FollowOptions options_;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  std::string partial_;  // the start of a line whose newline has not been written yet
  std::uint64_t truncations_ = 0;
  std::uint64_t rotations_ = 0;
};

struct LogTailOptions {
  // How often the file is polled.
  torsion::Seconds pollInterval = std::chrono::milliseconds(200);
  // Bytes a paused client may have waiting in its queue before it is dropped.
  std::size_t maxPendingBytes = 1024 * 1024;
  FollowOptions follow;
};

class LogTailFactory;

// One connected client: receives lines, sends nothing that matters (what it sends is read and
// ignored, so it cannot fill anything up). It is the push producer of its own transport.
class TailClient : public torsion::Protocol, public torsion::IProducer {
 public:
  explicit TailClient(LogTailFactory& factory) : tail_(factory) {}

  void connectionMade() override;
  void connectionLost(const torsion::Failure& reason) override;

  // Sends one line, or queues it while the transport is paused. Returns false (and drops the
  // connection) if the queue went over the limit.
  bool sendLine(std::string_view line);

  // ---- IProducer: the transport says when to hold back --------------------------------------
  void pauseProducing() override { paused_ = true; }
  void resumeProducing() override {
    paused_ = false;
    if (!pending_.empty() && transport != nullptr) {
      // One write for everything queued: the transport pauses us again if that goes over
      // its high-water mark, and the next lines queue up behind it.
      std::string out = std::exchange(pending_, {});
      transport->write(out);
    }
  }
  void stopProducing() override {
    stopped_ = true;
    pending_.clear();
  }

  bool paused() const noexcept { return paused_; }
  std::size_t pendingBytes() const noexcept { return pending_.size(); }

 private:
  LogTailFactory& tail_;
  std::string pending_;  // lines waiting while paused, "\r\n" included
  bool paused_ = false;
  bool stopped_ = false;
};

// Follows one file and pushes its new lines to every client. `clock` runs the poll loop: the
// Reactor in the program, a testing::Clock in tests; it must outlive the factory's use.
class LogTailFactory : public torsion::Factory {
 public:
  LogTailFactory(torsion::IReactorTime& clock, std::string path, LogTailOptions options = {})
      : clock_(clock), path_(std::move(path)), options_(options) {}

  std::unique_ptr<torsion::Protocol> buildProtocol(const torsion::Address&) override {
    auto client = std::make_unique<TailClient>(*this);
    client->factory = this;
    return client;
  }

  // The first port started using the factory: note where the file ends now (lines already
  // there are not sent) and start polling.
  void startFactory() override {
    follower_.emplace(path_, options_.follow);
    loop_.emplace(clock_, [this] { poll(); });
    loop_->start(options_.pollInterval, /*now=*/false).addErrback([](torsion::Failure f) {
      logger().failure("The poll loop stopped", f);
    });
  }
  void stopFactory() override {
    loop_.reset();  // ends the loop silently
    follower_.reset();
  }

  // One tick of the loop: read the new lines and send each to every client.
  void poll() {
    std::vector<std::string> lines;
    try {
      lines = follower_->poll();
    } catch (const std::system_error& e) {
      logger().warn("Cannot read {path}: {error}", {{"path", path_}, {"error", e.what()}});
      return;
    }
    if (lines.empty() || clients_.empty()) return;
    // A client dropped while we send (abortConnection may report connectionLost at once on
    // some transports) leaves clients_; the snapshot and `connected` keep the loop safe.
    const std::vector<TailClient*> snapshot = clients_;
    for (const std::string& line : lines) {
      for (TailClient* client : snapshot) {
        if (client->connected) client->sendLine(line);
      }
    }
  }

  const LogTailOptions& options() const noexcept { return options_; }
  std::size_t clientCount() const noexcept { return clients_.size(); }
  // Clients dropped for not reading.
  std::uint64_t droppedClients() const noexcept { return dropped_; }
  // The follower (while the factory is started), for the counters.
  const FileFollower* follower() const noexcept { return follower_ ? &*follower_ : nullptr; }

 private:
  friend class TailClient;

  void add(TailClient* client) { clients_.push_back(client); }
  void remove(TailClient* client) { std::erase(clients_, client); }

  torsion::IReactorTime& clock_;
  std::string path_;
  LogTailOptions options_;
  std::optional<FileFollower> follower_;
  std::optional<torsion::LoopingCall> loop_;
  std::vector<TailClient*> clients_;
  std::uint64_t dropped_ = 0;
};

inline void TailClient::connectionMade() {
  transport->registerProducer(*this, /*streaming=*/true);
  tail_.add(this);
  logger().info("Client {peer} connected", {{"peer", transport->getPeer().toString()}});
}

inline void TailClient::connectionLost(const torsion::Failure& reason) {
  tail_.remove(this);
  logger().info("Client {peer} gone: {reason}",
                {{"peer", transport->getPeer().toString()}, {"reason", reason.getErrorMessage()}});
}

inline bool TailClient::sendLine(std::string_view line) {
  if (stopped_ || transport == nullptr || transport->disconnecting()) return false;
  if (!paused_) {
    const std::string_view pieces[] = {line, "\r\n"};
    transport->writeSequence(pieces);
    return true;
  }
  if (pending_.size() + line.size() + 2 > tail_.options().maxPendingBytes) {
    ++tail_.dropped_;
    logger().warn("Dropping client {peer}: {bytes} bytes waiting, it does not keep up",
                  {{"peer", transport->getPeer().toString()}, {"bytes", pending_.size()}});
    pending_.clear();
    transport->abortConnection();
    return false;
  }
  pending_.append(line);
  pending_.append("\r\n");
  return true;
}

}  // namespace examples::logtail
