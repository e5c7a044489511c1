// torsion::detail::TimerQueue: the pending calls of one clock (testing::Clock, the Reactor).
//
// Internal to torsion: users see IReactorTime and DelayedCall (torsion/core/time.hpp). Calls
// run in (time, sequence number) order, so calls due at the same time run in the order they
// were scheduled (FIFO; Twisted's reactor does not promise this, task.Clock does, and torsion
// promises it everywhere).
//
// The queue is a 4-ary min-heap of {time, seq, entry} nodes with lazy cancellation, as in
// Twisted's reactor and libevent. Entries do not track their node, so a sift writes only to
// the heap array (writing each moved entry's heap index was a cache miss per level at a
// million calls). Cancelling marks the entry cancelled; reset/delay give it a new (time, seq)
// and push a new node. A node is live while its entry is pending with that node's key; the
// others are stale: dropped when they reach the front (the front is always live), or all at
// once by a compaction that rebuilds the heap from the live nodes in O(n) when stale nodes
// outnumber live ones. An entry remembers where its node was placed; a cancel or reset that
// finds it still there (a timeout disarmed or re-armed soon after it was armed) removes or
// moves it at once instead of leaving a stale node.
//
// A run that finds a large part of the heap due (calls scheduled in bulk, then run) moves
// the due nodes into a sorted run at the front of the array (in-place radix sort, O(1)
// amortized a node) and runs them from there, instead of popping each (a cache miss per
// heap level). The run lasts until that run loop returns.
//
// Costs, for n pending calls: schedule O(log n), O(1) on average for times in increasing or
// random order; cancel O(1) amortized (O(log n) at worst when it removes the node at once);
// reset/delay O(log n); nextTime O(1); running a call O(log n), or O(1) amortized in bulk.
// Memory: at most 2n + 256 nodes of 24 bytes (compaction bounds the stale ones by the live
// ones), in an array that keeps its peak capacity, and at a queue's end becomes the thread's
// spare for the next queue (up to 24 MiB); a cancelled or rescheduled call's entry (a few
// words: its function is destroyed at once) lives until its stale nodes go.
//
// Single-threaded, like everything that touches time: use a queue on the thread that owns
// its clock.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <vector>

#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"

namespace torsion::detail {

class TimerQueue;

// One scheduled call. Reference counted without atomics: the queue holds one reference per
// heap node naming the entry (live or stale) and every DelayedCall handle holds one. The
// function is destroyed as soon as the call stops being pending (it ran, was cancelled, or
// its queue was destroyed), so an entry kept alive only by handles or stale nodes is a few
// words, and a function that holds a handle to its own call does not keep itself alive.
class TimerEntry {
 public:
  enum class State : std::uint8_t { kPending, kCalled, kCancelled };

  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;

  // Entries come from a per-thread pool (timer_queue.cpp): schedule/cancel churn at a
  // million timers would otherwise be dominated by malloc and by glibc returning and
  // re-faulting the same pages. Up to a million freed entries are kept per thread.
  static void* operator new(std::size_t size);
  static void operator delete(void* p) noexcept;

  State state() const noexcept { return state_; }
  double time() const noexcept { return time_; }

 private:
  friend class TimerQueue;
  friend class torsion::DelayedCall;

  TimerEntry(TimerQueue* queue, double time, UniqueFunction<void()> fn) noexcept
      : fn_(std::move(fn)), time_(time), queue_(queue) {}
  ~TimerEntry() = default;

  void addRef() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

  // (time_ goes in the function's tail padding: 80 bytes in all.)
  [[no_unique_address]] UniqueFunction<void()> fn_;
  double time_;        // with seq_, the key of the pending call's live node
  TimerQueue* queue_;  // null once the call is not pending
  std::uint64_t seq_ = 0;
  std::uint32_t refs_ = 0;
  // Where the live node was in its heap when the queue last placed it. Not kept up to date
  // as other operations move nodes (that would cost a write to an entry per node moved); if
  // the node is still there, cancel and reschedule act on it at once.
  std::uint32_t hint_ = 0;
  bool staged_ = false;  // its nodes are in the staging heap (see TimerQueue)
  bool marked_ = false;  // scratch mark, to keep one of identical nodes (see TimerQueue::live)
  State state_ = State::kPending;
};

class TimerQueue {
 public:
  // Reports an exception that escaped a timed function. It runs inside the catch handler,
  // so std::current_exception() is also available; it must not throw.
  using ErrorHandler = UniqueFunction<void(std::exception_ptr)>;

