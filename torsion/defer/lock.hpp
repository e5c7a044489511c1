// DeferredSemaphore and DeferredLock: waiting for a turn without blocking the thread
// (twisted.internet.defer's DeferredSemaphore and DeferredLock).
//
//     DeferredSemaphore sem(3);                    // at most 3 fetches at once
//     Deferred<Page> d = sem.run([&] { return fetch(url); });
//
//     Deferred<void> update(DeferredLock& lock) {  // Python's `async with lock:`
//       auto held = co_await lock.acquireGuard();  // released when `held` goes away
//       co_await writeRecord();
//     }
//
// Waiters are served first come, first served; release() hands the token straight to the
// next waiter. Cancelling the Deferred of a waiting acquire() removes the waiter (it then
// fails with CancelledError); cancelling one that already fired does nothing (you hold the
// token: release it). Copies of a DeferredSemaphore share one semaphore; waiters' Deferreds
// stay safe to cancel after the last copy is gone.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

#include "torsion/defer/deferred.hpp"

namespace torsion {

class DeferredSemaphore {
 public:
  // Releases one token when destroyed (unless moved from).
  class Guard {
   public:
    Guard(Guard&& other) noexcept = default;
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();
    // Releases the token now.
    void release();

   private:
    friend class DeferredSemaphore;
    explicit Guard(std::shared_ptr<void> impl) noexcept : impl_(std::move(impl)) {}
    std::shared_ptr<void> impl_;
  };

  // A semaphore with `tokens` tokens (at least 1).
  explicit DeferredSemaphore(std::size_t tokens);

  // Fires once a token is taken (at once if one is free).
  Deferred<void> acquire();

  // As acquire(), firing with a Guard that releases the token when it goes away.
  Deferred<Guard> acquireGuard();

  // Returns a token; throws std::logic_error if that would exceed the limit.
  void release();

  // Acquires, runs f (as maybeDeferred does), and releases when f's result is there;
  // returns f's result. Cancelling while waiting for the token means f never runs.
  template <class F>
  auto run(F&& f) {
    return acquire().addCallback([impl = impl_, f = std::forward<F>(f)]() mutable {
      using U = detail::UnwrapT<std::invoke_result_t<std::decay_t<F>&>>;
      return maybeDeferred(f).addBoth([impl](Result<U> r) {
        releaseImpl(impl.get());
        return r;
      });
    });
  }

  std::size_t tokens() const noexcept;  // free tokens
  std::size_t limit() const noexcept;
  std::size_t waiting() const noexcept;  // acquires waiting for a token

 private:
  struct Impl;
  static void releaseImpl(Impl* impl);
  std::shared_ptr<Impl> impl_;
};

// A DeferredSemaphore with one token.
class DeferredLock {
 public:
  using Guard = DeferredSemaphore::Guard;

  DeferredLock() : sem_(1) {}
  Deferred<void> acquire() { return sem_.acquire(); }
  Deferred<Guard> acquireGuard() { return sem_.acquireGuard(); }
  // Throws std::logic_error if the lock is not held.
  void release() { sem_.release(); }
  template <class F>
  auto run(F&& f) {
    return sem_.run(std::forward<F>(f));
  }
  bool locked() const noexcept { return sem_.tokens() == 0; }
  std::size_t waiting() const noexcept { return sem_.waiting(); }

 private:
  DeferredSemaphore sem_;
};

}  // namespace torsion
