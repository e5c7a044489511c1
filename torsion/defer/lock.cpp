#include "torsion/defer/lock.hpp"

#include <algorithm>
#include <stdexcept>

namespace torsion {

struct DeferredSemaphore::Impl {
  std::size_t tokens;
  std::size_t limit;
  std::deque<Deferred<void>> waiters;
};

DeferredSemaphore::DeferredSemaphore(std::size_t tokens)
    : impl_(std::make_shared<Impl>(Impl{tokens, tokens, {}})) {
  if (tokens == 0) throw std::invalid_argument("DeferredSemaphore needs at least one token");
}

Deferred<void> DeferredSemaphore::acquire() {
  std::weak_ptr<Impl> weak = impl_;
  Deferred<void> d([weak](Deferred<void>& self) {
    // Cancelled while waiting: leave the queue (the Deferred then fails with CancelledError).
    if (auto impl = weak.lock()) {
      auto& w = impl->waiters;
      w.erase(std::remove(w.begin(), w.end(), self), w.end());
    }
  });
  if (impl_->tokens == 0) {
    impl_->waiters.push_back(d);
  } else {
    --impl_->tokens;
    d.callback();
  }
  return d;
}

Deferred<DeferredSemaphore::Guard> DeferredSemaphore::acquireGuard() {
  return acquire().addCallback([impl = impl_] { return Guard(impl); });
}

void DeferredSemaphore::release() { releaseImpl(impl_.get()); }

void DeferredSemaphore::releaseImpl(Impl* impl) {
  if (impl->tokens >= impl->limit) {
    throw std::logic_error("DeferredSemaphore::release: more releases than acquires");
  }
  if (!impl->waiters.empty()) {
    // Hand the token straight to the next waiter.
    Deferred<void> next = std::move(impl->waiters.front());
    impl->waiters.pop_front();
    next.callback();
  } else {
    ++impl->tokens;
  }
}

std::size_t DeferredSemaphore::tokens() const noexcept { return impl_->tokens; }
std::size_t DeferredSemaphore::limit() const noexcept { return impl_->limit; }
std::size_t DeferredSemaphore::waiting() const noexcept { return impl_->waiters.size(); }

DeferredSemaphore::Guard& DeferredSemaphore::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    if (impl_) releaseImpl(static_cast<Impl*>(impl_.get()));
    impl_ = std::move(other.impl_);
  }
  return *this;
}

DeferredSemaphore::Guard::~Guard() {
  if (impl_) releaseImpl(static_cast<Impl*>(impl_.get()));
}

void DeferredSemaphore::Guard::release() {
  if (impl_) {
    auto impl = std::move(impl_);
    releaseImpl(static_cast<Impl*>(impl.get()));
  }
}

}  // namespace torsion
