// Running blocking work on threads, and calling the reactor from threads
// (Twisted's twisted.internet.threads).
//
//     // On the reactor thread: hash a file without blocking the loop.
//     Deferred<Digest> d = deferToThread(reactor, [path] { return sha256File(path); });
//     d.addCallback([](Digest digest) { ... });   // runs on the reactor thread
//
//     // On a thread that is not the reactor's: ask the reactor, and wait for its answer.
//     Page page = blockingCallFromThread(reactor, [&] { return client.get(url); });
//
// The threading rule behind both: a Deferred is single-threaded (its reference count is not
// atomic), so it is created, fired and destroyed on the reactor thread only. deferToThread
// keeps its Deferred on the reactor side and lets the pool thread touch only the function and
// its result, which come back to the reactor thread through Reactor::callFromThread;
// blockingCallFromThread makes and waits for its Deferred on the reactor thread too, and hands
// only the outcome to the waiting thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "torsion/core/errors.hpp"
#include "torsion/core/function.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/core/source_location.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/defer/deferred.hpp"

namespace torsion {

// blockingCallFromThread gave up: the reactor will never complete the call. The reactor was
// destroyed with the call still queued, or the Deferred the call waited for was destroyed
// without firing, or the reactor's own pool stopped (at shutdown) while the calling thread,
// one of that pool's threads, waited (see blockingCallFromThread).
class BlockingCallAbandoned : public Error {
 public:
  using Error::Error;
};

namespace detail {

// ---- deferToThreadPool --------------------------------------------------------------------

// One deferToThreadPool call. The Deferred belongs to the reactor side: it is created,
// fired and destroyed on the thread that called deferToThreadPool; the pool thread only runs
// the function and stores its result.
class ThreadJob {
 public:
  virtual ~ThreadJob() = default;
  // On the pool thread: runs the function, keeps its result or failure, destroys it.
  virtual void run() noexcept = 0;
  // On the reactor thread: fires the Deferred with the result.
  virtual void deliver() = 0;
  // On any other thread, when the job is dropped there: lets go of the Deferred without
  // touching it (its chain is leaked and never fires).
  virtual void abandon() noexcept = 0;
};

// Queues `job` on `pool`; when it has run, hands it back to `reactor` with callFromThread,
// where it is delivered and destroyed.
void queueThreadJob(Reactor& reactor, ThreadPool& pool, std::unique_ptr<ThreadJob> job);

template <class R, class F>
class DeferToThreadJob final : public ThreadJob {
 public:
  template <class G>
  DeferToThreadJob(G&& f, SourceLocation where) : f_(std::forward<G>(f)), where_(where) {}

  Deferred<R> deferred() const { return deferred_; }

  void run() noexcept override {
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        (*f_)();
        result_.emplace();
      } else {
        result_.emplace((*f_)());
      }
    } catch (...) {
      result_.emplace(Failure(std::current_exception(), where_));
    }
    f_.reset();
  }

  void deliver() override {
    Result<R> r = std::move(*result_);
    result_.reset();
    if (!r.ok()) {
      deferred_.errback(std::move(r).failure());
    } else if constexpr (std::is_void_v<R>) {
      deferred_.callback();
    } else {
      deferred_.callback(std::move(r).value());
    }
  }

  void abandon() noexcept override { (void)DeferredAccess::release(deferred_); }

 private:
  Deferred<R> deferred_;             // the reactor thread's
  std::optional<F> f_;               // the pool thread's, once queued
  std::optional<Result<R>> result_;  // written by the pool thread, then read by the reactor's
  SourceLocation where_;             // the deferToThread call: the origin of its failures
};

// ---- blockingCallFromThread ---------------------------------------------------------------

// What the waiting thread and the reactor thread share: the outcome, once. Thread-safe.
class BlockingCallBase {
 public:
  BlockingCallBase() = default;
  BlockingCallBase(const BlockingCallBase&) = delete;
  BlockingCallBase& operator=(const BlockingCallBase&) = delete;
  virtual ~BlockingCallBase() = default;

  // Completes the call with `failure`, unless it is complete already.
  void fail(Failure failure) noexcept;
  bool completed() const;
  // Waits until the call is complete.
  void waitUntilComplete() const;
  // Waits until the call is complete; rethrows its failure's exception (once: the failure
  // is taken out of the call).
  void wait();

