// Cooperator: time-sliced cooperative multitasking (Twisted's task.Cooperator, cooperate,
// coiterate).
//
// Long work is cut into steps; a Cooperator runs the steps of all its tasks round-robin in
// time slices (10 ms by default) and gives the loop back between slices, so the reactor keeps
// serving I/O while the work proceeds:
//
//     Cooperator coop(reactor);
//     std::size_t next = 0;
//     Deferred<void> done = coop.coiterate([&]() -> bool {   // one step per call
//       checksum(rows[next++]);
//       return next < rows.size();                           // true: more work
//     });
//
// A task is the C++ counterpart of the Python iterator Twisted's Cooperator takes: a callable
// called once per step that returns
//  * bool: true if it has more work, false when it is done (a Python iterator's
//    StopIteration); or
//  * Deferred<bool> (it may be a coroutine): the task pauses until the Deferred fires, then
//    goes on (true) or is done (false); a failure ends the task with that failure (a Python
//    iterator yielding a Deferred).
// A step that throws ends the task with the exception as its failure.
//
// torsion has no global reactor, so there is no global Cooperator either: Twisted's
// module-level task.cooperate(it) and task.coiterate(it) are cooperate(coop, step) and
// coiterate(coop, step) here, with a Cooperator made once per reactor (say in main, beside
// it) and passed to what needs one.
//
// Single-threaded, like the clock it schedules on.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "torsion/core/errors.hpp"
#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"

namespace torsion {

// Base of the Cooperator's errors: a task or the Cooperator was in the wrong state.
class SchedulerError : public Error {
 public:
  using Error::Error;
};

// The Cooperator was stopped (or destroyed) while the task was in it, or before it was added.
class SchedulerStopped : public SchedulerError {
 public:
  SchedulerStopped() : SchedulerError("The cooperator was stopped") {}
};

// Base of the errors saying that a task finished: pause() and stop() on such a task throw
// the subclass that says how.
class TaskFinished : public SchedulerError {
 public:
  using SchedulerError::SchedulerError;
};

// The task had completed: its step returned false.
class TaskDone : public TaskFinished {
 public:
  TaskDone() : TaskFinished("The task has completed") {}
};

// The task had been stopped with CooperativeTask::stop(); also the failure of its
// whenDone() Deferreds.
class TaskStopped : public TaskFinished {
 public:
  TaskStopped() : TaskFinished("The task was stopped") {}
};

// The task had failed: a step threw, or its Deferred failed.
class TaskFailed : public TaskFinished {
 public:
  TaskFailed() : TaskFinished("The task failed") {}
};

// CooperativeTask::resume() of a task that is not paused.
class NotPaused : public SchedulerError {
 public:
  NotPaused() : SchedulerError("The task is not paused") {}
};

namespace detail {

class CooperatorCore;
class CooperativeTaskState;

// What one step returned: more work or not, or a Deferred to wait for.
struct TaskStep {
  bool more = false;
  std::optional<Deferred<bool>> wait;
};
using TaskStepFunction = UniqueFunction<TaskStep()>;

template <class F>
TaskStepFunction makeTaskStep(F&& step) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "a Cooperator task must be callable with no arguments");
  using R = std::remove_cvref_t<std::invoke_result_t<Fn&>>;
  static_assert(std::is_same_v<R, bool> || std::is_same_v<R, Deferred<bool>>,
                "a Cooperator task's step must return bool (true: more work) or Deferred<bool>");
  return [f = std::forward<F>(step)]() mutable -> TaskStep {
    if constexpr (std::is_same_v<R, bool>) {
      return TaskStep{f(), std::nullopt};
    } else {
      return TaskStep{true, f()};
    }
  };
}

}  // namespace detail

// A task of a Cooperator (Twisted's CooperativeTask): a cheap, copyable handle. The task
// runs whether or not a handle to it is kept.
class CooperativeTask {
 public:
  // Copies share the task. (There is no move: a handle always names a task.)
  CooperativeTask(const CooperativeTask&) = default;
  CooperativeTask& operator=(const CooperativeTask&) = default;
  ~CooperativeTask() = default;

  // Stops stepping the task until resume() has been called as many times as pause().
  // Throws the TaskFinished subclass (or SchedulerStopped) saying how it finished if it did.
  void pause();

  // Undoes one pause(); the task is stepped again once every pause() was undone. Waiting for
  // a step's Deferred is not a pause: resume() does not end that wait. Throws NotPaused if
  // the task is not paused. If the Cooperator was stopped or destroyed meanwhile, the task
  // finishes with SchedulerStopped.
  void resume();

  // Ends the task: it is not stepped again and its whenDone() Deferreds errback with
  // TaskStopped. A Deferred its last step returned is no longer waited for (nor cancelled);
  // its outcome is ignored. Throws the TaskFinished subclass (or SchedulerStopped) saying
  // how it finished if it already did.
  void stop();

  // A new Deferred that fires (with no value) when the task completes, or errbacks with the
  // failure of its step, with TaskStopped after stop(), or with SchedulerStopped after the
  // Cooperator's stop(). After the task finished, it fires at once with that outcome.
  // Cancelling it affects only that Deferred (it errbacks with CancelledError); the task
  // goes on, as in Twisted: use stop() to end the task.
  //
  // A task that failed while nobody asked for whenDone() logs its failure ("Unhandled error
  // in CooperativeTask") when its last handle goes away, as a Deferred would.
  Deferred<void> whenDone();

