#include "torsion/testing/clock.hpp"

#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "torsion/core/timer_queue.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/log/logger.hpp"

namespace torsion::testing {

namespace {

// Reported as the Reactor reports it: a critical event carrying the Failure, in the
// "torsion.testing.Clock" namespace. Under the shared test main, a test whose timed call
// throws fails unless it takes the error with testing::flushLoggedErrors.
void reportTimedCallError(std::exception_ptr error) noexcept {
  try {
    const Logger log("torsion.testing.Clock");
    log.failure("Unhandled error in a timed call", Failure(std::move(error)));
  } catch (...) {
    std::fputs("torsion.testing.Clock: unhandled error in a timed call (could not log it)\n",
               stderr);
  }
}

}  // namespace

Clock::Clock() {
  queue_ = std::make_unique<detail::TimerQueue>([this] { return now_; }, &reportTimedCallError);
}

Clock::~Clock() = default;

double Clock::seconds() const { return now_; }

DelayedCall Clock::callLater(Seconds delay, UniqueFunction<void()> f) {
  const double d = delay.count() < 0 ? 0.0 : delay.count();  // NaN stays NaN: schedule throws
  return queue_->schedule(now_ + d, std::move(f));
}

std::vector<DelayedCall> Clock::getDelayedCalls() const { return queue_->entries(); }

void Clock::advance(Seconds amount) {
  const double a = amount.count();
  if (!(a >= 0)) throw std::invalid_argument("Clock::advance: amount is negative or NaN");
  now_ += a;
  // A call may itself advance the clock; the inner advance runs what its new time makes
  // due, and this loop then catches up with the time it left behind.
  while (queue_->runUntilEmptyOrLater(now_) > 0) {
  }
}

void Clock::pump(const std::vector<Seconds>& timings) {
  for (const Seconds amount : timings) advance(amount);
}

}  // namespace torsion::testing
