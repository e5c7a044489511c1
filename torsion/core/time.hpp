// Time as the reactor offers it: IReactorTime and DelayedCall.
//
// Code that needs time (timeouts, retries, LoopingCall) takes an IReactorTime&, so that the
// same code runs on a Reactor in production and on testing::Clock in tests. All of it is
// single-threaded: call it on the thread that runs the reactor (or that owns the Clock).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "torsion/core/function.hpp"

namespace torsion {

// Durations are seconds as a double, as in Twisted; any std::chrono duration converts.
using Seconds = std::chrono::duration<double>;

namespace detail {
class TimerEntry;
class TimerQueue;
}  // namespace detail

// A handle to a call scheduled with callLater (Twisted's IDelayedCall).
//
// Handles are cheap to copy and stay valid after the call ran or was cancelled, and after
// the clock that scheduled it is gone: using one is then a defined outcome (AlreadyCalled /
// AlreadyCancelled, or active() == false), never undefined behaviour.
class DelayedCall {
 public:
  // An empty handle: active() is false; cancel/reset/delay throw AlreadyCancelled.
  // (It names no call: called() and cancelled() are false too, and getTime() throws
  // AlreadyCancelled.) A pending call's handle whose clock is destroyed reports cancelled().
  DelayedCall() noexcept = default;
  DelayedCall(const DelayedCall& other) noexcept;
  DelayedCall(DelayedCall&& other) noexcept;
  DelayedCall& operator=(const DelayedCall& other) noexcept;
  DelayedCall& operator=(DelayedCall&& other) noexcept;
  ~DelayedCall();

  // The time (on the scheduling clock's seconds() scale) at which the call will run.
  double getTime() const;

  // Unschedules the call; its function is destroyed without running.
  // Throws AlreadyCalled if it ran, AlreadyCancelled if it was cancelled.
  void cancel();

  // Reschedules the call to run `secondsFromNow` after the clock's current time (negative
  // counts as 0, as in callLater). A reset call runs after calls already scheduled for the
  // same time. Throws as cancel() does.
  void reset(Seconds secondsFromNow);

  // Pushes the call `secondsLater` further into the future (negative: sooner). Unlike reset,
  // the call keeps its place in scheduling order among calls due at the same time.
  // Throws as cancel() does.
  void delay(Seconds secondsLater);

  // True until the call has run or been cancelled.
  bool active() const noexcept;
  bool called() const noexcept;
  bool cancelled() const noexcept;

  friend bool operator==(const DelayedCall& a, const DelayedCall& b) noexcept {
    return a.entry_ == b.entry_;
  }

 private:
  friend class detail::TimerQueue;
  explicit DelayedCall(detail::TimerEntry* entry) noexcept;  // takes a new reference
  detail::TimerEntry* entry_ = nullptr;
};

// The clock interface (Twisted's IReactorTime). Implemented by testing::Clock and, later,
// by the Reactor.
class IReactorTime {
 public:
  virtual ~IReactorTime() = default;

  // The current time in seconds. Only differences between values are meaningful.
  virtual double seconds() const = 0;

  // Schedules `f` to run once, `delay` from now (a negative delay counts as 0). Calls due at
  // the same time run in the order they were scheduled. An exception escaping `f` is logged
  // and does not stop the clock.
  virtual DelayedCall callLater(Seconds delay, UniqueFunction<void()> f) = 0;

  // The calls scheduled and not yet run or cancelled, in no particular order.
  virtual std::vector<DelayedCall> getDelayedCalls() const = 0;
};

}  // namespace torsion
