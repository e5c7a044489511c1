// torsion::testing::Clock: virtual time for tests (Twisted's twisted.internet.task.Clock).
//
// Code that needs time takes an IReactorTime&. In production that is the Reactor; in a test
// it is a Clock, whose time stands still until the test moves it with advance(), so a test of
// a timeout or a retry runs in microseconds, never sleeps, and gives the same result every
// time:
//
//   torsion::testing::Clock clock;
//   bool fired = false;
//   torsion::DelayedCall call = clock.callLater(std::chrono::seconds(5), [&] { fired = true; });
//   clock.advance(std::chrono::seconds(4));   // nothing yet
//   clock.advance(std::chrono::seconds(1));   // now at 5 s: fired == true, call.called()
//
// Ordering, as in task.Clock: calls run in time order; calls due at the same time run in
// the order they were scheduled (a reset() counts as scheduling anew). seconds() starts at 0.
// Unlike task.Clock, which re-sorts its list on every callLater, each call costs O(log n).
//
// Single-threaded: use a Clock from one thread only.
#pragma once

#include <memory>
#include <vector>

#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"

namespace torsion::testing {

class Clock final : public IReactorTime {
 public:
  Clock();
  // Cancels the calls still pending: their handles report cancelled() and their functions
  // are destroyed without running.
  ~Clock() override;

  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;

  // The virtual time in seconds: 0 at construction, moved only by advance() and pump().
  double seconds() const override;

  // Schedules `f` to run once `delay` from now (negative counts as 0); it runs inside the
  // advance() that brings the time to or past it. Throws std::invalid_argument for a NaN
  // delay.
  DelayedCall callLater(Seconds delay, UniqueFunction<void()> f) override;

  // The calls still pending, in no particular order.
  std::vector<DelayedCall> getDelayedCalls() const override;

  // Moves time forward by `amount`, then runs every call due at the new time, earliest
  // first, ties in scheduling order, including calls scheduled during this advance that
  // are due (callLater(0) from inside a call runs in the same advance). While they run,
  // seconds() already reads the new time, as in task.Clock. An exception escaping a call is
  // logged (a critical event with its Failure, namespace "torsion.testing.Clock"; a test
  // expecting it takes it with testing::flushLoggedErrors) and the remaining calls still
  // run; task.Clock would let it escape advance() instead. advance() may be called from
  // inside a call.
  // Throws std::invalid_argument for a negative or NaN amount: time does not run backwards.
  void advance(Seconds amount);

  // advance() by each amount in turn (task.Clock.pump): clock.pump({1s, 1s, 1s}).
  void pump(const std::vector<Seconds>& timings);

 private:
  double now_ = 0.0;
  std::unique_ptr<torsion::detail::TimerQueue> queue_;
};

}  // namespace torsion::testing
