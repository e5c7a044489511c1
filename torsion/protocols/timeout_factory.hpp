// TimeoutFactory: drops connections that stay idle too long (Twisted's
// policies.TimeoutFactory and TimeoutProtocol).
//
// Each connection gets a TimeoutProtocol wrapper whose timeout (30 minutes by default) starts
// when the connection is made and starts again with every byte read or written; when it runs
// out, the wrapper loses the connection. For a protocol that wants to decide for itself what
// "idle" means, mix TimeoutMixin into it instead.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "torsion/core/time.hpp"
#include "torsion/protocols/timeout.hpp"
#include "torsion/protocols/wrapping.hpp"

namespace torsion::protocols {

class TimeoutFactory;

// The wrapper TimeoutFactory gives each connection. Twisted's setTimeout(period),
// cancelTimeout() and resetTimeout() are TimeoutMixin's setTimeout(period),
// setTimeout(std::nullopt) and resetTimeout(); its timeoutFunc() is timeoutConnection().
class TimeoutProtocol : public ProtocolWrapper, public TimeoutMixin {
 public:
  TimeoutProtocol(TimeoutFactory& factory, std::unique_ptr<Protocol> wrapped, IReactorTime& clock,
                  std::optional<Seconds> timeoutPeriod);

  // Starts the timeout, then connects the wrapped protocol.
  void makeConnection(ITransport& t) override;
  // Each restarts the timeout, then passes through.
  void dataReceived(std::string_view data) override;
  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  // Stops the timeout, then passes the loss on.
  void connectionLost(const Failure& reason) override;
  // The default: loseConnection() on this wrapper (so the wrapped protocol sees
  // disconnecting()).
  void timeoutConnection() override;

 private:
  std::optional<Seconds> initialPeriod_;
};

class TimeoutFactory : public WrappingFactory {
 public:
  TimeoutFactory(std::shared_ptr<Factory> wrapped, IReactorTime& clock,
                 std::optional<Seconds> timeoutPeriod = std::chrono::minutes(30));

  const std::optional<Seconds> timeoutPeriod;

 protected:
  std::unique_ptr<ProtocolWrapper> wrapProtocol(std::unique_ptr<Protocol> wrapped) override;

 private:
  IReactorTime& clock_;
};

}  // namespace torsion::protocols
