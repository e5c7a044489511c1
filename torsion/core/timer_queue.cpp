#include "torsion/core/timer_queue.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>

#include "torsion/core/free_list.hpp"

namespace torsion::detail {

using EntryPool = FreeList<sizeof(TimerEntry), std::size_t{1} << 20>;

void* TimerEntry::operator new(std::size_t) { return EntryPool::allocate(); }
void TimerEntry::operator delete(void* p) noexcept { EntryPool::deallocate(p); }

// --- Heap -------------------------------------------------------------------------------

void TimerQueue::Heap::push(const Node& node, std::uint8_t id) {
  node.entry->heap_ = id;
  nodes_.push_back(node);
  siftUp(nodes_.size() - 1, node);
}

void TimerQueue::Heap::update(std::uint32_t index, double time, std::uint64_t seq) {
  Node node = nodes_[index];
  const bool earlier = time < node.time || (time == node.time && seq < node.seq);
  node.time = time;
  node.seq = seq;
  if (earlier) {
    siftUp(index, node);
  } else {
    siftDown(index, node);
  }
}

TimerEntry* TimerQueue::Heap::remove(std::uint32_t index) noexcept {
  TimerEntry* entry = nodes_[index].entry;
  const Node last = nodes_.back();
  nodes_.pop_back();
  if (index < nodes_.size()) {
    // The last node fills the hole; it may belong above or below it.
    if (index > 0 && before(last, nodes_[(index - 1) / kArity])) {
      siftUp(index, last);
    } else {
      siftDown(index, last);
    }
  }
  return entry;
}

std::vector<TimerQueue::Node> TimerQueue::Heap::take() noexcept {
  std::vector<Node> out;
  out.swap(nodes_);
  return out;
}

void TimerQueue::Heap::siftUp(std::size_t index, Node node) noexcept {
  while (index > 0) {
    const std::size_t parent = (index - 1) / kArity;
    if (!before(node, nodes_[parent])) break;
    place(index, nodes_[parent]);
    index = parent;
  }
  place(index, node);
}

void TimerQueue::Heap::siftDown(std::size_t index, Node node) noexcept {
  const std::size_t n = nodes_.size();
  for (;;) {
    const std::size_t first = index * kArity + 1;
    if (first >= n) break;
    const std::size_t last = first + kArity < n ? first + kArity : n;
    std::size_t best = first;
    for (std::size_t child = first + 1; child < last; ++child) {
      if (before(nodes_[child], nodes_[best])) best = child;
    }
    if (!before(nodes_[best], node)) break;
    place(index, nodes_[best]);
    index = best;
  }
  place(index, node);
}

// --- TimerQueue -------------------------------------------------------------------------

TimerQueue::TimerQueue(UniqueFunction<double()> now, ErrorHandler onError)
    : now_(std::move(now)), onError_(std::move(onError)) {}

TimerQueue::~TimerQueue() {
  closed_ = true;
  // Three passes over the heaps, which nothing can change any more (schedule and the run
  // functions do nothing on a closed queue, and handles see cancelled calls): mark every
  // call cancelled, so that a function's destructor using a handle to any call of this queue
  // finds it cancelled; destroy the functions; drop the queue's references (a function's
  // destructor may drop the last handle to another entry, which the queue's reference keeps
  // alive until the last pass).
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap.nodes()) {
      node.entry->state_ = TimerEntry::State::kCancelled;
      node.entry->queue_ = nullptr;
    }
  }
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap.nodes()) node.entry->fn_.reset();
  }
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap.nodes()) node.entry->release();
  }
}

DelayedCall TimerQueue::schedule(double time, UniqueFunction<void()> f) {
  if (std::isnan(time)) throw std::invalid_argument("TimerQueue::schedule: time is NaN");
  if (size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("TimerQueue::schedule: too many pending calls");
  }
  auto* entry = new TimerEntry(this, time, std::move(f));
  DelayedCall handle(entry);  // the caller's reference
  if (closed_) {
    // Scheduled from a function's destructor while the queue is being destroyed.
    entry->state_ = TimerEntry::State::kCancelled;
    entry->queue_ = nullptr;
    UniqueFunction<void()> doomed = std::move(entry->fn_);
    return handle;
  }
  const std::uint8_t id = staging_ ? 1 : 0;
  heaps_[id].push(Node{time, nextSeq_++, entry}, id);
  entry->addRef();  // the queue's reference, taken once the push can no longer throw
  return handle;
}

