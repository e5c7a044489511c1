// LoopingCall and deferLater (Twisted's twisted.internet.task).
//
//     LoopingCall heartbeat(reactor, [&] { sendPing(); });
//     heartbeat.start(5s).addErrback([](Failure f) { log.failure("heartbeat died", f); });
//     ...
//     heartbeat.stop();                                   // start()'s Deferred fires
//
//     Deferred<int> answer = deferLater(reactor, 2s, [] { return 42; });
//
// Both take the clock as an IReactorTime&: a Reactor in production, a testing::Clock in tests.
// The clock must outlive what is scheduled on it. Single-threaded, like the clock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"

namespace torsion {

namespace detail {

class LoopingCallState;

// One call of a LoopingCall's function, type-erased: it gets the interval count and returns
// the Deferred to wait for, or nothing when the call finished synchronously.
using LoopingCallBody = UniqueFunction<std::optional<Deferred<void>>(std::int64_t count)>;

template <class R>
constexpr bool kLoopingCallResult = std::is_void_v<R> || IsDeferred<R>::value;

template <class R>
std::optional<Deferred<void>> loopingCallOutcome(R&& result) {
  using D = std::remove_cvref_t<R>;
  if constexpr (std::is_same_v<D, Deferred<void>>) {
    return std::forward<R>(result);
  } else {
    // Twisted ignores the value a call's Deferred fires with; so do we.
    return D(std::forward<R>(result)).addCallback([](typename D::value_type&&) {});
  }
}

}  // namespace detail

// Calls a function every `interval` seconds (Twisted's LoopingCall).
//
// The function returns void or a Deferred<U> (it may be a coroutine); a Deferred's value is
// ignored. Calls happen at start + k * interval on the clock's time scale:
//  * if a call returns a Deferred, the next call is scheduled only once it fired, at the next
//    multiple of the interval after that moment;
//  * if the clock was late (a call, its Deferred, or the process overran), the intervals
//    missed are skipped, not made up with calls back to back; withCount() tells the function
//    how many intervals elapsed since its previous call;
//  * an interval of 0 calls the function again at the clock's next opportunity
//    (callLater(0)): on a Reactor, at the next loop iteration. On a testing::Clock such calls
//    all run within one advance(), so the function must stop the loop itself there.
//  * if the function throws, or its Deferred fails, the loop stops and start()'s Deferred
//    errbacks with that failure.
//
// A LoopingCall is a move-only owner of its loop. Destroying (or assigning over) a running
// one ends the loop silently: the pending call is cancelled, a Deferred returned by a call
// in progress is no longer waited for (its outcome is ignored; it is not cancelled), and
// start()'s Deferred never fires (it is released; a coroutine awaiting only it is freed, see
// coroutine.hpp). No callback runs inside the destructor, so an owner may destroy its
// LoopingCall in its own destructor without callbacks reaching a half-destroyed object.
// This is also safe from inside the function itself.
class LoopingCall {
 public:
  // f: () -> void or Deferred<U>.
  template <class F, class = std::enable_if_t<std::is_invocable_v<std::decay_t<F>&>>>
  LoopingCall(IReactorTime& clock, F&& f) : LoopingCall(clock, wrap(std::forward<F>(f)), false) {}

  // Twisted's LoopingCall.withCount: f(count) gets the number of intervals elapsed since its
  // previous call (or since start()): normally 1, more after intervals were skipped; always 1
  // with an interval of 0. A call whose count would be 0 (the clock ran a call early) is
  // skipped. f: (std::int64_t) -> void or Deferred<U>.
  template <class F>
  static LoopingCall withCount(IReactorTime& clock, F&& f) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::int64_t>,
                  "LoopingCall::withCount(clock, f): f must be callable with the count (an "
                  "integer)");
    using R = std::invoke_result_t<std::decay_t<F>&, std::int64_t>;
    static_assert(detail::kLoopingCallResult<std::remove_cvref_t<R>>,
                  "LoopingCall::withCount(clock, f): f must return void or a Deferred");
    return LoopingCall(
        clock,
        [g = std::forward<F>(f)](std::int64_t count) mutable -> std::optional<Deferred<void>> {
          if constexpr (std::is_void_v<R>) {
            g(count);
            return std::nullopt;
          } else {
            return detail::loopingCallOutcome(g(count));
          }
        },
        true);
  }

  LoopingCall(LoopingCall&& other) noexcept;
  LoopingCall& operator=(LoopingCall&& other) noexcept;
  LoopingCall(const LoopingCall&) = delete;
  LoopingCall& operator=(const LoopingCall&) = delete;
  ~LoopingCall();

  // Starts calling the function every `interval`; with `now`, the first call happens inside
  // start() (so start() may return a Deferred that already failed), otherwise one interval
  // from now. Throws std::logic_error if running, std::invalid_argument if interval < 0.
  //
  // The Deferred fires (with no value) when stop() ends the loop, or errbacks with the
  // failure of a call. Cancelling it stops the loop: the pending call is cancelled, a
  // Deferred returned by a call in progress is cancelled too, and it errbacks with
  // CancelledError. A later start() begins a new loop with a new Deferred.
  Deferred<void> start(Seconds interval, bool now = true);

  // Stops the loop. If no call is in progress, start()'s Deferred fires at once; if one is
  // (stop() from inside the function, or while its Deferred is pending), it fires when that
  // call has finished (with its failure, if it fails). Throws std::logic_error if not running.
  void stop();

  // Skips the next call and restarts the interval from now: the next call happens one
  // interval from now (Twisted's reset). Does nothing while a call is in progress. Throws
  // std::logic_error if not running.
  void reset();

  // True from start() until stop(), a failure, or a cancel of start()'s Deferred.
  bool running() const noexcept;
  // The interval of the current (or last) start(); 0 before the first start().
  Seconds interval() const noexcept;

 private:
  LoopingCall(IReactorTime& clock, detail::LoopingCallBody body, bool counting);

  template <class F>
  static detail::LoopingCallBody wrap(F&& f) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(detail::kLoopingCallResult<std::remove_cvref_t<R>>,
                  "LoopingCall(clock, f): f must return void or a Deferred");
    return [g = std::forward<F>(f)](std::int64_t) mutable -> std::optional<Deferred<void>> {
      if constexpr (std::is_void_v<R>) {
        g();
        return std::nullopt;
      } else {
        return detail::loopingCallOutcome(g());
      }
    };
  }

  detail::LoopingCallState& checked() const;

  std::shared_ptr<detail::LoopingCallState> state_;
};

namespace detail {
Deferred<void> deferLater(IReactorTime& clock, Seconds delay);
}  // namespace detail

// A Deferred that fires (with no value) `delay` from now (Twisted's deferLater without a
// callable). Cancelling it before then cancels the DelayedCall, and it errbacks with
// CancelledError.
inline Deferred<void> deferLater(IReactorTime& clock, Seconds delay) {
  return detail::deferLater(clock, delay);
}

// Calls f() `delay` from now and returns a Deferred of its result (Twisted's deferLater):
// f: () -> U, Deferred<U> or Result<U> gives a Deferred<U>; an exception thrown by f becomes
// the Deferred's failure. Cancelling it before the delay elapsed cancels the DelayedCall (f
// never runs) and it errbacks with CancelledError; once f returned a Deferred that has not
// fired yet, cancelling cancels that one.
template <class F>
auto deferLater(IReactorTime& clock, Seconds delay, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "deferLater(clock, delay, f): f must be callable with no arguments");
  return detail::deferLater(clock, delay).addCallback(std::forward<F>(f));
}

}  // namespace torsion
