#include "torsion/core/timer_queue.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <utility>

#include "torsion/core/free_list.hpp"  // TORSION_NO_POOLING

namespace torsion::detail {

namespace {

#ifndef TORSION_NO_POOLING
// A per-thread stack of free entry blocks, up to a million of them: free_list.hpp's policy,
// but an array instead of a list threaded through the blocks, so that allocating can start
// loading the block it will hand out a few allocations later. Scheduling in bulk reuses
// blocks in an order of their own (the order the calls ran in), and a list's pointer chase
// was a cache miss per call.
class EntryPool {
 public:
  static void* allocate() {
    Local& l = local_;
    if (!gone_ && l.size != 0) {
      void* block = l.blocks[--l.size];
      if (l.size >= kAhead) {
        const char* ahead = static_cast<const char*>(l.blocks[l.size - kAhead]);
        __builtin_prefetch(ahead, 1);
        __builtin_prefetch(ahead + sizeof(TimerEntry) - 1, 1);
      }
      return block;
    }
    return ::operator new(sizeof(TimerEntry));
  }

  static void deallocate(void* block) noexcept {
    Local& l = local_;
    if (!gone_ && (l.size < l.capacity || l.grow())) {
      l.blocks[l.size++] = block;
      return;
    }
    ::operator delete(block);
  }

 private:
  static constexpr std::size_t kAhead = 16;
  static constexpr std::size_t kMaxFree = std::size_t{1} << 20;

  struct Local {
    void** blocks = nullptr;
    std::size_t size = 0;
    std::size_t capacity = 0;

    bool grow() noexcept {
      if (capacity == kMaxFree) return false;
      const std::size_t bigger = capacity == 0 ? 1024 : 2 * capacity;
      auto* grown = new (std::nothrow) void*[bigger];
      if (grown == nullptr) return false;
      std::copy(blocks, blocks + size, grown);
      delete[] blocks;
      blocks = grown;
      capacity = bigger;
      return true;
    }

    ~Local() {
      gone_ = true;  // blocks freed later on this thread (at exit) bypass the stack
      while (size != 0) ::operator delete(blocks[--size]);
      delete[] blocks;
      blocks = nullptr;
      capacity = 0;
    }
  };