std::optional<double> TimerQueue::nextTime() const noexcept {
  const Heap& main = heaps_[0];
  const Heap& staged = heaps_[1];
  if (main.empty() && staged.empty()) return std::nullopt;
  if (staged.empty()) return main.top().time;
  if (main.empty()) return staged.top().time;
  return main.top().time < staged.top().time ? main.top().time : staged.top().time;
}

std::vector<DelayedCall> TimerQueue::entries() const {
  std::vector<DelayedCall> out;
  out.reserve(size());
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap.nodes()) out.push_back(DelayedCall(node.entry));
  }
  return out;
}

void TimerQueue::cancel(TimerEntry* entry) noexcept {
  heaps_[entry->heap_].remove(entry->index_);
  entry->state_ = TimerEntry::State::kCancelled;
  entry->queue_ = nullptr;
  UniqueFunction<void()> doomed = std::move(entry->fn_);
  entry->release();  // the caller's handle keeps the entry alive
  // `doomed` is destroyed last: its destructor may re-enter the queue, which is consistent.
}

void TimerQueue::reschedule(TimerEntry* entry, double time, bool freshSeq) {
  if (std::isnan(time)) throw std::invalid_argument("DelayedCall: new time is NaN");
  Heap& heap = heaps_[entry->heap_];
  const std::uint64_t seq = freshSeq ? nextSeq_++ : heap.nodes()[entry->index_].seq;
  entry->time_ = time;
  heap.update(entry->index_, time, seq);
}

void TimerQueue::report(std::exception_ptr error) noexcept {
  if (onError_) {
    onError_(std::move(error));
    return;
  }
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "torsion: unhandled error in a timed call: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "torsion: unhandled non-standard exception in a timed call\n");
  }
}

void TimerQueue::runTop() {
  TimerEntry* entry = heaps_[0].remove(0);
  // Twisted marks the call as called before running it: cancelling or resetting it from
  // inside raises AlreadyCalled.
  entry->state_ = TimerEntry::State::kCalled;
  entry->queue_ = nullptr;
  UniqueFunction<void()> fn = std::move(entry->fn_);
  entry->release();
  try {
    fn();
  } catch (...) {
    report(std::current_exception());
  }
}

void TimerQueue::mergeStaged() noexcept {
  Heap& staged = heaps_[1];
  if (staged.empty()) return;
  try {
    heaps_[0].reserve(heaps_[0].size() + staged.size());
  } catch (const std::bad_alloc&) {
    return;  // they stay staged, still pending and cancellable; the next run retries
  }
  for (const Node& node : staged.take()) heaps_[0].push(node, 0);  // no allocation
}

std::size_t TimerQueue::runDue(double now) {
  if (closed_) return 0;
  if (staging_) throw std::logic_error("TimerQueue::runDue is not re-entrant");
  mergeStaged();
  staging_ = true;
  struct Restore {
    TimerQueue* queue;
    ~Restore() {
      queue->staging_ = false;
      queue->mergeStaged();
    }
  } restore{this};
  std::size_t ran = 0;
  while (!heaps_[0].empty() && heaps_[0].top().time <= now) {
    runTop();
    ++ran;
  }
  return ran;
}

std::size_t TimerQueue::runUntilEmptyOrLater(double now) {
  if (closed_) return 0;
  if (staging_) throw std::logic_error("TimerQueue::runUntilEmptyOrLater inside runDue");
  mergeStaged();
  std::size_t ran = 0;
  while (!heaps_[0].empty() && heaps_[0].top().time <= now) {
    runTop();
    ++ran;
  }
  return ran;
}

}  // namespace torsion::detail
