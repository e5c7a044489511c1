// torsion::Deferred<T>: a result that is not there yet (Twisted's Deferred, typed).
//
// A Deferred<T> is a handle to a callback chain. Whoever produces the result fires it once
// with callback(value) or errback(failure); whoever consumes it adds callbacks and errbacks,
// which run synchronously, in order, when it fires (or at once if it already fired):
//
//     Deferred<Page> d = fetch(url);
//     d.addCallback([](Page p) { return p.title(); })      // -> Deferred<std::string>
//      .addErrback([](Failure f) { f.trap<TimeoutError>(); return std::string("(slow)"); })
//      .addCallback([](std::string title) { std::puts(title.c_str()); });
//
// The rules are Twisted's (reference section 2):
//  * a callback that throws switches the chain to the errback path; an errback that returns
//    a value switches it back; an errback that rethrows (or returns a Failure) keeps failing;
//  * a callback that returns a Deferred<U> pauses the chain until that one fires, and the
//    chain continues with its result (done without recursion: a million such links are fine);
//  * firing twice throws AlreadyCalledError; cancel() runs the canceller or errbacks with
//    CancelledError, and then swallows the producer's first late result;
//  * a Deferred whose last handle goes away while its result is a Failure logs
//    "Unhandled error in Deferred:" at that moment.
//
// Types: addCallback(f) with f: T -> U (or T -> Deferred<U>, or T -> Result<U>) returns a
// Deferred<U> for the same chain. The handle you called it on keeps describing the earlier
// step: keep adding to the returned handle (adding to a stale handle whose type no longer
// matches throws std::logic_error). The handle the chain started from is the one to fire.
//
// Handles are cheap to copy (one non-atomic reference count). Like everything in torsion
// except what is documented as thread-safe, a Deferred is used on one thread at a time.
//
// Coroutines: a function returning Deferred<T> may be a coroutine; it can `co_await` any
// Deferred<U> and `co_return` its result. See the section "Coroutines" below.
#pragma once

#include <coroutine>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "torsion/core/source_location.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred_state.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/defer/result.hpp"

namespace torsion {

template <class T>
class Deferred;

namespace detail {

template <class T>
struct IsDeferred : std::false_type {};
template <class T>
struct IsDeferred<Deferred<T>> : std::true_type {};
template <class T>
struct IsResult : std::false_type {};
template <class T>
struct IsResult<Result<T>> : std::true_type {};

// What a callback's return type R means for the chain's next type.
template <class R>
struct Unwrap {
  using type = R;
};
template <class X>
struct Unwrap<Deferred<X>> {
  using type = X;
};
template <class X>
struct Unwrap<Result<X>> {
  using type = X;
};
template <class R>
using UnwrapT = typename Unwrap<std::remove_cvref_t<R>>::type;

template <class F, class T>
constexpr bool callableWith() {
  if constexpr (std::is_void_v<T>) {
    return std::is_invocable_v<F&>;
  } else {
    return std::is_invocable_v<F&, T&&>;
  }
}

template <class F, class T, bool = std::is_void_v<T>>
struct CallResult {
  using type = std::invoke_result_t<F&, T&&>;
};
template <class F, class T>
struct CallResult<F, T, true> {
  using type = std::invoke_result_t<F&>;
};

// Does an errback returning R recover (or keep failing) on a chain of type T?
template <class R, class T>
constexpr bool errbackFits() {
  using D = std::remove_cvref_t<R>;
  if constexpr (std::is_same_v<D, Failure>) {
    return true;
  } else if constexpr (IsDeferred<D>::value || IsResult<D>::value) {
    return std::is_same_v<UnwrapT<D>, T>;
  } else if constexpr (std::is_void_v<T>) {
    return std::is_void_v<D>;
  } else {
    return !std::is_void_v<D> && std::is_convertible_v<D, T>;
  }
}

template <class>
inline constexpr bool kAlwaysFalse = false;

struct PassValue {};    // the success path goes on unchanged
struct DropValue {};    // the success path goes on as void
struct PassFailure {};  // the failure path goes on unchanged

struct DeferredAccess {
  template <class T>
  static DeferredState* state(const Deferred<T>& d) noexcept {
    return d.state_;
  }
  template <class T>
  static DeferredState* release(Deferred<T>& d) noexcept {
    return std::exchange(d.state_, nullptr);
  }
  template <class T>
  static Deferred<T> adopt(DeferredState* s) noexcept {  // takes the reference
    return Deferred<T>(s);
  }
};

// Stores what a callback returned (or threw) as the chain's new result.
template <class U, class Call>
void deliver(DeferredState& s, Call&& call, CallSite where, const Failure* incoming) noexcept {
  using R = std::remove_cvref_t<std::invoke_result_t<Call&>>;
  try {
    if constexpr (std::is_void_v<R>) {
      call();
      s.setValue<void>();
    } else if constexpr (std::is_same_v<R, Failure>) {
      s.setFailure(call());
    } else if constexpr (IsDeferred<R>::value) {
      R d = call();
      DeferredState* inner = DeferredAccess::release(d);
      if (inner == nullptr)
        throw std::logic_error("a callback returned an empty (moved-from) Deferred");
      if (inner->tailType() != typeid(UnwrapT<R>)) {
        inner->release();
        throw std::logic_error("a callback returned a stale Deferred handle");
      }
      s.setInner(inner);
    } else if constexpr (IsResult<R>::value) {
      R r = call();
      if (!r.ok()) {
        s.setFailure(std::move(r).failure());
      } else if constexpr (std::is_void_v<U>) {
        s.setValue<void>();
      } else {
        s.setValue<U>(std::move(r).value());
      }
    } else {
      s.setValue<U>(call());
    }
  } catch (...) {
    s.setFailureFromCurrent(where.location(), incoming);
  }
}

// One (callback, errback) pair of a chain whose result type is T before it and U after.
template <class T, class U, class Cb, class Eb>
struct Step {
  [[no_unique_address]] Cb cb;
  [[no_unique_address]] Eb eb;
  CallSite where;