  // `now` returns the owning clock's current time; it is what DelayedCall::reset counts
  // from. Without an `onError` handler, escaped exceptions are written to stderr.
  explicit TimerQueue(UniqueFunction<double()> now, ErrorHandler onError = nullptr);

  // Cancels every pending call: handles to them report cancelled() afterwards, and their
  // functions are destroyed without running. Functions are destroyed after every entry is
  // marked cancelled, so a function's destructor may use handles to any call of this queue
  // (they are all cancelled by then); calls it schedules on this queue are cancelled at once,
  // and runDue/runUntilEmptyOrLater run nothing.
  ~TimerQueue();

  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Schedules `f` to run at `time` (on the `now` scale). Throws std::invalid_argument if
  // `time` is NaN. Calls scheduled while runDue is running wait for the next runDue.
  DelayedCall schedule(double time, UniqueFunction<void()> f);

  // The time of the earliest pending call, if any.
  std::optional<double> nextTime() const noexcept;

  // The number of pending calls.
  std::size_t size() const noexcept { return live_; }
  bool empty() const noexcept { return size() == 0; }

  // Handles to the pending calls, in no particular order (IReactorTime::getDelayedCalls).
  std::vector<DelayedCall> entries() const;

  // The owning clock's current time, as given to the constructor.
  double now() const { return now_(); }

  // One reactor iteration's timers: runs, earliest first, the calls due at `now` (time <=
  // now) that were pending when runDue began. A call scheduled by a running call waits for
  // the next runDue even if it is due (Twisted's reactor: no starvation by callLater(0)
  // loops). A pending call rescheduled by a running call still runs in this pass if it is
  // due. Returns the number of calls run. Not re-entrant: throws std::logic_error if called
  // from inside a call run by runDue.
  std::size_t runDue(double now);

  // task.Clock.advance's loop: while the earliest pending call is due at `now`, runs it,
  // including calls scheduled during this run. May be called from inside a running call
  // (Clock.advance inside a timed call), but not inside runDue (std::logic_error). Returns
  // the number of calls run.
  std::size_t runUntilEmptyOrLater(double now);

 private:
  friend class torsion::DelayedCall;

  // A heap slot keeps the keys next to the pointer: comparisons read only the heap array,
  // never the entries. The time is kept as an integer of the same order (timeKey), so that
  // (time, seq) compares as one 128-bit integer, without branches.
  struct Node {
    std::uint64_t time;  // timeKey(the call's time)
    std::uint64_t seq;
    TimerEntry* entry;
  };

  // Maps a time (not NaN) to an unsigned integer of the same order: non-negative doubles
  // order as their bits, negative ones in reverse. -0.0 maps to the key of 0.0.
  static std::uint64_t timeKey(double time) noexcept {
    const auto bits = std::bit_cast<std::uint64_t>(time + 0.0);
    return (bits & kSignBit) != 0 ? ~bits : bits | kSignBit;
  }
  static double keyTime(std::uint64_t key) noexcept {
    return std::bit_cast<double>((key & kSignBit) != 0 ? key & ~kSignBit : ~key);
  }
  static constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;

  static bool before(const Node& a, const Node& b) noexcept {
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 U128;
    return ((U128{a.time} << 64) | a.seq) < ((U128{b.time} << 64) | b.seq);
#else
    return a.time < b.time || (a.time == b.time && a.seq < b.seq);
#endif
  }

  // Whether `node` is its entry's live node: the entry is pending with the node's key.
  // (Identical nodes of one entry can exist, as delay() keeps the sequence number and may
  // bring a call back to an earlier time. That is harmless: they are interchangeable, and
  // the first of them to run or be acted on makes the others stale.)
  static bool live(const Node& node) noexcept {
    const TimerEntry* e = node.entry;
    return e->state_ == TimerEntry::State::kPending && e->seq_ == node.seq &&
           timeKey(e->time_) == node.time;
  }

  // The nodes of one of the queue's heaps, in one array: a sorted run, consumed from its
  // front, then a 4-ary min-heap. The run exists only after makeRun, until consumed. Knows
  // nothing of liveness.
  class Heap {
   public:
    Heap() = default;
    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

    // All the nodes, in no particular order.
    const Node* begin() const noexcept { return nodes_.data() + runPos_; }
    const Node* end() const noexcept { return nodes_.data() + nodes_.size(); }
    std::size_t size() const noexcept { return nodes_.size() - runPos_; }
    bool empty() const noexcept { return nodes_.size() == runPos_; }

