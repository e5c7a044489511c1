// LoopingCall and deferLater: the scheduling of twisted.internet.task, behind thin templates.
#include "torsion/defer/task.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "torsion/defer/errors.hpp"

namespace torsion {
namespace detail {

// A LoopingCall's loop. Owned by the LoopingCall handle alone; the pending timed call points
// at it without owning it (detach() and the destructor cancel that call first), and what
// waits on a call's Deferred or on start()'s cancellation holds it weakly. So nothing keeps
// a loop alive once its owner is gone, and there is no reference cycle to leak.
//
// Each start() begins a "run", numbered by run_. A call carries its run's number and
// Deferred with it, so that a call still in progress from a stopped run ends that run (fires
// its Deferred) without disturbing a run started after it.
class LoopingCallState : public std::enable_shared_from_this<LoopingCallState> {
 public:
  LoopingCallState(IReactorTime& clock, LoopingCallBody body, bool counting)
      : clock_(clock), body_(std::move(body)), counting_(counting) {}
  LoopingCallState(const LoopingCallState&) = delete;
  LoopingCallState& operator=(const LoopingCallState&) = delete;
  ~LoopingCallState() { cancelPendingCall(); }

  Deferred<void> start(Seconds interval, bool now) {
    if (running_) throw std::logic_error("LoopingCall::start: the loop is already running");
    const double seconds = interval.count();
    if (!(seconds >= 0.0)) {  // also refuses NaN
      throw std::invalid_argument("LoopingCall::start: the interval must be >= 0");
    }
    const std::shared_ptr<LoopingCallState> keep = shared_from_this();  // f may destroy the owner
    running_ = true;
    const std::uint64_t run = ++run_;
    Deferred<void> done([weak = weak_from_this(), run](Deferred<void>&) {
      if (auto self = weak.lock()) self->cancelRun(run);
    });
    done_ = done;
    interval_ = seconds;
    startTime_ = clock_.seconds();
    runAtStart_ = now;
    realLastTime_.reset();  // Twisted keeps it across runs, which miscounts a restarted loop
    if (now) {
      call();
    } else {
      scheduleFrom(startTime_);
    }
    return done;
  }

  void stop() {
    if (!running_) throw std::logic_error("LoopingCall::stop: the loop is not running");
    running_ = false;
    if (call_.active()) {
      // Between calls: the run ends now. (During a call, the call's end fires the Deferred.)
      cancelPendingCall();
      Deferred<void> done = std::move(*done_);
      done_.reset();
      done.callback();
    }
  }

  void reset() {
    if (!running_) throw std::logic_error("LoopingCall::reset: the loop is not running");
    if (call_.active()) {
      cancelPendingCall();
      startTime_ = clock_.seconds();
      scheduleFrom(startTime_);
    }
  }

  // The owning LoopingCall is going away: end everything without running anything.
  void detach() noexcept {
    detached_ = true;
    running_ = false;
    cancelPendingCall();
    inner_.reset();
    done_.reset();
  }

  bool running() const noexcept { return running_; }
  double interval() const noexcept { return interval_; }

 private:
  // One call of the function (Twisted's LoopingCall.__call__).
  void call() {
    const std::shared_ptr<LoopingCallState> keep = shared_from_this();  // f may destroy the owner
    call_ = DelayedCall();
    const std::uint64_t run = run_;
    Deferred<void> done = *done_;

    std::int64_t count = 1;
    if (counting_ && !countIntervals(count)) {
      finished(run, std::move(done), nullptr);
      return;
    }

    std::optional<Deferred<void>> result;
    try {
      result = body_(count);
    } catch (...) {
      const Failure failure = Failure::current();
      finished(run, std::move(done), &failure);
      return;
    }
    if (detached_) return;
    if (!result) {
      finished(run, std::move(done), nullptr);
      return;
    }
    const bool cancelled = run == cancelledRun_;  // start()'s Deferred was cancelled by f
    if (run == run_ && !cancelled) inner_ = *result;
    std::weak_ptr<LoopingCallState> weak = keep;
    try {
      result->addCallbacks(
          [weak, run, done]() {
            if (auto self = weak.lock()) self->finished(run, done, nullptr);
          },
          [weak, run, done](const Failure& failure) {
            if (auto self = weak.lock()) self->finished(run, done, &failure);
          });
    } catch (...) {  // f returned a stale handle of a chain it extended
      const Failure failure = Failure::current();
      finished(run, std::move(done), &failure);
      return;
    }
    if (cancelled) result->cancel();
  }

