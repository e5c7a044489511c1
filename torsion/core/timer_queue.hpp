// torsion::detail::TimerQueue: the pending calls of one clock (testing::Clock, the Reactor).
//
// Internal to torsion: users see IReactorTime and DelayedCall (torsion/core/time.hpp). The
// queue is an indexed 4-ary min-heap ordered by (time, sequence number), so calls due at the
// same time run in the order they were scheduled (FIFO; Twisted's reactor does not promise
// this, task.Clock does, and torsion promises it everywhere). Costs, for n pending calls:
// schedule O(log n), cancel O(log n) (removed from the heap at once, so memory follows the
// number of pending calls), reset/delay O(log n), nextTime O(1), running one call O(log n).
//
// Single-threaded, like everything that touches time: use a queue on the thread that owns
// its clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <vector>

#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"

namespace torsion::detail {

class TimerQueue;

// One scheduled call. Reference counted without atomics: the queue holds one reference
// while the call is pending and every DelayedCall handle holds one. The function is
// destroyed as soon as the call stops being pending (it ran, was cancelled, or its queue
// was destroyed), so an entry kept alive only by handles is a few words, and a function
// that holds a handle to its own call does not keep itself alive.
class TimerEntry {
 public:
  enum class State : std::uint8_t { kPending, kCalled, kCancelled };

  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;

  // Entries come from a per-thread free list (free_list.hpp): schedule/cancel churn at a
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

  UniqueFunction<void()> fn_;
  double time_;
  TimerQueue* queue_;  // null once the call is not pending
  std::uint32_t refs_ = 0;
  std::uint32_t index_ = 0;  // position in heap heap_
  std::uint8_t heap_ = 0;    // which of the queue's heaps holds it (see TimerQueue)
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
  std::size_t size() const noexcept { return heaps_[0].size() + heaps_[1].size(); }
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

  // A heap slot keeps the keys next to the pointer: comparisons during a sift read only the
  // heap array, never the entries.
  struct Node {
    double time;
    std::uint64_t seq;
    TimerEntry* entry;
  };

  // An indexed 4-ary min-heap: four children per node halve the depth of a binary heap, and
  // the four keys compared per level share one or two cache lines. (Keys split from the
  // pointers, 16 bytes each with every group of children on one cache line, measured no
  // faster at a million calls: the misses there are the writes of each moved entry's index.)
  class Heap {
   public:
    std::size_t size() const noexcept { return nodes_.size(); }
    bool empty() const noexcept { return nodes_.empty(); }
    const Node& top() const noexcept { return nodes_.front(); }
    const std::vector<Node>& nodes() const noexcept { return nodes_; }
    void reserve(std::size_t n) { nodes_.reserve(n); }
    void push(const Node& node, std::uint8_t id);  // allocates only beyond capacity
    void update(std::uint32_t index, double time, std::uint64_t seq);  // re-sifts
    TimerEntry* remove(std::uint32_t index) noexcept;
    std::vector<Node> take() noexcept;

   private:
    static constexpr std::size_t kArity = 4;
    void place(std::size_t index, const Node& node) noexcept {
      nodes_[index] = node;
      node.entry->index_ = static_cast<std::uint32_t>(index);
    }
    void siftUp(std::size_t index, Node node) noexcept;
    void siftDown(std::size_t index, Node node) noexcept;
    std::vector<Node> nodes_;
  };

  static bool before(const Node& a, const Node& b) noexcept {
    return a.time < b.time || (a.time == b.time && a.seq < b.seq);
  }

  // DelayedCall's operations on a pending entry of this queue.
  void cancel(TimerEntry* entry) noexcept;
  void reschedule(TimerEntry* entry, double time, bool freshSeq);

  // Pops the call at the top of heap 0, runs it and reports what escapes it.
  void runTop();
  void report(std::exception_ptr error) noexcept;
  // Moves the calls staged by runDue into the main heap.
  void mergeStaged() noexcept;

  mutable UniqueFunction<double()> now_;  // UniqueFunction calls are non-const
  ErrorHandler onError_;
  // heaps_[0] holds the calls; while runDue runs, calls it schedules go to heaps_[1] and
  // move to heaps_[0] when it returns.
  Heap heaps_[2];
  std::uint64_t nextSeq_ = 0;
  bool staging_ = false;  // runDue in progress
  bool closed_ = false;   // destructor in progress
};

}  // namespace torsion::detail