  static thread_local Local local_;
  static thread_local bool gone_;
};

thread_local EntryPool::Local EntryPool::local_;
thread_local bool EntryPool::gone_ = false;
#else
// Under AddressSanitizer and ThreadSanitizer, no pooling: use-after-free stays visible.
struct EntryPool {
  static void* allocate() { return ::operator new(sizeof(TimerEntry)); }
  static void deallocate(void* block) noexcept { ::operator delete(block); }
};
#endif

}  // namespace

void* TimerEntry::operator new(std::size_t) { return EntryPool::allocate(); }
void TimerEntry::operator delete(void* p) noexcept { EntryPool::deallocate(p); }

namespace {

// Below this many nodes, stale nodes are left to reach the front: compacting a small heap
// often would cost more than the memory it saves.
constexpr std::size_t kMinCompaction = 256;

// A run loop looks at making a sorted run after this many calls, or after heap size / 64
// calls if that is more: a small run, or one that runs few of many calls, never pays for it.
constexpr std::size_t kRunCheck = 256;
// Positions of the heap sampled to estimate the part that is due. A sorted run is made if at
// least a quarter of the samples are due; sorting then costs less than popping them.
constexpr std::size_t kRunSamples = 32;

// The largest array kept as a thread's spare (24 MiB): see Heap::spare.
constexpr std::size_t kMaxSpareNodes = std::size_t{1} << 20;
thread_local bool spareGone = false;

// Starts loading an entry into the cache (both of its cache lines).
void prefetch(const TimerEntry* entry) noexcept {
  __builtin_prefetch(entry);
  __builtin_prefetch(reinterpret_cast<const char*>(entry) + sizeof(TimerEntry) - 1);
}

}  // namespace

// --- Sorting a run ----------------------------------------------------------------------

namespace {

template <class Node, class Before>
void insertionSort(Node* a, std::size_t n, Before before) noexcept {
  for (std::size_t i = 1; i < n; ++i) {
    const Node x = a[i];
    std::size_t j = i;
    for (; j > 0 && before(x, a[j - 1]); --j) a[j] = a[j - 1];
    a[j] = x;
  }
}

// Sorts a[0, n) by (time, seq) (keys are distinct but for identical nodes): an in-place
// most-significant-digit radix sort (American flag sort) over the bits in which the keys
// differ (timeBits, seqBits: a superset of them), 8 bits a pass; small buckets go to
// insertion sort. It needs no scratch array, and at 200,000 calls costs about 20 ns a node
// here, against about 55 for std::sort and 65 for popping them from the heap.
template <class Node, class Before>
void radixSort(Node* a, std::size_t n, std::uint64_t timeBits, std::uint64_t seqBits,
               Before before) noexcept {
  const bool byTime = timeBits != 0;
  const std::uint64_t bits = byTime ? timeBits : seqBits;
  if (bits == 0) return;  // identical keys
  const int top = 63 - std::countl_zero(bits);
  const int shift = top >= 7 ? top - 7 : 0;
  auto digit = [byTime, shift](const Node& node) {
    return static_cast<std::size_t>(((byTime ? node.time : node.seq) >> shift) & 0xff);
  };
  // (32-bit counts: 2 KB of stack a level, at most 16 levels as each takes 8 bits of key.)
  std::uint32_t next[256] = {};
  std::uint32_t end[256];
  for (std::size_t i = 0; i < n; ++i) ++next[digit(a[i])];
  std::uint32_t sum = 0;
  for (std::size_t d = 0; d < 256; ++d) {
    const std::uint32_t count = next[d];
    next[d] = sum;
    sum += count;
    end[d] = sum;
  }
  // Cycle each misplaced node to the next free slot of its bucket.
  for (std::size_t d = 0; d < 256; ++d) {
    while (next[d] < end[d]) {
      Node node = a[next[d]];
      for (std::size_t e = digit(node); e != d; e = digit(node)) std::swap(node, a[next[e]++]);
      a[next[d]++] = node;
    }
  }
  std::uint32_t start = 0;
  for (std::size_t d = 0; d < 256; ++d) {
    Node* bucket = a + start;
    const std::size_t size = end[d] - start;
    start = end[d];
    if (size <= 48) {
      insertionSort(bucket, size, before);
      continue;
    }
    std::uint64_t bucketTimeBits = 0;
    std::uint64_t bucketSeqBits = 0;
    for (std::size_t i = 1; i < size; ++i) {
      bucketTimeBits |= bucket[i].time ^ bucket[0].time;
      bucketSeqBits |= bucket[i].seq ^ bucket[0].seq;
    }
    radixSort(bucket, size, bucketTimeBits, bucketSeqBits, before);
  }
}

}  // namespace

// --- Heap -------------------------------------------------------------------------------

std::vector<TimerQueue::Node>* TimerQueue::Heap::spare() noexcept {
  // The array of a destroyed queue, for the next one on this thread: a heap of a million
  // calls is a 24 MB array, and growing it again from nothing (page faults, copies) costs
  // more than scheduling the calls. Gone once the thread's thread_locals are destroyed.
  struct Holder {
    std::vector<Node> nodes;
    ~Holder() { spareGone = true; }
  };
  if (spareGone) return nullptr;
  static thread_local Holder holder;
  return &holder.nodes;
}

void TimerQueue::Heap::grow() {
  std::vector<Node>* other = spare();
  if (other != nullptr && other->capacity() > nodes_.capacity()) {
    other->assign(nodes_.begin(), nodes_.end());  // within its capacity
    nodes_.swap(*other);
    *other = std::vector<Node>();
  } else {
    nodes_.reserve(nodes_.size() < 32 ? 64 : 2 * nodes_.size());
  }
}

void TimerQueue::Heap::donate() noexcept {
  nodes_.clear();
  runPos_ = base_ = 0;
  std::vector<Node>* other = spare();
  if (other != nullptr && nodes_.capacity() > other->capacity() &&
      nodes_.capacity() <= kMaxSpareNodes) {
    nodes_.swap(*other);
  }
}

void TimerQueue::Heap::reserveMore(std::size_t n) {
  if (nodes_.capacity() - nodes_.size() < n) nodes_.reserve(nodes_.size() + n);
}

void TimerQueue::Heap::clear() noexcept {
  nodes_.clear();
  runPos_ = base_ = 0;
}

std::size_t TimerQueue::Heap::push(const Node& node) {
  if (nodes_.size() == nodes_.capacity()) grow();
  nodes_.push_back(node);
  return siftUp(heapSize() - 1, node);
}

void TimerQueue::Heap::pop() noexcept {
  const Node last = nodes_.back();
  nodes_.pop_back();
  const std::size_t n = heapSize();
  if (n == 0) return;
  // Floyd's bottom-up deletion: move the hole at the root down to a leaf along the smaller
  // children (three comparisons a level instead of four), then sift the last node up from
  // there. The last node came from the bottom and usually belongs near it.
  Node* a = nodes_.data() + base_;
  std::size_t index = 0;
  for (;;) {
    const std::size_t first = index * kArity + 1;
    std::size_t best = first;
    if (first + kArity <= n) {
      const std::size_t b01 = before(a[first + 1], a[first]) ? first + 1 : first;
      const std::size_t b23 = before(a[first + 3], a[first + 2]) ? first + 3 : first + 2;
      best = before(a[b23], a[b01]) ? b23 : b01;
    } else if (first < n) {
      for (std::size_t child = first + 1; child < n; ++child) {
        if (before(a[child], a[best])) best = child;
      }
    } else {
      break;
    }
    a[index] = a[best];
    index = best;
  }
  siftUp(index, last);
}

bool TimerQueue::Heap::erase(std::size_t index) noexcept {
  if (index == 0) {
    pop();
    return true;
  }
  const Node last = nodes_.back();
  nodes_.pop_back();
  if (index == heapSize()) return false;
  // The last node fills the hole; it may belong above or below it.
  if (before(last, heap()[(index - 1) / kArity])) return siftUp(index, last) == 0;
  siftDown(index, last);
  return false;
}

std::size_t TimerQueue::Heap::replace(std::size_t index, const Node& node) noexcept {
  if (before(node, heap()[index])) return siftUp(index, node);
  return siftDown(index, node);
}

std::size_t TimerQueue::Heap::siftUp(std::size_t index, const Node& node) noexcept {
  Node* a = nodes_.data() + base_;
  const Node moving = node;  // `node` may be a slot overwritten below
  while (index > 0) {
    const std::size_t parent = (index - 1) / kArity;
    if (!before(moving, a[parent])) break;
    a[index] = a[parent];
    index = parent;
  }
  a[index] = moving;
  return index;
}

std::size_t TimerQueue::Heap::siftDown(std::size_t index, const Node& node) noexcept {
  Node* a = nodes_.data() + base_;
  const Node moving = node;
  const std::size_t n = heapSize();
  for (;;) {
    const std::size_t first = index * kArity + 1;
    if (first >= n) break;
    const std::size_t last = first + kArity < n ? first + kArity : n;
    std::size_t best = first;
    for (std::size_t child = first + 1; child < last; ++child) {
      if (before(a[child], a[best])) best = child;
    }
    if (!before(a[best], moving)) break;
    a[index] = a[best];
    index = best;
  }
  a[index] = moving;
  return index;
}

void TimerQueue::Heap::rebuild() noexcept {
  const std::size_t n = heapSize();
  if (n < 2) return;
  for (std::size_t i = (n - 2) / kArity + 1; i-- > 0;) siftDown(i, heap()[i]);
}

void TimerQueue::Heap::popFront() noexcept {
  if (hasRun() && (heapSize() == 0 || before(runFront(), top()))) {
    popRun();
  } else {
    pop();
  }
}

void TimerQueue::Heap::popRun() noexcept {
  if (++runPos_ < base_) return;
  // The run is consumed: move the heap back to the start of the array (indexes into it, and
  // so the entries' hints, are relative to its first node and stay valid).
  std::copy(nodes_.begin() + static_cast<std::ptrdiff_t>(base_), nodes_.end(), nodes_.begin());
  nodes_.resize(nodes_.size() - base_);
  runPos_ = base_ = 0;
}

void TimerQueue::Heap::makeRun(std::uint64_t due) noexcept {
  // Partition the heap's array, due nodes first, noting the bits in which their keys differ
  // from the top's (which is due); sort them; the rest is the heap again.
  Node* a = nodes_.data() + base_;
  const std::uint64_t time0 = a[0].time;
  const std::uint64_t seq0 = a[0].seq;
  std::uint64_t timeBits = 0;
  std::uint64_t seqBits = 0;
  std::size_t i = 0;
  std::size_t j = heapSize();
  for (;;) {
    for (; i < j && a[i].time <= due; ++i) {
      timeBits |= a[i].time ^ time0;
      seqBits |= a[i].seq ^ seq0;
    }
    while (i < j && a[j - 1].time > due) --j;
    if (i >= j) break;
    std::swap(a[i], a[--j]);
  }
  auto less = [](const Node& x, const Node& y) { return before(x, y); };
  if (i <= 48) {
    insertionSort(a, i, less);
  } else if (i <= UINT32_MAX) {
    radixSort(a, i, timeBits, seqBits, less);
  } else {
    std::sort(a, a + i, less);
  }
  base_ += i;
  rebuild();
}

template <class Keep>
void TimerQueue::Heap::retain(Keep keep) noexcept {
  std::size_t out = 0;
  for (std::size_t i = runPos_; i < base_; ++i) {
    if (keep(nodes_[i])) nodes_[out++] = nodes_[i];
  }
  const std::size_t runEnd = out;
  for (std::size_t i = base_; i < nodes_.size(); ++i) {
    if (keep(nodes_[i])) nodes_[out++] = nodes_[i];
  }
  nodes_.resize(out);  // shrinks: no allocation
  runPos_ = 0;
  base_ = runEnd;
  rebuild();
}

// --- TimerQueue -------------------------------------------------------------------------

TimerQueue::TimerQueue(UniqueFunction<double()> now, ErrorHandler onError)
    : now_(std::move(now)), onError_(std::move(onError)) {}

TimerQueue::~TimerQueue() {
  closed_ = true;
  // Three passes over the heaps, which nothing can change any more (schedule and the run
  // functions do nothing on a closed queue, and handles see cancelled calls): mark every
  // pending call cancelled, so that a function's destructor using a handle to any call of
  // this queue finds it cancelled; destroy the functions; drop the queue's references (a
  // function's destructor may drop the last handle to another entry, which the queue's
  // references keep alive until the last pass). Stale nodes name entries that already ran
  // or were cancelled, or pending entries that also have a live node.
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap) {
      TimerEntry* entry = node.entry;
      if (entry->state_ == TimerEntry::State::kPending) {
        entry->state_ = TimerEntry::State::kCancelled;
        entry->queue_ = nullptr;
      }
    }
  }
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap) node.entry->fn_.reset();
  }
  for (Heap& heap : heaps_) {
    for (const Node& node : heap) node.entry->release();
    heap.donate();
  }
}