  void invoke(DeferredState& s) {
    if (s.kind() == DeferredState::Kind::kFailure) {
      if constexpr (!std::is_same_v<Eb, PassFailure>) {
        Failure f = s.takeFailure();
        const Failure incoming = f;
        deliver<U>(
            s, [&]() -> decltype(auto) { return std::invoke(eb, std::move(f)); }, where, &incoming);
      }
    } else if constexpr (std::is_same_v<Cb, DropValue>) {
      s.setValue<void>();
    } else if constexpr (!std::is_same_v<Cb, PassValue>) {
      if constexpr (std::is_void_v<T>) {
        deliver<U>(
            s, [&]() -> decltype(auto) { return std::invoke(cb); }, where, nullptr);
      } else {
        T v = s.value().take<T>();
        deliver<U>(
            s, [&]() -> decltype(auto) { return std::invoke(cb, std::move(v)); }, where, nullptr);
      }
    }
  }
};

// An addBoth callback: gets the result, whichever it is, as a Result<T>.
template <class T, class U, class F>
struct BothStep {
  F f;
  CallSite where;

  void invoke(DeferredState& s) {
    if (s.kind() == DeferredState::Kind::kFailure) {
      Failure fl = s.takeFailure();
      const Failure incoming = fl;
      deliver<U>(
          s, [&]() -> decltype(auto) { return std::invoke(f, Result<T>(std::move(fl))); }, where,
          &incoming);
    } else if constexpr (std::is_void_v<T>) {
      deliver<U>(
          s, [&]() -> decltype(auto) { return std::invoke(f, Result<void>()); }, where, nullptr);
    } else {
      Result<T> r(s.value().take<T>());
      deliver<U>(
          s, [&]() -> decltype(auto) { return std::invoke(f, std::move(r)); }, where, nullptr);
    }
  }
};

template <class C>
std::size_t entryInline(void* p, DeferredState& s, EntryOp op) {
  C* c = std::launder(static_cast<C*>(p));
  if (op == EntryOp::kInvoke) c->invoke(s);
  c->~C();
  return CallbackList::padded(sizeof(C));
}

template <class C>
std::size_t entryBoxed(void* p, DeferredState& s, EntryOp op) {
  C* c = *static_cast<C**>(p);
  if (op == EntryOp::kInvoke) c->invoke(s);
  delete c;
  return CallbackList::padded(sizeof(C*));
}

template <class C>
void appendEntry(DeferredState& s, C&& c) {
  using D = std::decay_t<C>;
  if constexpr (CallbackList::kStoredInline<D>) {
    s.append(&entryInline<D>, std::forward<C>(c));
  } else {
    s.append(&entryBoxed<D>, new D(std::forward<C>(c)));
  }
}

template <class T>
class DeferredPromise;
template <class T>
class DeferredAwaiter;
struct CancelledToTimeout;

}  // namespace detail

template <class T>
class Deferred {
  static_assert(!std::is_reference_v<T>, "Deferred<T>: T must be a value type, not a reference");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Failure>,
                "Deferred<Failure> is not a thing: every Deferred<T> can carry a Failure");
  static_assert(!detail::IsDeferred<std::remove_cv_t<T>>::value,
                "Deferred<Deferred<U>> is not a thing: a Deferred that yields a Deferred chains "
                "to it; use Deferred<U>");
  static_assert(std::is_void_v<T> || std::is_move_constructible_v<T>,
                "Deferred<T>: T must be move-constructible");

