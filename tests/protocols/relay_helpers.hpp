// Protocols shared by the relay, portforward and SOCKS tests: a writer that sends as fast as
// its transport lets it, and a reader that keeps everything.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "torsion/defer/failure.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::test {

// Writes `total` bytes of a known pattern as a streaming producer of its transport: as much
// as the transport takes before pausing it, the rest as it resumes. Then loses the connection
// unless told to keep it.
class Firehose : public Protocol, public IProducer {
 public:
  explicit Firehose(std::size_t total, bool closeWhenDone = true)
      : total_(total), closeWhenDone_(closeWhenDone) {}

  // The byte at `offset` of the pattern (a period that no chunk size divides evenly).
  static char at(std::size_t offset) { return static_cast<char>('a' + offset % 23); }
  static bool matches(std::string_view data) {
    for (std::size_t i = 0; i < data.size(); ++i) {
      if (data[i] != at(i)) return false;
    }
    return true;
  }

  void connectionMade() override {
    transport->registerProducer(*this, true);
    produce();
  }
  void dataReceived(std::string_view data) override { received.append(data); }
  void pauseProducing() override { paused_ = true; }
  void resumeProducing() override {
    paused_ = false;
    produce();
  }
  void stopProducing() override { stopped_ = true; }

  std::size_t sent() const noexcept { return sent_; }
  std::string received;

 private:
  void produce() {
    std::string chunk;
    while (!paused_ && !stopped_ && sent_ < total_) {
      const std::size_t n = std::min<std::size_t>(16 * 1024 + 7, total_ - sent_);
      chunk.resize(n);
      for (std::size_t i = 0; i < n; ++i) chunk[i] = at(sent_ + i);
      sent_ += n;
      transport->write(chunk);
    }
    if (sent_ == total_ && !done_ && !stopped_) {
      done_ = true;
      transport->unregisterProducer();
      if (closeWhenDone_) transport->loseConnection();
    }
  }

  std::size_t total_;
  bool closeWhenDone_;
  std::size_t sent_ = 0;
  bool paused_ = false;
  bool stopped_ = false;
  bool done_ = false;
};

// Keeps what it reads and remembers how the connection went.
class Sink : public Protocol, public IHalfCloseableProtocol {
 public:
  void connectionMade() override { made = true; }
  void dataReceived(std::string_view data) override { received.append(data); }
  void connectionLost(const Failure& reason) override {
    lost = true;
    this->reason = reason;
  }
  void readConnectionLost() override {
    readLost = true;
    if (closeOnEndOfFile) transport->loseConnection();
  }
  void writeConnectionLost() override { writeLost = true; }

  std::string received;
  bool made = false;
  bool lost = false;
  bool readLost = false;
  bool writeLost = false;
  // Close at once on end of file (as a protocol that is not half-closeable would).
  bool closeOnEndOfFile = false;
  std::optional<Failure> reason;
};

}  // namespace torsion::test