  // A call of run `run` has finished, with `failure` if it failed.
  void finished(std::uint64_t run, Deferred<void> done, const Failure* failure) {
    if (detached_) return;
    const bool current = run == run_;
    if (current) inner_.reset();
    if (run == cancelledRun_) return;  // start()'s Deferred already failed with CancelledError
    if (failure != nullptr) {
      if (current) {
        running_ = false;
        done_.reset();
      }
      if (!done.called()) done.errback(*failure);
      return;
    }
    if (current && running_) {
      scheduleFrom(clock_.seconds());
      return;
    }
    if (current) done_.reset();
    if (!done.called()) done.callback();
  }

  // start()'s Deferred of run `run` is being cancelled.
  void cancelRun(std::uint64_t run) {
    cancelledRun_ = run;
    if (run != run_) return;  // an earlier run: only its call in progress is left, ignored
    running_ = false;
    done_.reset();
    cancelPendingCall();
    if (inner_) {
      Deferred<void> inner = std::move(*inner_);
      inner_.reset();
      inner.cancel();
    }
  }

  // Twisted's _scheduleFrom: the next call at the next multiple of the interval after `when`.
  void scheduleFrom(double when) {
    double delay = 0.0;
    if (interval_ > 0.0) {
      double into = std::fmod(when - startTime_, interval_);
      if (into < 0.0) into += interval_;  // Python's %: the divisor's sign
      delay = interval_ - into;
      // A remainder so close to the interval that adding the delay does not move `when`
      // means we are at a multiple: wait a whole interval rather than call again at once.
      if (when == when + delay) delay = interval_;
    }
    call_ = clock_.callLater(Seconds(delay), [this] { call(); });
  }

  // withCount's counter: false if no interval has elapsed since the last call.
  bool countIntervals(std::int64_t& count) {
    const double now = clock_.seconds();
    if (interval_ == 0.0) {
      realLastTime_ = now;
      count = 1;
      return true;
    }
    double last = startTime_;
    if (realLastTime_) {
      last = *realLastTime_;
    } else if (runAtStart_) {
      last -= interval_;
    }
    count = intervalOf(now) - intervalOf(last);
    if (count <= 0) return false;
    realLastTime_ = now;
    return true;
  }

  // Whole intervals from the start to `t`, truncated toward zero as Python's int() does.
  std::int64_t intervalOf(double t) const {
    return static_cast<std::int64_t>(std::trunc((t - startTime_) / interval_));
  }

  void cancelPendingCall() noexcept {
    if (call_.active()) call_.cancel();
    call_ = DelayedCall();
  }

  IReactorTime& clock_;
  LoopingCallBody body_;
  const bool counting_;

  bool running_ = false;
  bool detached_ = false;
  bool runAtStart_ = false;
  double interval_ = 0.0;
  double startTime_ = 0.0;
  std::optional<double> realLastTime_;
  std::uint64_t run_ = 0;
  std::uint64_t cancelledRun_ = 0;
  DelayedCall call_;                     // the next call, when one is scheduled
  std::optional<Deferred<void>> done_;   // start()'s Deferred of the current run
  std::optional<Deferred<void>> inner_;  // the current run's call in progress, to cancel
};

Deferred<void> deferLater(IReactorTime& clock, Seconds delay) {
  // The canceller needs the DelayedCall, which exists only once the Deferred does.
  auto call = std::make_shared<DelayedCall>();
  Deferred<void> d([call](Deferred<void>&) {
    if (call->active()) call->cancel();
  });
  *call = clock.callLater(delay, [d]() mutable { d.callback(); });
  return d;
}

}  // namespace detail

LoopingCall::LoopingCall(IReactorTime& clock, detail::LoopingCallBody body, bool counting)
    : state_(std::make_shared<detail::LoopingCallState>(clock, std::move(body), counting)) {}

LoopingCall::LoopingCall(LoopingCall&& other) noexcept = default;

LoopingCall& LoopingCall::operator=(LoopingCall&& other) noexcept {
  if (this != &other) {
    if (state_) state_->detach();
    state_ = std::move(other.state_);
  }
  return *this;
}

LoopingCall::~LoopingCall() {
  if (state_) state_->detach();
}

detail::LoopingCallState& LoopingCall::checked() const {
  if (!state_) throw std::logic_error("use of a moved-from LoopingCall");
  return *state_;
}

Deferred<void> LoopingCall::start(Seconds interval, bool now) {
  return checked().start(interval, now);
}

void LoopingCall::stop() { checked().stop(); }

void LoopingCall::reset() { checked().reset(); }

bool LoopingCall::running() const noexcept { return state_ && state_->running(); }

Seconds LoopingCall::interval() const noexcept {
  return Seconds(state_ ? state_->interval() : 0.0);
}

}  // namespace torsion
