#include "torsion/protocols/timeout_factory.hpp"

#include <utility>

namespace torsion::protocols {

TimeoutProtocol::TimeoutProtocol(TimeoutFactory& factory, std::unique_ptr<Protocol> wrapped,
                                 IReactorTime& clock, std::optional<Seconds> timeoutPeriod)
    : ProtocolWrapper(factory, std::move(wrapped)),
      TimeoutMixin(clock),
      initialPeriod_(timeoutPeriod) {}

void TimeoutProtocol::makeConnection(ITransport& t) {
  // Twisted starts the timeout when the wrapper is built; here it waits for the transport
  // that running out needs.
  setTimeout(initialPeriod_);
  ProtocolWrapper::makeConnection(t);
}

void TimeoutProtocol::dataReceived(std::string_view data) {
  resetTimeout();
  ProtocolWrapper::dataReceived(data);
}

void TimeoutProtocol::write(std::string_view data) {
  resetTimeout();
  ProtocolWrapper::write(data);
}

void TimeoutProtocol::writeSequence(std::span<const std::string_view> pieces) {
  resetTimeout();
  ProtocolWrapper::writeSequence(pieces);
}

void TimeoutProtocol::connectionLost(const Failure& reason) {
  setTimeout(std::nullopt);
  ProtocolWrapper::connectionLost(reason);
}

void TimeoutProtocol::timeoutConnection() { loseConnection(); }

TimeoutFactory::TimeoutFactory(std::shared_ptr<Factory> wrapped, IReactorTime& clock,
                               std::optional<Seconds> period)
    : WrappingFactory(std::move(wrapped)), timeoutPeriod(period), clock_(clock) {}

std::unique_ptr<ProtocolWrapper> TimeoutFactory::wrapProtocol(std::unique_ptr<Protocol> wrapped) {
  return std::make_unique<TimeoutProtocol>(*this, std::move(wrapped), clock_, timeoutPeriod);
}

}  // namespace torsion::protocols