 protected:
  // Locked if the call is not complete yet: store the value, then finish(lock).
  std::unique_lock<std::mutex> lockIfPending();
  void finish(std::unique_lock<std::mutex>& lock) noexcept;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable done_;
  bool completed_ = false;
  std::optional<Failure> failure_;
};

template <class R>
class BlockingCall final : public BlockingCallBase {
 public:
  // Completes the call with r, unless it is complete already.
  void complete(Result<R> r) noexcept {
    if (!r.ok()) {
      fail(std::move(r).failure());
      return;
    }
    try {
      if (auto lock = lockIfPending()) {
        if constexpr (!std::is_void_v<R>) value_.emplace(std::move(r).value());
        finish(lock);
      }
    } catch (...) {  // R's move constructor threw: the waiter gets that instead
      fail(Failure::current());
    }
  }
  // On the waiting thread: waits, then returns the value or rethrows the failure.
  R take() {
    wait();
    if constexpr (std::is_void_v<R>) {
      return;
    } else {
      return std::move(*value_);
    }
  }

 private:
  struct Nothing {};
  std::optional<std::conditional_t<std::is_void_v<R>, Nothing, R>> value_;
};

// Fails the call with BlockingCallAbandoned (saying `why`) unless it is complete.
void abandonBlockingCall(BlockingCallBase& call, const char* why) noexcept;

// Owns the right (and the duty) to complete a call: dropped without completing, it fails it.
template <class R>
class BlockingCompleter {
 public:
  BlockingCompleter(std::shared_ptr<BlockingCall<R>> call, const char* ifDropped) noexcept
      : call_(std::move(call)), ifDropped_(ifDropped) {}
  BlockingCompleter(BlockingCompleter&& other) noexcept = default;
  BlockingCompleter& operator=(BlockingCompleter&&) = delete;
  ~BlockingCompleter() {
    if (call_) abandonBlockingCall(*call_, ifDropped_);
  }
  explicit operator bool() const noexcept { return call_ != nullptr; }
  BlockingCall<R>& call() const noexcept { return *call_; }
  std::shared_ptr<BlockingCall<R>> release() noexcept { return std::exchange(call_, nullptr); }
  void complete(Result<R> r) noexcept { std::exchange(call_, nullptr)->complete(std::move(r)); }

 private:
  std::shared_ptr<BlockingCall<R>> call_;
  const char* ifDropped_;
};

// Marks the calling thread as running reactor work for `reactor` while alive, so that a
// blockingCallFromThread on that reactor from inside it is refused instead of hanging.
class ReactorThreadScope {
 public:
  explicit ReactorThreadScope(const Reactor& reactor) noexcept;
  ~ReactorThreadScope();
  ReactorThreadScope(const ReactorThreadScope&) = delete;
  ReactorThreadScope& operator=(const ReactorThreadScope&) = delete;

 private:
  const Reactor* previous_;
};

// Completes a call with its outcome, on the reactor thread, once the Deferred chain that
// produced it has unwound: queued with callFromThread from the chain's last callback, it
// runs at the next drain of thread calls (or, if the reactor's loop has ended, when the
// reactor destroys it). By then the chain holds no copy of the outcome, so the waiting
// thread gets the only reference to a failure's exception object: the reactor thread never
// touches it again, and the waiting thread may rethrow it and destroy it. (An exception_ptr
// shared by two threads is safe, but its count lives in libstdc++, where ThreadSanitizer
// cannot see it: it would report the last release as a race.)
template <class R>
class BlockingDelivery {
 public:
  BlockingDelivery(BlockingCompleter<R> completer, Result<R> outcome) noexcept
      : completer_(std::move(completer)), outcome_(std::move(outcome)) {}
  BlockingDelivery(BlockingDelivery&&) noexcept = default;
  BlockingDelivery& operator=(BlockingDelivery&&) = delete;
  ~BlockingDelivery() { (*this)(); }

  void operator()() noexcept {
    if (completer_) completer_.complete(std::move(*outcome_));
  }

