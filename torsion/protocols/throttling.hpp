// ThrottlingFactory: caps the connection count and the bytes read and written per second
// across all of a factory's connections (Twisted's policies.ThrottlingFactory).
//
// Every byte read or written through a connection counts towards this second's totals. Once
// a second (on the clock given), a total over its limit throttles every connection for as
// long as the excess would take at the limit (total / limit - 1 seconds):
//  - reads: the real transport's pauseProducing() (it stops reading), resumeProducing() after;
//  - writes: the producer the protocol registered is paused, then resumed; a protocol that
//    writes without a registered producer is not slowed down (as in Twisted).
// The checks run while at least one connection is up and stop with the last one.
//
// Unlike Twisted, a connection made while reads (or writes) are throttled starts throttled,
// rather than being the one connection that may go at full speed.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "torsion/core/time.hpp"
#include "torsion/protocols/wrapping.hpp"

namespace torsion::protocols {

class ThrottlingFactory;

// The wrapper ThrottlingFactory gives each connection.
class ThrottlingProtocol : public ProtocolWrapper {
 public:
  ThrottlingProtocol(ThrottlingFactory& factory, std::unique_ptr<Protocol> wrapped);

  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  void dataReceived(std::string_view data) override;
  void registerProducer(IProducer& producer, bool streaming) override;
  void unregisterProducer() override;

  void throttleReads();
  void unthrottleReads();
  void throttleWrites();
  void unthrottleWrites();

 private:
  ThrottlingFactory& throttling() const noexcept;
  IProducer* producer_ = nullptr;
};

class ThrottlingFactory : public WrappingFactory {
 public:
  // Limits in bytes per second (std::nullopt: none; 0 is refused with std::invalid_argument).
  ThrottlingFactory(std::shared_ptr<Factory> wrapped, IReactorTime& clock,
                    std::size_t maxConnectionCount = std::numeric_limits<std::size_t>::max(),
                    std::optional<std::size_t> readLimit = std::nullopt,
                    std::optional<std::size_t> writeLimit = std::nullopt);
  // Cancels the checks still scheduled.
  ~ThrottlingFactory() override;

  // Refuses the connection (null) when maxConnectionCount are up.
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;
  void registerProtocol(ProtocolWrapper& wrapper) override;
  void unregisterProtocol(ProtocolWrapper& wrapper) override;

  // Called by the wrappers for every byte that goes through.
  void registerWritten(std::size_t bytes) noexcept { writtenThisSecond_ += bytes; }
  void registerRead(std::size_t bytes) noexcept { readThisSecond_ += bytes; }

  // The once-a-second checks (public, as in Twisted, for tests and for callers that want an
  // extra check now).
  void checkReadBandwidth();
  void checkWriteBandwidth();

  // Throttle or release every connection at once.
  void throttleReads();
  void unthrottleReads();
  void throttleWrites();
  void unthrottleWrites();

  std::size_t connectionCount() const noexcept { return protocols().size(); }
  std::size_t readThisSecond() const noexcept { return readThisSecond_; }
  std::size_t writtenThisSecond() const noexcept { return writtenThisSecond_; }
  bool readsThrottled() const noexcept { return readsThrottled_; }
  bool writesThrottled() const noexcept { return writesThrottled_; }

  const std::size_t maxConnectionCount;
  const std::optional<std::size_t> readLimit;
  const std::optional<std::size_t> writeLimit;

 protected:
  std::unique_ptr<ProtocolWrapper> wrapProtocol(std::unique_ptr<Protocol> wrapped) override;

 private:
  void cancelChecks();

  IReactorTime& clock_;
  std::size_t readThisSecond_ = 0;
  std::size_t writtenThisSecond_ = 0;
  bool readsThrottled_ = false;
  bool writesThrottled_ = false;
  DelayedCall checkReadCall_;
  DelayedCall checkWriteCall_;
  DelayedCall unthrottleReadsCall_;
  DelayedCall unthrottleWritesCall_;
};

}  // namespace torsion::protocols