DelayedCall TimerQueue::schedule(double time, UniqueFunction<void()> f) {
  if (std::isnan(time)) throw std::invalid_argument("TimerQueue::schedule: time is NaN");
  auto* entry = new TimerEntry(this, time, std::move(f));
  DelayedCall handle(entry);  // the caller's reference
  if (closed_) {
    // Scheduled from a function's destructor while the queue is being destroyed.
    entry->state_ = TimerEntry::State::kCancelled;
    entry->queue_ = nullptr;
    UniqueFunction<void()> doomed = std::move(entry->fn_);
    return handle;
  }
  const std::uint64_t seq = nextSeq_++;
  const std::size_t placed = heaps_[staging_ ? 1 : 0].push(Node{timeKey(time), seq, entry});
  entry->addRef();  // the node's reference, taken once the push can no longer throw
  entry->seq_ = seq;
  entry->hint_ = static_cast<std::uint32_t>(placed);
  entry->staged_ = staging_;
  ++live_;
  return handle;
}

std::optional<double> TimerQueue::nextTime() const noexcept {
  const Heap& main = heaps_[0];
  const Heap& staged = heaps_[1];
  if (main.empty() && staged.empty()) return std::nullopt;
  if (staged.empty()) return keyTime(main.front().time);
  if (main.empty()) return keyTime(staged.front().time);
  return keyTime(std::min(main.front().time, staged.front().time));
}