 public:
  using value_type = T;
  using promise_type = detail::DeferredPromise<T>;

  // A new, unfired Deferred.
  Deferred() : state_(detail::DeferredState::create(typeid(T))) {}

  // A new, unfired Deferred with a canceller: cancel() calls canceller(deferred) first; if
  // the canceller does not fire the Deferred, it errbacks with CancelledError.
  template <class C, class = std::enable_if_t<std::is_invocable_v<std::decay_t<C>&, Deferred&>>>
  explicit Deferred(C&& canceller) : Deferred() {
    state_->setCanceller([c = std::forward<C>(canceller)](detail::DeferredState& s) mutable {
      s.addRef();
      Deferred self(&s);
      c(self);
    });
  }

  // An empty handle, like a moved-from one: no chain; everything but assignment,
  // destruction and `explicit operator bool` (false) throws std::logic_error.
  Deferred(std::nullptr_t) noexcept : state_(nullptr) {}  // NOLINT: implicit by design

  Deferred(const Deferred& other) noexcept : state_(other.state_) {
    if (state_ != nullptr) state_->addRef();
  }
  Deferred(Deferred&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Deferred& operator=(Deferred other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Deferred() {
    if (state_ != nullptr) state_->release();
  }

  // ---- firing (the producer's side) ---------------------------------------------------

  // Fires the chain with a value. Throws AlreadyCalledError if it already fired (except
  // that the first result after a cancel() without canceller is silently dropped).
  template <class V = T, class = std::enable_if_t<!std::is_void_v<V>>>
  void callback(std::type_identity_t<V> value) {
    detail::DeferredState* s = checked();
    s->checkFire(typeid(T));
    if (!s->beginFire()) return;
    s->setValue<T>(std::move(value));
    s->fire();
  }
  template <class V = T, class = std::enable_if_t<std::is_void_v<V>>>
  void callback() {
    detail::DeferredState* s = checked();
    s->checkFire(typeid(T));
    if (!s->beginFire()) return;
    s->setValue<void>();
    s->fire();
  }
  // callback(Failure) is errback(Failure), as in Twisted.
  void callback(Failure failure) { errback(std::move(failure)); }
  template <class U>
  void callback(const Deferred<U>&) {
    static_assert(detail::kAlwaysFalse<U>,
                  "Deferred::callback() takes a value, not a Deferred: to continue with another "
                  "Deferred's result, return it from a callback (or use chainDeferred)");
  }

  // Fires the chain with a failure.
  void errback(Failure failure) {
    detail::DeferredState* s = checked();
    if (!s->beginFire()) return;
    s->setFailure(std::move(failure));
    s->fire();
  }
  // errback(SomeError("...")): wraps an exception object.
  template <class E, class = std::enable_if_t<std::is_base_of_v<std::exception, std::decay_t<E>>>>
  void errback(E&& error, SourceLocation where = SourceLocation::current()) {
    errback(Failure(std::forward<E>(error), where));
  }
  // errback() inside a catch block: wraps the exception being handled.
  void errback(SourceLocation where = SourceLocation::current()) {
    errback(Failure::current(where));
  }

  // ---- the chain (the consumer's side) ------------------------------------------------

  // Adds a callback f: T -> U (Deferred<void>: () -> U). U may be void, a value, a
  // Deferred<U> (the chain waits for it) or a Result<U>. A failure skips f. Returns the
  // chain as Deferred<U>.
  template <class F>
  auto addCallback(F&& f, SourceLocation where = SourceLocation::current()) {
    using Fn = std::decay_t<F>;
    if constexpr (!detail::callableWith<Fn, T>()) {
      static_assert(detail::callableWith<Fn, T>(),
                    "Deferred<T>::addCallback(f): f must be callable with a T (with no "
                    "arguments for a Deferred<void>)");
      return *this;
    } else {
      using R = typename detail::CallResult<Fn, T>::type;
      using U = std::conditional_t<std::is_same_v<std::remove_cvref_t<R>, Failure>, T,
                                   detail::UnwrapT<R>>;
      return append<U>(detail::Step<T, U, Fn, detail::PassFailure>{std::forward<F>(f),
                                                                   detail::PassFailure{}, where});
    }
  }

  // Adds an errback f: Failure -> T (recover), Failure (keep failing), Result<T>,
  // Deferred<T>; it may also throw (Failure::trap rethrows what it does not handle). An
  // errback returning void ends the chain as a Deferred<void> (values are then dropped).
  // A success skips f.
  template <class F>
  auto addErrback(F&& f, SourceLocation where = SourceLocation::current()) {
    using Fn = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<Fn&, Failure>) {
      static_assert(std::is_invocable_v<Fn&, Failure>,
                    "Deferred<T>::addErrback(f): f must be callable with a torsion::Failure");
      return *this;
    } else {
      using R = std::invoke_result_t<Fn&, Failure>;
      if constexpr (detail::errbackFits<R, T>()) {
        return append<T>(detail::Step<T, T, detail::PassValue, Fn>{detail::PassValue{},
                                                                   std::forward<F>(f), where});
      } else if constexpr (std::is_void_v<std::remove_cvref_t<R>>) {
        return append<void>(detail::Step<T, void, detail::DropValue, Fn>{
            detail::DropValue{}, std::forward<F>(f), where});
      } else {
        static_assert(detail::kAlwaysFalse<R>,
                      "Deferred<T>::addErrback(f): f must return T (to recover), Failure (to "
                      "keep failing), Result<T> or Deferred<T>, or void (to end the chain as "
                      "Deferred<void>); or throw");
        return *this;
      }
    }
  }

  // Adds a callback and an errback as one step (Twisted's addCallbacks): exactly one of
  // them runs. The errback must produce what the callback produces.
  template <class F, class E>
  auto addCallbacks(F&& f, E&& e, SourceLocation where = SourceLocation::current()) {
    using Fn = std::decay_t<F>;
    using En = std::decay_t<E>;
    if constexpr (!detail::callableWith<Fn, T>() || !std::is_invocable_v<En&, Failure>) {
      static_assert(detail::callableWith<Fn, T>(),
                    "Deferred<T>::addCallbacks(f, e): f must be callable with a T");
      static_assert(std::is_invocable_v<En&, Failure>,
                    "Deferred<T>::addCallbacks(f, e): e must be callable with a torsion::Failure");
      return *this;
    } else {
      using R = typename detail::CallResult<Fn, T>::type;
      using U = std::conditional_t<std::is_same_v<std::remove_cvref_t<R>, Failure>, T,
                                   detail::UnwrapT<R>>;
      using RE = std::invoke_result_t<En&, Failure>;
      if constexpr (!detail::errbackFits<RE, U>()) {
        static_assert(detail::kAlwaysFalse<RE>,
                      "Deferred<T>::addCallbacks(f, e): e must produce what f produces (U, "
                      "Result<U>, Deferred<U>, or Failure)");
        return *this;
      } else {
        return append<U>(detail::Step<T, U, Fn, En>{std::forward<F>(f), std::forward<E>(e), where});
      }
    }
  }

  // Adds f: Result<T> -> U, called with the value or the failure (Twisted's addBoth).
  // Returning the Result passes it on: d.addBoth([](auto r) { cleanup(); return r; }).
  template <class F>
  auto addBoth(F&& f, SourceLocation where = SourceLocation::current()) {
    using Fn = std::decay_t<F>;
    if constexpr (!std::is_invocable_v<Fn&, Result<T>&&>) {
      static_assert(std::is_invocable_v<Fn&, Result<T>&&>,
                    "Deferred<T>::addBoth(f): f must be callable with a torsion::Result<T>");
      return *this;
    } else {
      using R = std::invoke_result_t<Fn&, Result<T>&&>;
      using U = std::conditional_t<std::is_same_v<std::remove_cvref_t<R>, Failure>, T,
                                   detail::UnwrapT<R>>;
      return append<U>(detail::BothStep<T, U, Fn>{std::forward<F>(f), where});
    }
  }

  // Fires `other` with this chain's result (Twisted's chainDeferred). This chain goes on
  // with no value (void), as in Twisted, where it goes on with None.
  Deferred<void> chainDeferred(Deferred<T> other) {
    if constexpr (std::is_void_v<T>) {
      return addCallbacks([other]() mutable { other.callback(); },
                          [other](Failure f) mutable { other.errback(std::move(f)); });
    } else {
      return addCallbacks([other](T v) mutable { other.callback(std::move(v)); },
                          [other](Failure f) mutable { other.errback(std::move(f)); });
    }
  }

  // Cancels the chain in `timeout` unless it fired by then; a cancellation caused by the
  // timeout becomes TimeoutError (or whatever onTimeoutCancel(result, timeout) returns).
  // Covers the callbacks added before this call; if the chain fires first, the timer is
  // cancelled. `clock` must outlive the timer (a Reactor or a testing::Clock).
  template <class OnTimeout = detail::CancelledToTimeout>
  Deferred addTimeout(Seconds timeout, IReactorTime& clock, OnTimeout onTimeoutCancel = {}) {
    static_assert(std::is_invocable_r_v<Result<T>, OnTimeout&, Result<T>&&, Seconds>,
                  "addTimeout: onTimeoutCancel must be callable as (Result<T>, Seconds) -> "
                  "Result<T>");
    checked()->checkAppend(typeid(T));
    DelayedCall call = clock.callLater(timeout, [self = *this]() mutable { self.cancel(); });
    return addBoth([call, timeout, on = std::move(onTimeoutCancel)](Result<T> r) mutable {
      if (call.called()) return Result<T>(on(std::move(r), timeout));  // it timed out
      if (call.active()) call.cancel();
      return r;
    });
  }

  // ---- pause, cancel, state -----------------------------------------------------------

  // Holds results back until unpause() (nests as a counter).
  void pause() { checked()->pause(); }
  void unpause() { checked()->unpause(); }

  // Cancels an unfired Deferred (runs the canceller; errbacks with CancelledError unless the
  // canceller fired it). On a Deferred waiting on another one, cancels that one. On a fired
  // Deferred, does nothing. On a coroutine's Deferred, cancels what the coroutine awaits,
  // and the CancelledError surfaces at that co_await.
  void cancel() { checked()->cancel(); }

  // Fired (callback/errback happened), even if its chain is paused.
  bool called() const { return checked()->called(); }
  bool paused() const { return checked()->paused() > 0; }
  // Fired and not paused: a callback added now runs at once.
  bool hasResult() const { return checked()->ready(); }
  // The chain's current result is a Failure.
  bool failed() const { return checked()->kind() == detail::DeferredState::Kind::kFailure; }
  // Handles to the same chain compare equal.
  friend bool operator==(const Deferred& a, const Deferred& b) noexcept {
    return a.state_ == b.state_;
  }
  // False for a moved-from handle.
  explicit operator bool() const noexcept { return state_ != nullptr; }

  // ---- coroutines ---------------------------------------------------------------------

  // `co_await d` in a coroutine returning a Deferred: suspends until d fires, then yields
  // its value or throws its failure's exception. Does not suspend if d already has a
  // result. The result is taken: d cannot be awaited or extended again. Cancelling the
  // awaiting coroutine's Deferred cancels d. Awaiting an rvalue (a temporary or
  // std::move(d)) lets the coroutine be freed if d's producer drops d without firing it.
  detail::DeferredAwaiter<T> operator co_await() & { return {checked(), false}; }
  detail::DeferredAwaiter<T> operator co_await() && {
    checked();
    return {std::exchange(state_, nullptr), true};
  }

 private:
  template <class>
  friend class Deferred;
  friend struct detail::DeferredAccess;

  explicit Deferred(detail::DeferredState* s) noexcept : state_(s) {}  // takes a reference

  detail::DeferredState* checked() const {
    if (state_ == nullptr) throw std::logic_error("use of a moved-from Deferred");
    return state_;
  }

  template <class U, class S>
  Deferred<U> append(S&& step) {
    detail::DeferredState* s = checked();
    s->checkAppend(typeid(T));
    s->setTailType(typeid(U));
    s->addRef();
    Deferred<U> next(s);
    detail::appendEntry(*s, std::forward<S>(step));
    return next;
  }

  detail::DeferredState* state_;
};

// A Deferred that already fired with `value` (Twisted's succeed).
template <class T>
Deferred<std::decay_t<T>> succeed(T&& value) {
  Deferred<std::decay_t<T>> d;
  d.callback(std::forward<T>(value));
  return d;
}
inline Deferred<void> succeed() {
  Deferred<void> d;
  d.callback();
  return d;
}

// A Deferred<T> that already failed (Twisted's fail).
template <class T>
Deferred<T> fail(Failure failure) {
  Deferred<T> d;
  d.errback(std::move(failure));
  return d;
}
template <class T, class E,
          class = std::enable_if_t<std::is_base_of_v<std::exception, std::decay_t<E>>>>
Deferred<T> fail(E&& error, SourceLocation where = SourceLocation::current()) {
  return fail<T>(Failure(std::forward<E>(error), where));
}

// Calls f(args...) and returns its result as a Deferred (Twisted's maybeDeferred): a
// Deferred is returned as it is, a Result or value as a fired Deferred, an exception as a
// failed one.
template <class F, class... A>
auto maybeDeferred(F&& f, A&&... args) {
  using R = std::remove_cvref_t<std::invoke_result_t<F&&, A&&...>>;
  static_assert(!std::is_same_v<R, Failure>,
                "maybeDeferred(f): f returning a Failure leaves the type unknown; return "
                "Result<T> or throw");
  using U = detail::UnwrapT<R>;
  try {
    if constexpr (detail::IsDeferred<R>::value) {
      return R(std::invoke(std::forward<F>(f), std::forward<A>(args)...));
    } else if constexpr (std::is_void_v<R>) {
      std::invoke(std::forward<F>(f), std::forward<A>(args)...);
      return succeed();
    } else if constexpr (detail::IsResult<R>::value) {
      R r = std::invoke(std::forward<F>(f), std::forward<A>(args)...);
      if (!r.ok()) return fail<U>(std::move(r).failure());
      if constexpr (std::is_void_v<U>) {
        return succeed();
      } else {
        return succeed(std::move(r).value());
      }
    } else {
      return succeed(std::invoke(std::forward<F>(f), std::forward<A>(args)...));
    }
  } catch (...) {
    return fail<U>(Failure::current());
  }
}

namespace detail {

// addTimeout's default: a CancelledError caused by the timeout becomes TimeoutError.
struct CancelledToTimeout {
  template <class T>
  Result<T> operator()(Result<T> r, Seconds timeout) const {
    if (r.ok()) return r;
    r.failure().template trap<CancelledError>();
    throw TimeoutError(timeout.count());
  }
};

}  // namespace detail
}  // namespace torsion

#include "torsion/defer/coroutine.hpp"  // IWYU pragma: export