    // The earliest node, of the run or the heap (there must be one), and its removal.
    const Node& front() const noexcept {
      return hasRun() && (heapSize() == 0 || before(runFront(), top())) ? runFront() : top();
    }
    void popFront() noexcept;

    bool hasRun() const noexcept { return runPos_ < base_; }
    const Node& runFront() const noexcept { return nodes_[runPos_]; }
    void popRun() noexcept;
    // Moves the heap's nodes with a time key <= `due` into a sorted run. There must be no run.
    void makeRun(std::uint64_t due) noexcept;

    // The heap; indexes are relative to its first node.
    std::size_t heapSize() const noexcept { return nodes_.size() - base_; }
    const Node* heap() const noexcept { return nodes_.data() + base_; }
    const Node& top() const noexcept { return nodes_[base_]; }
    // Adds `node` to the heap and returns where it went. Allocates only beyond capacity.
    std::size_t push(const Node& node);
    void pop() noexcept;  // removes the top
    // Removes the node at `index`; returns whether the top changed.
    bool erase(std::size_t index) noexcept;
    // Replaces the node at `index` with `node`; returns where it went.
    std::size_t replace(std::size_t index, const Node& node) noexcept;

    void reserveMore(std::size_t n);  // room for n more nodes
    // Keeps the nodes `keep` returns true for (the run's stay sorted, before the heap's) and
    // restores the heap order. `keep` must not throw.
    template <class Keep>
    void retain(Keep keep) noexcept;
    void clear() noexcept;
    // At a queue's end: empties the array and hands it to the thread's spare (see spare()).
    void donate() noexcept;

   private:
    static constexpr std::size_t kArity = 4;
    std::size_t siftUp(std::size_t index, const Node& node) noexcept;
    std::size_t siftDown(std::size_t index, const Node& node) noexcept;
    void rebuild() noexcept;
    void grow();
    // The thread's spare array, taken by grow() when bigger; null at thread exit.
    static std::vector<Node>* spare() noexcept;

    std::vector<Node> nodes_;
    std::size_t runPos_ = 0;  // nodes_[runPos_, base_) is the run's unconsumed part
    std::size_t base_ = 0;    // nodes_[base_, size) is the heap
  };

  // Where the pending `entry`'s live node is in `heap`'s heap, if still at its hint; else
  // kNowhere.
  static constexpr std::size_t kNowhere = ~std::size_t{0};
  static std::size_t located(const Heap& heap, const TimerEntry* entry) noexcept {
    const std::size_t index = entry->hint_;
    if (index < heap.heapSize()) {
      const Node& node = heap.heap()[index];
      if (node.entry == entry && node.seq == entry->seq_ && node.time == timeKey(entry->time_)) {
        return index;
      }
    }
    return kNowhere;
  }

  // DelayedCall's operations on a pending entry of this queue.
  void cancel(TimerEntry* entry) noexcept;
  void reschedule(TimerEntry* entry, double time, bool freshSeq);

  // Drops stale nodes from the front of `heap`'s run and from the top of its heap, so that
  // both are live.
  static void dropStale(Heap& heap) noexcept;
  // Drops every stale node once they outnumber the live ones.
  void compactIfSparse() noexcept;
  void compact() noexcept;

  // Runs the due calls of heap 0 (time key <= due) until none is left; the loop of runDue
  // and runUntilEmptyOrLater.
  std::size_t runLoop(std::uint64_t due);
  // Turns the due part of heap 0 into a sorted run if it is a large part of the heap.
  void considerRun(std::uint64_t due) noexcept;
  // Pops the call at the front of heap 0, runs it and reports what escapes it.
  void runFront();
  void report(std::exception_ptr error) noexcept;
  // Moves the calls staged by runDue into the main heap.
  void mergeStaged() noexcept;

  mutable UniqueFunction<double()> now_;  // UniqueFunction calls are non-const
  ErrorHandler onError_;
  // heaps_[0] holds the calls; while runDue runs, calls it schedules go to heaps_[1] (their
  // entries marked staged_, which keeps their reschedules there too) and move to heaps_[0]
  // when it returns.
  Heap heaps_[2];
  std::size_t live_ = 0;  // pending calls
  std::uint64_t nextSeq_ = 0;
  bool staging_ = false;  // runDue in progress
  bool closed_ = false;   // destructor in progress
};

}  // namespace torsion::detail