  // True once the task completed, failed, or was stopped.
  bool finished() const noexcept;
  // True while pause() is in effect.
  bool paused() const noexcept;

  friend bool operator==(const CooperativeTask& a, const CooperativeTask& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  friend class Cooperator;
  explicit CooperativeTask(std::shared_ptr<detail::CooperativeTaskState> state) noexcept
      : state_(std::move(state)) {}
  std::shared_ptr<detail::CooperativeTaskState> state_;
};

// Runs tasks cooperatively (Twisted's Cooperator).
//
// Each "tick" calls the termination predicate factory for a fresh predicate, then steps the
// tasks round-robin (continuing the previous tick's round where it left off) until the
// predicate returns true after a step, or no task is left; then it asks the scheduler for
// the next tick if work remains. Tasks paused, or waiting for a step's Deferred, are out of
// the round until they come back, at its end.
//
// Destroying a Cooperator runs nothing: its scheduled tick is cancelled and its tasks are
// never stepped again. Their whenDone() Deferreds do not fire (they are released with the
// tasks unless a handle keeps a task; such a task finishes with SchedulerStopped if it is
// resumed, or its awaited Deferred fires, later).
class Cooperator {
 public:
  // Returns true when the current time slice should end; called after each step.
  using TerminationPredicate = UniqueFunction<bool()>;
  // Makes the predicate of one tick; called at the start of each.
  using TerminationPredicateFactory = UniqueFunction<TerminationPredicate()>;
  // Arranges for `tick` to be called later, once; returns the DelayedCall that cancels it
  // (an empty DelayedCall if it cannot be cancelled: a stale tick then does nothing).
  using Scheduler = UniqueFunction<DelayedCall(UniqueFunction<void()> tick)>;

  // Twisted's default slice, in wall-clock time.
  static constexpr Seconds kDefaultTimeSlice{0.01};

  // A factory of predicates that end a tick once `slice` of wall-clock time (measured with
  // std::chrono::steady_clock) has passed since it began. The default, with
  // kDefaultTimeSlice.
  static TerminationPredicateFactory timeSlice(Seconds slice);

  // A Cooperator scheduling its ticks on `clock` with callLater(0), which must outlive it.
  // On a Reactor, callLater(0) from a tick runs at the next loop iteration, after I/O. On a
  // testing::Clock, calls due now run within the same advance(), so one advance() runs every
  // tick until the work is done (inject a scheduler to step ticks one by one).
  // Empty arguments take the defaults. Unless `started`, no tick is scheduled until start().
  explicit Cooperator(IReactorTime& clock,
                      TerminationPredicateFactory terminationPredicateFactory = nullptr,
                      Scheduler scheduler = nullptr, bool started = true);
  // A Cooperator with its own scheduler (which must not be empty).
  Cooperator(TerminationPredicateFactory terminationPredicateFactory, Scheduler scheduler,
             bool started = true);
  ~Cooperator();
  Cooperator(Cooperator&& other) noexcept;
  Cooperator& operator=(Cooperator&& other) noexcept;
  Cooperator(const Cooperator&) = delete;
  Cooperator& operator=(const Cooperator&) = delete;

  // Adds a task (see the top of this file for what `step` may return) and returns its
  // handle. The first step runs at the next tick, never inside cooperate(). On a stopped
  // Cooperator the task finishes at once with SchedulerStopped.
  template <class F>
  CooperativeTask cooperate(F&& step) {
    return cooperateErased(detail::makeTaskStep(std::forward<F>(step)));
  }

  // cooperate(step).whenDone(), except for cancellation: cancelling the returned Deferred
  // stops the task (if it has not finished) and the Deferred errbacks with CancelledError.
  template <class F>
  Deferred<void> coiterate(F&& step) {
    return coiterateErased(detail::makeTaskStep(std::forward<F>(step)));
  }

  // Starts scheduling ticks (of a Cooperator made with started = false, or stopped).
  void start();

  // Stops scheduling ticks: every task in the round finishes with SchedulerStopped (its
  // whenDone() Deferreds errback with it), as do tasks added or resumed later until start().
  // Tasks paused, or waiting for a Deferred, finish so when they come back.
  void stop();

  // True when started and not stopped.
  bool running() const noexcept;

 private:
  CooperativeTask cooperateErased(detail::TaskStepFunction step);
  Deferred<void> coiterateErased(detail::TaskStepFunction step);
  detail::CooperatorCore& checked() const;

  std::shared_ptr<detail::CooperatorCore> core_;
};

// Twisted's task.cooperate(iterator), with the Cooperator given: cooperator.cooperate(step).
template <class F>
CooperativeTask cooperate(Cooperator& cooperator, F&& step) {
  return cooperator.cooperate(std::forward<F>(step));
}

// Twisted's task.coiterate(iterator), with the Cooperator given: cooperator.coiterate(step).
template <class F>
Deferred<void> coiterate(Cooperator& cooperator, F&& step) {
  return cooperator.coiterate(std::forward<F>(step));
}

}  // namespace torsion
