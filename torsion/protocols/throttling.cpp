#include "torsion/protocols/throttling.hpp"

#include <stdexcept>
#include <utility>
#include <vector>

#include "torsion/log/logger.hpp"

namespace torsion::protocols {

namespace {

const Logger& throttlingLog() {
  static const Logger logger("torsion.protocols.throttling");
  return logger;
}

void cancelIfActive(DelayedCall& call) {
  if (call.active()) call.cancel();
  call = DelayedCall();
}

// A copy, so that a callback which loses a connection cannot invalidate the iteration.
std::vector<ThrottlingProtocol*> throttlingProtocols(const WrappingFactory& factory) {
  std::vector<ThrottlingProtocol*> out;
  out.reserve(factory.protocols().size());
  for (ProtocolWrapper* p : factory.protocols()) out.push_back(static_cast<ThrottlingProtocol*>(p));
  return out;
}

}  // namespace

// ---- ThrottlingProtocol ---------------------------------------------------------------------

ThrottlingProtocol::ThrottlingProtocol(ThrottlingFactory& factory,
                                       std::unique_ptr<Protocol> wrapped)
    : ProtocolWrapper(factory, std::move(wrapped)) {}

ThrottlingFactory& ThrottlingProtocol::throttling() const noexcept {
  return static_cast<ThrottlingFactory&>(wrappingFactory());
}

void ThrottlingProtocol::write(std::string_view data) {
  throttling().registerWritten(data.size());
  ProtocolWrapper::write(data);
}

void ThrottlingProtocol::writeSequence(std::span<const std::string_view> pieces) {
  std::size_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  throttling().registerWritten(total);
  ProtocolWrapper::writeSequence(pieces);
}

void ThrottlingProtocol::dataReceived(std::string_view data) {
  throttling().registerRead(data.size());
  ProtocolWrapper::dataReceived(data);
}

void ThrottlingProtocol::registerProducer(IProducer& producer, bool streaming) {
  ProtocolWrapper::registerProducer(producer, streaming);
  producer_ = &producer;
  if (throttling().writesThrottled()) producer.pauseProducing();
}

void ThrottlingProtocol::unregisterProducer() {
  producer_ = nullptr;
  ProtocolWrapper::unregisterProducer();
}

void ThrottlingProtocol::throttleReads() { transport->pauseProducing(); }
void ThrottlingProtocol::unthrottleReads() { transport->resumeProducing(); }

void ThrottlingProtocol::throttleWrites() {
  if (producer_ != nullptr) producer_->pauseProducing();
}

void ThrottlingProtocol::unthrottleWrites() {
  if (producer_ != nullptr) producer_->resumeProducing();
}

// ---- ThrottlingFactory ----------------------------------------------------------------------

ThrottlingFactory::ThrottlingFactory(std::shared_ptr<Factory> wrapped, IReactorTime& clock,
                                     std::size_t maxConnections, std::optional<std::size_t> reads,
                                     std::optional<std::size_t> writes)
    : WrappingFactory(std::move(wrapped)),
      maxConnectionCount(maxConnections),
      readLimit(reads),
      writeLimit(writes),
      clock_(clock) {
  if ((readLimit && *readLimit == 0) || (writeLimit && *writeLimit == 0)) {
    throw std::invalid_argument("ThrottlingFactory: a limit of 0 bytes per second");
  }
}

ThrottlingFactory::~ThrottlingFactory() { cancelChecks(); }

std::unique_ptr<ProtocolWrapper> ThrottlingFactory::wrapProtocol(
    std::unique_ptr<Protocol> wrapped) {
  return std::make_unique<ThrottlingProtocol>(*this, std::move(wrapped));
}

std::unique_ptr<Protocol> ThrottlingFactory::buildProtocol(const Address& addr) {
  if (connectionCount() >= maxConnectionCount) {
    throttlingLog().info("Max connection count reached!");
    return nullptr;
  }
  return WrappingFactory::buildProtocol(addr);
}

void ThrottlingFactory::registerProtocol(ProtocolWrapper& wrapper) {
  const bool first = protocols().empty();
  WrappingFactory::registerProtocol(wrapper);
  if (first) {
    if (readLimit) checkReadBandwidth();
    if (writeLimit) checkWriteBandwidth();
  }
  if (readsThrottled_) static_cast<ThrottlingProtocol&>(wrapper).throttleReads();
}

void ThrottlingFactory::unregisterProtocol(ProtocolWrapper& wrapper) {
  WrappingFactory::unregisterProtocol(wrapper);
  if (protocols().empty()) cancelChecks();
}

void ThrottlingFactory::cancelChecks() {
  cancelIfActive(checkReadCall_);
  cancelIfActive(checkWriteCall_);
  cancelIfActive(unthrottleReadsCall_);
  cancelIfActive(unthrottleWritesCall_);
  readsThrottled_ = writesThrottled_ = false;
  readThisSecond_ = writtenThisSecond_ = 0;
}

void ThrottlingFactory::checkReadBandwidth() {
  if (readLimit && readThisSecond_ > *readLimit) {
    throttleReads();
    const double throttleTime =
        static_cast<double>(readThisSecond_) / static_cast<double>(*readLimit) - 1.0;
    cancelIfActive(unthrottleReadsCall_);
    unthrottleReadsCall_ = clock_.callLater(Seconds(throttleTime), [this] { unthrottleReads(); });
  }
  readThisSecond_ = 0;
  cancelIfActive(checkReadCall_);
  checkReadCall_ = clock_.callLater(Seconds(1.0), [this] { checkReadBandwidth(); });
}

void ThrottlingFactory::checkWriteBandwidth() {
  if (writeLimit && writtenThisSecond_ > *writeLimit) {
    throttleWrites();
    const double throttleTime =
        static_cast<double>(writtenThisSecond_) / static_cast<double>(*writeLimit) - 1.0;
    cancelIfActive(unthrottleWritesCall_);
    unthrottleWritesCall_ = clock_.callLater(Seconds(throttleTime), [this] { unthrottleWrites(); });
  }
  writtenThisSecond_ = 0;
  cancelIfActive(checkWriteCall_);
  checkWriteCall_ = clock_.callLater(Seconds(1.0), [this] { checkWriteBandwidth(); });
}

void ThrottlingFactory::throttleReads() {
  throttlingLog().info("Throttling reads");
  readsThrottled_ = true;
  for (ThrottlingProtocol* p : throttlingProtocols(*this)) p->throttleReads();
}

void ThrottlingFactory::unthrottleReads() {
  throttlingLog().info("Stopped throttling reads");
  readsThrottled_ = false;
  for (ThrottlingProtocol* p : throttlingProtocols(*this)) p->unthrottleReads();
}

void ThrottlingFactory::throttleWrites() {
  throttlingLog().info("Throttling writes");
  writesThrottled_ = true;
  for (ThrottlingProtocol* p : throttlingProtocols(*this)) p->throttleWrites();
}

void ThrottlingFactory::unthrottleWrites() {
  throttlingLog().info("Stopped throttling writes");
  writesThrottled_ = false;
  for (ThrottlingProtocol* p : throttlingProtocols(*this)) p->unthrottleWrites();
}

}  // namespace torsion::protocols
