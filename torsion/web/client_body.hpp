// Request bodies for the HTTP client: IBodyProducer (Twisted's twisted.web.iweb.IBodyProducer)
// and three producers: StringBodyProducer (bytes in memory), FileBodyProducer (Twisted's, a
// stream read chunk by chunk) and PipeBodyProducer (bytes the caller writes as they come).
//
// A request with a body producer is sent with "Content-Length: N" when the producer knows its
// length, and with "Transfer-Encoding: chunked" when it does not (each write becomes one
// chunk). The connection calls, on the reactor thread:
//   startProducing(consumer)   once, after the request head was written: write the body to
//                              `consumer` (any number of writes, now or later) and fire the
//                              returned Deferred once everything is written (or fail it).
//                              `consumer` is valid until that Deferred fires or
//                              stopProducing() is called; do not register producers on it.
//   pauseProducing()           the connection's write buffer is above its high-water mark:
//   resumeProducing()          stop writing until resumeProducing() (the producer is
//                              registered as a streaming producer on the transport).
//   stopProducing()            the request is abandoned (connection lost, response arrived
//                              early, request cancelled): write nothing more. The Deferred
//                              returned by startProducing is ignored from then on (firing
//                              it or not are both fine).
// Writing more bytes than length(), or firing with fewer, fails the request with
// RequestTransmissionFailed wrapping WrongBodyLength; a failed Deferred fails it with
// RequestGenerationFailed. Either way the connection is closed.
//
// A producer is used for one request: requests are not retried automatically when they have
// a body (Twisted's rule), and redirects are followed without the body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/producer.hpp"

namespace torsion::web {

class IBodyProducer : public IProducer {
 public:
  // The number of bytes the body holds, or nothing when unknown (sent chunked). Read once,
  // before startProducing.
  virtual std::optional<std::uint64_t> length() const = 0;
  virtual Deferred<void> startProducing(IConsumer& consumer) = 0;
};

// A body held in memory, written at once.
class StringBodyProducer final : public IBodyProducer {
 public:
  explicit StringBodyProducer(std::string body) : body_(std::move(body)) {}
  std::optional<std::uint64_t> length() const override { return body_.size(); }
  // Writes the whole body (the transport queues what the socket does not take) and returns a
  // fired Deferred.
  Deferred<void> startProducing(IConsumer& consumer) override;
  void pauseProducing() override {}
  void resumeProducing() override {}
  void stopProducing() override {}
  const std::string& body() const noexcept { return body_; }

 private:
  std::string body_;
};

// A body read from a stream (a file, a string stream), `readSize` bytes per reactor turn, as
// Twisted's FileBodyProducer reads one chunk per cooperator step. The length is what is left
// from the current position to the end when the stream can seek (a file, a stringstream),
// else unknown (chunked). Pausing stops the reads until resumed; a read error fails the
// Deferred. Reading a stream blocks the loop for the duration of one read, as in Twisted.
class FileBodyProducer final : public IBodyProducer {
 public:
  FileBodyProducer(IReactorTime& clock, std::unique_ptr<std::istream> input,
                   std::size_t readSize = 64 * 1024);
  // Opens `path` for reading (std::ios::binary); throws std::system_error if it cannot.
  static std::shared_ptr<FileBodyProducer> open(IReactorTime& clock, const std::string& path,
                                                std::size_t readSize = 64 * 1024);
  ~FileBodyProducer() override;

  std::optional<std::uint64_t> length() const override { return length_; }
  // Cancelling the returned Deferred stops the reads (as stopProducing does) and fails it
  // with CancelledError.
  Deferred<void> startProducing(IConsumer& consumer) override;
  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;

 private:
  void schedule();
  void step();

  IReactorTime& clock_;
  std::unique_ptr<std::istream> input_;
  std::size_t readSize_;
  std::optional<std::uint64_t> length_;
  IConsumer* consumer_ = nullptr;
  Deferred<void> done_ = nullptr;
  DelayedCall call_;
  std::string buffer_;
  bool paused_ = false;
  bool stopped_ = false;
};

// A body the caller writes piece by piece while the request is under way (an upload made on
// the fly, a proxy passing a body on). Writes before the connection starts the body, or while
// it is paused, are kept and sent in order when it goes on; wait for room with
// whenWritable() to bound them. finish() ends the body; fail() abandons the request
// (RequestGenerationFailed). With a length, exactly that many bytes must be written.
class PipeBodyProducer final : public IBodyProducer {
 public:
  explicit PipeBodyProducer(std::optional<std::uint64_t> length = {}) : length_(length) {}
  ~PipeBodyProducer() override;

  std::optional<std::uint64_t> length() const override { return length_; }
  Deferred<void> startProducing(IConsumer& consumer) override;
  void pauseProducing() override { paused_ = true; }
  void resumeProducing() override;
  void stopProducing() override;

  // ---- the caller's side ---------------------------------------------------------------
  // Sends `data` now if the body is started and not paused, else keeps it. Ignored after
  // finish(), fail() or stopProducing().
  void write(std::string_view data);
  // The body is complete (once what is kept has been sent).
  void finish();
  // Abandons the body: the request fails with RequestGenerationFailed wrapping `reason`.
  void fail(Failure reason);
  // The connection stopped the body (the request ended or was abandoned): writes are ignored.
  bool stopped() const noexcept { return stopped_; }
  // Bytes kept and not yet sent.
  std::size_t pendingBytes() const noexcept { return pending_.size(); }
  // Fires once the body is started, not paused and nothing is kept (at once if so now), or
  // when it is stopped (then writing is pointless: check stopped()). Cancelling it only drops
  // it.
  Deferred<void> whenWritable();

 private:
  void flush();
  void wakeWriters();

  std::optional<std::uint64_t> length_;
  IConsumer* consumer_ = nullptr;
  Deferred<void> done_ = nullptr;
  std::string pending_;
  std::vector<Deferred<void>> writers_;
  std::optional<Failure> failure_;
  bool started_ = false;
  bool paused_ = false;
  bool finished_ = false;
  bool stopped_ = false;
};

}  // namespace torsion::web
