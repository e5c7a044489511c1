// TimeoutMixin: one idle timeout for a protocol (Twisted's policies.TimeoutMixin).
//
//   class Session : public torsion::protocols::LineReceiver,
//                   public torsion::protocols::TimeoutMixin {
//    public:
//     explicit Session(torsion::IReactorTime& clock) : TimeoutMixin(clock) {}
//     void connectionMade() override { setTimeout(std::chrono::seconds(60)); }
//     void lineReceived(std::string_view line) override { resetTimeout(); ... }
//     void connectionLost(const torsion::Failure&) override { setTimeout(std::nullopt); }
//   };
//
// The timeout runs from setTimeout(period) until resetTimeout() starts it again or
// setTimeout(std::nullopt) stops it; when it runs out, timeoutConnection() is called, whose
// default loses the connection. The clock is given explicitly (Twisted calls the global
// reactor's callLater): the Reactor in production, testing::Clock in tests.
//
// As in Twisted, the timeout is not stopped by itself when the connection is lost: stop it in
// connectionLost (the transport is gone afterwards). Destroying the mixin cancels it too.
// Single-threaded, like the clock.
#pragma once

#include <optional>

#include "torsion/core/time.hpp"

namespace torsion::protocols {

class TimeoutMixin {
 public:
  explicit TimeoutMixin(IReactorTime& clock) : clock_(&clock) {}
  // Cancels a pending timeout.
  virtual ~TimeoutMixin();
  TimeoutMixin(const TimeoutMixin&) = delete;
  TimeoutMixin& operator=(const TimeoutMixin&) = delete;

  // Sets the period (std::nullopt: no timeout) and returns the previous one. A running
  // timeout restarts with the new period or stops; if none runs, a new one starts.
  std::optional<Seconds> setTimeout(std::optional<Seconds> period);

  // Restarts a running timeout with the current period ("they're still there"). Does nothing
  // if none runs: no period was set, it was stopped, or it already ran out.
  void resetTimeout();

  // The current period (Twisted's timeOut attribute).
  std::optional<Seconds> timeOut() const noexcept { return timeOut_; }

  // The timeout ran out (it is no longer running; setTimeout starts a new one). The default
  // calls loseConnection() on the transport of the Protocol this is mixed into, if it is
  // mixed into one that has a transport.
  virtual void timeoutConnection();

 protected:
  IReactorTime& clock() const noexcept { return *clock_; }

 private:
  void timedOut();

  IReactorTime* clock_;
  std::optional<Seconds> timeOut_;
  DelayedCall call_;
};

}  // namespace torsion::protocols
