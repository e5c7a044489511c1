// Coroutines that return Deferred<T> (included by deferred.hpp).
//
//     Deferred<int> add(Deferred<int> a, Deferred<int> b) {
//       int x = co_await std::move(a);   // suspends until a fires; throws its failure
//       int y = co_await std::move(b);
//       co_return x + y;                 // fires the coroutine's Deferred
//     }
//
// Twisted's `async def` + ensureDeferred, or inlineCallbacks, in C++:
//  * the coroutine starts at once (like ensureDeferred) and runs until its first co_await
//    of a Deferred that has no result yet;
//  * co_return fires its Deferred; an exception escaping the body errbacks it;
//  * co_await of a Deferred that already has a result does not suspend (a loop of a million
//    such awaits does not grow the stack);
//  * cancellation: cancelling the coroutine's Deferred cancels the Deferred it is awaiting;
//    that one's CancelledError (or whatever its canceller makes of it) surfaces at the
//    co_await, where the coroutine may catch it and go on. If the coroutine is not
//    awaiting anything at that moment (it cancelled itself while running), the next
//    Deferred it awaits that has no result yet is cancelled as soon as it is awaited;
//  * a coroutine suspended on a Deferred that is destroyed without firing is destroyed too
//    (its locals' destructors run; its own Deferred never fires). Awaiting a named Deferred
//    (`co_await d`) keeps d alive from the frame, so the producer's dropping it does not
//    free the coroutine: prefer `co_await std::move(d)` or awaiting a temporary.
#pragma once

#include <coroutine>
#include <exception>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace torsion::detail {

template <class T>
class PromiseBase : public CoroutineLink {
 public:
  PromiseBase() = default;
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;
  ~PromiseBase() {
    if (state_ != nullptr) {
      state_->setCoroutine(nullptr);
      state_->release();
    }
  }

  Deferred<T> get_return_object() {
    state_ = DeferredState::create(typeid(T));
    state_->setCoroutine(this);
    state_->addRef();
    return DeferredAccess::adopt<T>(state_);
  }
  std::suspend_never initial_suspend() noexcept { return {}; }
  std::suspend_never final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept {
    finish([&] { state_->setFailure(Failure::current(SourceLocation())); });
  }

 protected:
  template <class Store>
  void finish(Store&& store) noexcept {
    state_->setCoroutine(nullptr);
    try {
      // Somebody may have fired the coroutine's Deferred by hand; then the result is
      // dropped, as a second callback() would be an AlreadyCalledError nobody can catch.
      if (!state_->beginFire()) return;
    } catch (const AlreadyCalledError&) {
      return;
    }
    store();
    state_->fire();
  }

  DeferredState* state_ = nullptr;
};

template <class T>
class DeferredPromise : public PromiseBase<T> {
 public:
  template <class V, class = std::enable_if_t<std::is_convertible_v<V&&, T>>>
  void return_value(V&& value) {
    this->finish([&] { this->state_->template setValue<T>(std::forward<V>(value)); });
  }
};

template <>
class DeferredPromise<void> : public PromiseBase<void> {
 public:
  void return_void() {
    this->finish([&] { this->state_->setValue<void>(); });
  }
};

// The awaiter of `co_await deferred`.
template <class T>
class DeferredAwaiter {
 public:
  // `adopt`: s's reference moves into the awaiter (co_await of an rvalue), which gives it
  // up when it suspends. Otherwise (an lvalue) the awaiter takes its own reference and
  // keeps it while suspended, as the lvalue does anyway.
  DeferredAwaiter(DeferredState* s, bool adopt) noexcept : s_(s), keepWhileSuspended_(!adopt) {
    if (!adopt) s_->addRef();
  }
  DeferredAwaiter(const DeferredAwaiter&) = delete;
  DeferredAwaiter& operator=(const DeferredAwaiter&) = delete;
  ~DeferredAwaiter() {
    if (held_) s_->release();
  }

  bool await_ready() const noexcept { return s_->ready() && !s_->consumed(); }

  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CoroutineLink* link;
    if constexpr (std::is_base_of_v<CoroutineLink, P>) {
      link = &h.promise();
    } else {
      link = &foreign_;
    }
    if (s_->consumed()) {
      throw std::logic_error("co_await of a Deferred whose result was already taken");
    }
    if (link->cancelRequested) {
      link->cancelRequested = false;
      s_->cancel();
    }
    if (s_->ready()) return false;  // fired meanwhile: go on without suspending
    s_->appendResumer(h, link);
    if (!keepWhileSuspended_) {
      // Let go of the Deferred: if nobody else holds it, it can never fire, and releasing
      // it destroys this coroutine. Nothing of the frame (this awaiter included) may be
      // touched after this line.
      held_ = false;
      DeferredState* s = s_;
      s->release();
    }
    return true;
  }

  T await_resume() {
    s_->markConsumed();
    if (s_->kind() == DeferredState::Kind::kFailure) s_->takeFailure().raiseException();
    if constexpr (!std::is_void_v<T>) return s_->value().template take<T>();
  }

 private:
  DeferredState* s_;
  bool held_ = true;
  bool keepWhileSuspended_;
  CoroutineLink foreign_;  // for coroutines of other libraries' types
};

}  // namespace torsion::detail