 private:
  BlockingCompleter<R> completer_;  // empty once moved from or delivered
  std::optional<Result<R>> outcome_;
};

// The reactor thread's half of a blockingCallFromThread: runs f, waits for its Deferred.
template <class R, class F>
class BlockingReactorSide {
 public:
  template <class G>
  BlockingReactorSide(std::shared_ptr<BlockingCall<R>> call, Reactor& reactor, G&& f)
      : completer_(std::move(call),
                   "blockingCallFromThread: the reactor dropped the call "
                   "without running it (it was destroyed, or had stopped)"),
        reactor_(&reactor),
        f_(std::forward<G>(f)) {}

  void operator()() {
    // Given up on already (the reactor's pool stopped): f does not run at all.
    if (completer_.call().completed()) return;
    ReactorThreadScope scope(*reactor_);
    Deferred<R> d = maybeDeferred(f_);
    d.addBoth([c = BlockingCompleter<R>(completer_.release(),
                                        "blockingCallFromThread: the Deferred it waited for "
                                        "was destroyed without firing"),
               reactor = reactor_](Result<R> r) mutable {
      reactor->callFromThread(BlockingDelivery<R>(std::move(c), std::move(r)));
    });
  }

 private:
  BlockingCompleter<R> completer_;
  Reactor* reactor_;
  F f_;
};

// The reactor's own pool is stopping (ThreadPool::stop() on it has begun): give up the calls
// its threads wait on, and refuse new ones from them until endStoppingReactorPool.
void beginStoppingReactorPool(const ThreadPool& pool);
void endStoppingReactorPool(const ThreadPool& pool);

// Everything of blockingCallFromThread that does not depend on types: refuses a call it can
// tell would hang, registers the call so that the reactor's pool can cut it short when it
// stops, queues `reactorSide` with callFromThread, and waits until the call is complete.
void runBlockingCall(Reactor& reactor, const std::shared_ptr<BlockingCallBase>& call,
                     UniqueFunction<void()> reactorSide);

}  // namespace detail

// Runs f() on a thread of `pool` and returns a Deferred that fires, on the reactor thread,
// with what f returned (Twisted's deferToThreadPool). Call it on the reactor thread.
//
//  * f returns a value R (or void: Deferred<void>; or Result<R>, whose failure errbacks). A
//    Deferred is not a value a pool thread may make: f returning one does not compile.
//  * An exception escaping f becomes the Deferred's Failure (its origin is the call site).
//  * Threads: f runs, and is destroyed right after, on the pool thread. The result is moved
//    to the reactor thread through reactor.callFromThread, and the Deferred fires there,
//    at the next iteration of the loop, whichever thread ran f. The Deferred itself never
//    leaves the reactor thread: f must not capture it (nor any other Deferred).
//  * Cancelling the Deferred does not stop f (nothing can stop a running thread, as in
//    Twisted): it errbacks at once with CancelledError, and f's result, when it comes, is
//    dropped silently.
//  * Lifetime: `reactor` and `pool` must outlive the call (stop your pool before destroying
//    the reactor; the reactor's own pool is stopped by the reactor). A call that never gets
//    back to a running reactor never fires its Deferred; the Deferred and its callbacks are
//    then destroyed without running:
//      - work queued on a pool that is destroyed without running it (queued after stop(),
//        or never started) is destroyed by the pool's destructor. That must happen on the
//        thread that called deferToThreadPool (the reactor's); on another thread the
//        Deferred may not be touched, so it is leaked (never fires, never freed) and a
//        warning is logged;
//      - a result that reaches the reactor after its loop ended (work that finished during
//        or after shutdown) is destroyed with the reactor, on the thread destroying it.
template <class F>
auto deferToThreadPool(Reactor& reactor, ThreadPool& pool, F&& f,
                       SourceLocation where = SourceLocation::current()) {
  using Fn = std::decay_t<F>;
  if constexpr (!std::is_invocable_v<Fn&>) {
    static_assert(std::is_invocable_v<Fn&>,
                  "deferToThreadPool(f) / deferToThread(f): f must be callable with no arguments "
                  "(capture what it needs)");
    return Deferred<void>(nullptr);
  } else {
    using Raw = std::remove_cvref_t<std::invoke_result_t<Fn&>>;
    if constexpr (detail::IsDeferred<Raw>::value) {
      static_assert(detail::kAlwaysFalse<Raw>,
                    "deferToThreadPool(f) / deferToThread(f): f must not return a Deferred: f runs "
                    "on a pool thread, where no Deferred may be made or touched. Return the value "
                    "itself (the Deferred comes from deferToThread); to wait for reactor work "
                    "from inside f, use blockingCallFromThread");
      return Deferred<void>(nullptr);
    } else if constexpr (std::is_same_v<Raw, Failure>) {
      static_assert(detail::kAlwaysFalse<Raw>,
                    "deferToThreadPool(f) / deferToThread(f): f returning a Failure leaves the "
                    "type unknown; return Result<T> or throw");
      return Deferred<void>(nullptr);
    } else {
      using R = detail::UnwrapT<Raw>;
      auto job = std::make_unique<detail::DeferToThreadJob<R, Fn>>(std::forward<F>(f), where);
      Deferred<R> d = job->deferred();
      detail::queueThreadJob(reactor, pool, std::move(job));
      return d;
    }
  }
}

