// DelayedCall: a counted reference to a detail::TimerEntry.
#include <utility>

#include "torsion/core/errors.hpp"
#include "torsion/core/time.hpp"
#include "torsion/core/timer_queue.hpp"

namespace torsion {

using detail::TimerEntry;

namespace {

// The entry behind a handle, if the call it names is still pending; otherwise throws what
// Twisted raises. An empty handle counts as cancelled.
TimerEntry* pendingEntry(TimerEntry* entry) {
  if (entry == nullptr) throw AlreadyCancelled();
  switch (entry->state()) {
    case TimerEntry::State::kPending:
      return entry;
    case TimerEntry::State::kCalled:
      throw AlreadyCalled();
    case TimerEntry::State::kCancelled:
      break;
  }
  throw AlreadyCancelled();
}

}  // namespace

DelayedCall::DelayedCall(TimerEntry* entry) noexcept : entry_(entry) {
  if (entry_ != nullptr) entry_->addRef();
}

DelayedCall::DelayedCall(const DelayedCall& other) noexcept : DelayedCall(other.entry_) {}

DelayedCall::DelayedCall(DelayedCall&& other) noexcept
    : entry_(std::exchange(other.entry_, nullptr)) {}

DelayedCall& DelayedCall::operator=(const DelayedCall& other) noexcept {
  if (other.entry_ != nullptr) other.entry_->addRef();  // first: other may be *this
  if (entry_ != nullptr) entry_->release();
  entry_ = other.entry_;
  return *this;
}

DelayedCall& DelayedCall::operator=(DelayedCall&& other) noexcept {
  if (this != &other) {
    TimerEntry* old = std::exchange(entry_, std::exchange(other.entry_, nullptr));
    if (old != nullptr) old->release();
  }
  return *this;
}

DelayedCall::~DelayedCall() {
  if (entry_ != nullptr) entry_->release();
}

double DelayedCall::getTime() const {
  if (entry_ == nullptr) throw AlreadyCancelled();
  return entry_->time();
}

void DelayedCall::cancel() {
  TimerEntry* entry = pendingEntry(entry_);
  entry->queue_->cancel(entry);
}

void DelayedCall::reset(Seconds secondsFromNow) {
  TimerEntry* entry = pendingEntry(entry_);
  // A negative delay counts as 0, as in callLater; NaN reaches reschedule, which rejects it.
  const double delay = secondsFromNow.count() < 0 ? 0.0 : secondsFromNow.count();
  entry->queue_->reschedule(entry, entry->queue_->now() + delay, /*freshSeq=*/true);
}

void DelayedCall::delay(Seconds secondsLater) {
  TimerEntry* entry = pendingEntry(entry_);
  entry->queue_->reschedule(entry, entry->time() + secondsLater.count(), /*freshSeq=*/false);
}

bool DelayedCall::active() const noexcept {
  return entry_ != nullptr && entry_->state() == TimerEntry::State::kPending;
}

bool DelayedCall::called() const noexcept {
  return entry_ != nullptr && entry_->state() == TimerEntry::State::kCalled;
}

bool DelayedCall::cancelled() const noexcept {
  return entry_ != nullptr && entry_->state() == TimerEntry::State::kCancelled;
}

}  // namespace torsion
