// DeferredQueue<T>: a queue whose get() returns a Deferred (twisted.internet.defer's
// DeferredQueue).
//
//     DeferredQueue<Job> jobs;
//     jobs.put(job);                       // hands it to the oldest waiting get(), or queues it
//     Job next = co_await jobs.get();      // fires at once if something is queued
//
// `size` bounds the items queued (put() beyond it throws QueueOverflow); `backlog` bounds
// the get()s waiting (one more throws QueueUnderflow). Cancelling a waiting get() removes it
// from the queue (it fails with CancelledError) and loses nothing: an item put later goes to
// the next waiter. Copies share one queue; waiting get()s stay safe to cancel after the last
// copy is gone.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <utility>

#include "torsion/defer/deferred.hpp"

namespace torsion {

template <class T>
class DeferredQueue {
 public:
  static constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

  explicit DeferredQueue(std::size_t size = kUnlimited, std::size_t backlog = kUnlimited)
      : impl_(std::make_shared<Impl>()) {
    impl_->size = size;
    impl_->backlog = backlog;
  }

  // Gives `item` to the oldest waiting get(), or queues it. Throws QueueOverflow if `size`
  // items are already queued.
  void put(T item) {
    if (!impl_->waiters.empty()) {
      Deferred<T> next = std::move(impl_->waiters.front());
      impl_->waiters.pop_front();
      next.callback(std::move(item));
    } else if (impl_->pending.size() < impl_->size) {
      impl_->pending.push_back(std::move(item));
    } else {
      throw QueueOverflow();
    }
  }

  // The next item: fired at once if one is queued. Throws QueueUnderflow if `backlog`
  // get()s are already waiting.
  Deferred<T> get() {
    if (!impl_->pending.empty()) {
      T item = std::move(impl_->pending.front());
      impl_->pending.pop_front();
      return succeed(std::move(item));
    }
    if (impl_->waiters.size() >= impl_->backlog) throw QueueUnderflow();
    std::weak_ptr<Impl> weak = impl_;
    Deferred<T> d([weak](Deferred<T>& self) {
      if (auto impl = weak.lock()) {
        auto& w = impl->waiters;
        w.erase(std::remove(w.begin(), w.end(), self), w.end());
      }
    });
    impl_->waiters.push_back(d);
    return d;
  }

  std::size_t pending() const noexcept { return impl_->pending.size(); }  // items queued
  std::size_t waiting() const noexcept { return impl_->waiters.size(); }  // get()s waiting
  std::size_t size() const noexcept { return impl_->size; }
  std::size_t backlog() const noexcept { return impl_->backlog; }

 private:
  struct Impl {
    std::size_t size = kUnlimited;
    std::size_t backlog = kUnlimited;
    std::deque<T> pending;
    std::deque<Deferred<T>> waiters;
  };
  std::shared_ptr<Impl> impl_;
};

}  // namespace torsion