std::vector<DelayedCall> TimerQueue::entries() const {
  std::vector<DelayedCall> out;
  out.reserve(live_);
  // The mark lists an entry with identical live nodes once. Nothing below can throw.
  for (const Heap& heap : heaps_) {
    for (const Node& node : heap) {
      if (live(node) && !node.entry->marked_) {
        node.entry->marked_ = true;
        out.push_back(DelayedCall(node.entry));
      }
    }
  }
  for (const DelayedCall& call : out) call.entry_->marked_ = false;
  return out;
}

void TimerQueue::dropStale(Heap& heap) noexcept {
  // Dropping a reference never runs user code here: a stale node's entry has no function
  // (or has a live node elsewhere, which holds a reference).
  while (heap.hasRun() && !live(heap.runFront())) {
    TimerEntry* entry = heap.runFront().entry;
    heap.popRun();
    entry->release();
  }
  while (heap.heapSize() != 0 && !live(heap.top())) {
    TimerEntry* entry = heap.top().entry;
    heap.pop();
    entry->release();
  }
}

void TimerQueue::compactIfSparse() noexcept {
  const std::size_t nodes = heaps_[0].size() + heaps_[1].size();
  if (nodes > kMinCompaction && nodes - live_ > live_) compact();
}

void TimerQueue::compact() noexcept {
  for (Heap& heap : heaps_) {
    heap.retain([](const Node& node) {
      if (live(node) && !node.entry->marked_) {
        node.entry->marked_ = true;  // an identical node later in the array goes
        return true;
      }
      node.entry->release();
      return false;
    });
    for (const Node& node : heap) node.entry->marked_ = false;
    const Node* nodes = heap.heap();
    for (std::size_t i = 0; i < heap.heapSize(); ++i) {
      nodes[i].entry->hint_ = static_cast<std::uint32_t>(i);
    }
  }
}