// deferToThreadPool on the reactor's own pool, reactor.getThreadPool() (Twisted's
// deferToThread). The pool starts when the reactor runs: work deferred before run() waits.
template <class F>
auto deferToThread(Reactor& reactor, F&& f, SourceLocation where = SourceLocation::current()) {
  return deferToThreadPool(reactor, reactor.getThreadPool(), std::forward<F>(f), where);
}

// From a thread that is not the reactor's: runs f() on the reactor thread (through
// reactor.callFromThread) and waits, blocking the calling thread, for its result (Twisted's
// blockingCallFromThread). f may return a value, void, a Result<R>, or a Deferred<R>, which
// is waited for on the reactor thread (Twisted's maybeDeferred). Returns the value, or
// rethrows the failure's exception on the calling thread.
//
//  * Threads: f runs, and is destroyed, on the reactor thread; its Deferred stays there.
//    Only the value (moved) and the failure cross to the calling thread.
//  * Never call it on the reactor thread: the reactor would wait for itself forever. On the
//    thread that runs the reactor (Reactor::isInReactorThread), and inside f or a
//    deferToThread callback, it throws std::logic_error instead.
//  * It waits as long as the reactor needs; it gives up with BlockingCallAbandoned only when
//    the reactor can never answer: the reactor is destroyed with the call queued (f is
//    then destroyed without running), or f's Deferred is destroyed without firing.
//  * Shutdown: the reactor stops its pool in the "during shutdown" phase, on the reactor
//    thread, and waits for the pool's threads. A pool thread blocked here would wait for the
//    reactor while the reactor waits for it (in Twisted, this deadlocks). In torsion, when
//    the reactor's pool stops (whoever stops it: that trigger, ~Reactor after a crash(), or
//    your code), the calls its threads are still waiting on are given up with
//    BlockingCallAbandoned, and new ones from its threads fail at once until the pool has
//    stopped; a given-up call whose f has not run yet is not run. (A pool of your own that
//    you stop on the reactor thread gets no such help: do not stop it while its work waits
//    on the reactor.)
template <class F>
auto blockingCallFromThread(Reactor& reactor, F&& f) {
  using Fn = std::decay_t<F>;
  if constexpr (!std::is_invocable_v<Fn&>) {
    static_assert(std::is_invocable_v<Fn&>,
                  "blockingCallFromThread(f): f must be callable with no arguments");
  } else {
    using Raw = std::remove_cvref_t<std::invoke_result_t<Fn&>>;
    if constexpr (std::is_same_v<Raw, Failure>) {
      static_assert(detail::kAlwaysFalse<Raw>,
                    "blockingCallFromThread(f): f returning a Failure leaves the type unknown; "
                    "return Result<T> or throw");
    } else {
      using R = detail::UnwrapT<Raw>;
      auto call = std::make_shared<detail::BlockingCall<R>>();
      detail::runBlockingCall(
          reactor, call, detail::BlockingReactorSide<R, Fn>(call, reactor, std::forward<F>(f)));
      return call->take();
    }
  }
}

}  // namespace torsion
