// ReconnectingClientFactory: a ClientFactory that connects again, after a growing and
// randomised delay, whenever an attempt fails or an established connection is lost
// (Twisted's protocol.ReconnectingClientFactory, with its constants).
//
//   auto factory = ReconnectingClientFactory::forProtocol<Chat>(reactor);
//   net.connectTCP("chat.example", 6667, factory);
//   // in Chat::connectionMade: static_cast<ReconnectingClientFactory*>(factory)->resetDelay();
//
// The delay before retry n is initialDelay * factor^n, capped at maxDelay, then drawn from a
// normal distribution around that value with standard deviation delay * jitter (so the first
// retry waits about e seconds, not initialDelay, exactly as in Twisted). The delay keeps
// growing across failures until resetDelay(), which a protocol calls once it is connected. After
// maxRetries consecutive retries (if set) it gives up.
//
// The clock that schedules retries is given to the constructor (the reactor, or a
// testing::Clock); so is the random source, so that tests are deterministic. All calls on the
// reactor thread. Destroying the factory cancels a pending retry.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "torsion/core/time.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/port.hpp"

namespace torsion {

class ReconnectingClientFactory : public ClientFactory {
 public:
  // Draws from the normal distribution with this mean and standard deviation (Python's
  // random.normalvariate).
  using NormalVariate = std::function<double(double mean, double stddev)>;

  // `clock` must outlive the factory. An empty `random` uses a std::mt19937 seeded from
  // std::random_device.
  explicit ReconnectingClientFactory(IReactorTime& clock,
                                     std::function<std::unique_ptr<Protocol>()> make = {},
                                     NormalVariate random = {});
  ~ReconnectingClientFactory() override;

  template <class P, class... Args>
  static std::shared_ptr<ReconnectingClientFactory> forProtocol(IReactorTime& clock, Args... args) {
    return std::make_shared<ReconnectingClientFactory>(
        clock, [args...]() -> std::unique_ptr<Protocol> { return std::make_unique<P>(args...); });
  }

  // ---- the policy (Twisted's class attributes; change them before connecting) ---------------
  double maxDelay = 3600;
  double initialDelay = 1.0;
  double factor = 2.7182818284590451;  // e
  double jitter = 0.119626565582;      // Twisted 22.4's value; 0 disables the randomness
  std::optional<int> maxRetries;       // none: retry forever

  // ---- the state --------------------------------------------------------------------------
  // The delay of the latest retry, in seconds.
  double delay = initialDelay;
  // Retries since the last resetDelay().
  int retries = 0;

  // Both schedule a retry of `connector` unless stopTrying() was called. Subclasses that
  // override them call these too (as Twisted's subclasses call the base class).
  void clientConnectionFailed(IConnector& connector, const Failure& reason) override;
  void clientConnectionLost(IConnector& connector, const Failure& reason) override;

  // Schedules connector.connect() after the next delay (on the connector given, or the last
  // one seen). Does nothing after stopTrying() or once maxRetries is exceeded. Throws
  // std::logic_error when there is no connector to retry. The factory keeps the connector
  // alive (shared_from_this) until the retry ran.
  void retry(IConnector* connector = nullptr);

  // Stops trying: cancels a pending retry and stops an attempt in progress (an established
  // connection is left alone).
  void stopTrying();

  // Call once connected: the next failure starts again from initialDelay, retries is 0, and
  // trying is back on.
  void resetDelay();

  bool continueTrying() const noexcept { return continueTrying_; }
  // The pending retry, if any (inactive otherwise).
  const DelayedCall& pendingRetry() const noexcept { return callID_; }

 private:
  IReactorTime& clock_;
  NormalVariate random_;
  // Weak: the connector owns this factory; a strong reference lives only in a pending retry.
  std::weak_ptr<IConnector> connector_;
  DelayedCall callID_;
  bool continueTrying_ = true;
};

}  // namespace torsion