void TimerQueue::cancel(TimerEntry* entry) noexcept {
  entry->state_ = TimerEntry::State::kCancelled;
  entry->queue_ = nullptr;
  --live_;
  UniqueFunction<void()> doomed = std::move(entry->fn_);
  Heap& heap = heaps_[entry->staged_ ? 1 : 0];
  const std::size_t index = located(heap, entry);
  if (index != kNowhere) {
    // Still where it was placed: remove it now, so that the entry can go back to the free
    // list as soon as the caller drops its handle.
    if (heap.erase(index)) dropStale(heap);
    entry->release();  // the caller's handle keeps the entry alive
  } else {
    // Its nodes stay, stale, with their references.
    if ((heap.hasRun() && heap.runFront().entry == entry) ||
        (heap.heapSize() != 0 && heap.top().entry == entry)) {
      dropStale(heap);
    }
    compactIfSparse();
  }
  // `doomed` is destroyed last: its destructor may re-enter the queue, which is consistent.
}

void TimerQueue::reschedule(TimerEntry* entry, double time, bool freshSeq) {
  if (std::isnan(time)) throw std::invalid_argument("DelayedCall: new time is NaN");
  if (!freshSeq && time == entry->time_) return;  // delay(0): same key, same place
  const std::uint64_t seq = freshSeq ? nextSeq_++ : entry->seq_;
  Heap& heap = heaps_[entry->staged_ ? 1 : 0];
  const std::size_t index = located(heap, entry);
  if (index != kNowhere) {
    const std::size_t placed = heap.replace(index, Node{timeKey(time), seq, entry});
    entry->time_ = time;
    entry->seq_ = seq;
    entry->hint_ = static_cast<std::uint32_t>(placed);
    if (index == 0 && placed != 0) dropStale(heap);  // a stale node may have come up
    return;
  }
  const bool wasFront = (heap.hasRun() && heap.runFront().entry == entry) ||
                        (heap.heapSize() != 0 && heap.top().entry == entry);
  const std::size_t placed = heap.push(Node{timeKey(time), seq, entry});  // may throw
  entry->addRef();
  entry->time_ = time;
  entry->seq_ = seq;
  entry->hint_ = static_cast<std::uint32_t>(placed);
  // The entry's previous node is stale now; it may be at the front.
  if (wasFront) dropStale(heap);
  compactIfSparse();
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

void TimerQueue::runFront() {
  Heap& heap = heaps_[0];
  TimerEntry* entry = heap.front().entry;
  heap.popFront();
  // Twisted marks the call as called before running it: cancelling or resetting it from
  // inside raises AlreadyCalled.
  entry->state_ = TimerEntry::State::kCalled;
  entry->queue_ = nullptr;
  --live_;
  UniqueFunction<void()> fn = std::move(entry->fn_);
  entry->release();
  dropStale(heap);  // before the call, which may look at the queue
  // Start loading the entries that run next: in a run, a few nodes ahead; in the heap, the
  // top's children, one of which comes up after the top.
  if (heap.hasRun()) {
    const Node* run = &heap.runFront();
    if (run + 16 < heap.heap()) prefetch(run[16].entry);
  } else {
    const Node* nodes = heap.heap();
    const std::size_t n = std::min<std::size_t>(heap.heapSize(), 5);
    for (std::size_t i = 1; i < n; ++i) prefetch(nodes[i].entry);
  }
  try {
    fn();
  } catch (...) {
    report(std::current_exception());
  }
}

void TimerQueue::considerRun(std::uint64_t due) noexcept {
  Heap& heap = heaps_[0];
  const std::size_t n = heap.heapSize();
  if (heap.hasRun() || n < 4 * kRunCheck) return;
  const Node* nodes = heap.heap();
  std::size_t dueSamples = 0;
  for (std::size_t i = 0; i < kRunSamples; ++i) {
    if (nodes[(2 * i + 1) * n / (2 * kRunSamples)].time <= due) ++dueSamples;
  }
  if (dueSamples * 4 < kRunSamples) return;
  heap.makeRun(due);
  dropStale(heap);
  // Hints into the heap are wrong now; they are only hints.
}

std::size_t TimerQueue::runLoop(std::uint64_t due) {
  Heap& heap = heaps_[0];
  const std::size_t check = std::max(kRunCheck, heap.heapSize() / 64);
  std::size_t ran = 0;
  while (!heap.empty() && heap.front().time <= due) {
    if (ran == check) considerRun(due);
    runFront();
    ++ran;
  }
  return ran;
}

void TimerQueue::mergeStaged() noexcept {
  Heap& staged = heaps_[1];
  if (staged.empty()) return;
  Heap& main = heaps_[0];
  try {
    main.reserveMore(staged.size());
  } catch (const std::bad_alloc&) {
    return;  // they stay staged, still pending and cancellable; the next run retries
  }
  for (const Node& node : staged) {  // runs no user code
    if (live(node)) {
      node.entry->staged_ = false;
      node.entry->hint_ = static_cast<std::uint32_t>(main.push(node));  // no allocation
    } else {
      node.entry->release();
    }
  }
  staged.clear();  // keeps its capacity for the next run
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
  if (std::isnan(now)) return 0;
  return runLoop(timeKey(now));
}

std::size_t TimerQueue::runUntilEmptyOrLater(double now) {
  if (closed_) return 0;
  if (staging_) throw std::logic_error("TimerQueue::runUntilEmptyOrLater inside runDue");
  mergeStaged();
  if (std::isnan(now)) return 0;
  return runLoop(timeKey(now));
}

}  // namespace torsion::detail
