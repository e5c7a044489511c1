// Cooperator and CooperativeTask: Twisted's scheduling of cooperative tasks.
//
// Ownership: the Cooperator owns its core; the core owns the tasks in its round; a task
// waiting for a step's Deferred is owned by that Deferred's callbacks; a CooperativeTask
// handle owns its task too. Tasks refer to their core weakly, and the scheduled tick refers
// to the core weakly, so a destroyed Cooperator leaves no cycle and no dangling pointer.
#include "torsion/defer/cooperator.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

#include "torsion/defer/errors.hpp"
#include "torsion/log/logger.hpp"

namespace torsion {
namespace detail {

class CooperativeTaskState : public std::enable_shared_from_this<CooperativeTaskState> {
 public:
  enum class Completion { none, done, stopped, failed, schedulerStopped };

  CooperativeTaskState(TaskStepFunction step, std::weak_ptr<CooperatorCore> cooperator)
      : step_(std::move(step)), cooperator_(std::move(cooperator)) {}
  CooperativeTaskState(const CooperativeTaskState&) = delete;
  CooperativeTaskState& operator=(const CooperativeTaskState&) = delete;
  ~CooperativeTaskState();

  Deferred<void> whenDone() {
    observed_ = true;
    Deferred<void> d;
    if (completion_ == Completion::none) {
      waiters_.push_back(d);
    } else {
      deliver(d);
    }
    return d;
  }

  void pause() {
    checkFinish();
    if (++pauseCount_ == 1 && !waiting_) leaveRound();
  }

  void resume() {
    if (pauseCount_ == 0) throw NotPaused();
    if (--pauseCount_ == 0 && !waiting_ && completion_ == Completion::none) joinRound();
  }

  void stop() {
    checkFinish();
    completeWith(Completion::stopped, Failure(TaskStopped()));
  }

  bool finished() const noexcept { return completion_ != Completion::none; }
  bool paused() const noexcept { return pauseCount_ > 0; }

  // Called by the core: one step (Twisted's _oneWorkUnit).
  void oneWorkUnit();

  // Ends the task; fires the whenDone() Deferreds after the task left the round, so that
  // their callbacks find the Cooperator consistent (Twisted's _completeWith).
  void completeWith(Completion completion, std::optional<Failure> failure);

  // Joins the core's round (or finishes with SchedulerStopped if the core is stopped or
  // gone). Called when the task is created and when it comes back from a pause or a wait.
  void joinRound();

  bool inRound = false;  // maintained by the core

 private:
  void leaveRound();
  void checkFinish() const;
  void deliver(Deferred<void>& d) const {
    if (completion_ == Completion::done) {
      d.callback();
    } else {
      d.errback(*failure_);
    }
  }
  void stepFired(bool more);
  void stepFailed(const Failure& failure);

  TaskStepFunction step_;
  std::weak_ptr<CooperatorCore> cooperator_;
  std::vector<Deferred<void>> waiters_;
  int pauseCount_ = 0;
  bool waiting_ = false;   // for a step's Deferred
  bool observed_ = false;  // somebody asked whenDone()
  Completion completion_ = Completion::none;
  std::optional<Failure> failure_;
};

class CooperatorCore : public std::enable_shared_from_this<CooperatorCore> {
 public:
  CooperatorCore(Cooperator::TerminationPredicateFactory factory, Cooperator::Scheduler scheduler,
                 bool started)
      : factory_(std::move(factory)), scheduler_(std::move(scheduler)), started_(started) {}
  CooperatorCore(const CooperatorCore&) = delete;
  CooperatorCore& operator=(const CooperatorCore&) = delete;

  // False if the task must finish with SchedulerStopped instead.
  bool addTask(const std::shared_ptr<CooperativeTaskState>& task) {
    if (stopped_ || destroyed_) return false;
    task->inRound = true;
    tasks_.push_back(task);
    reschedule();
    return true;
  }

  void removeTask(CooperativeTaskState* task) {
    if (!task->inRound) return;
    task->inRound = false;
    const auto it = std::find_if(tasks_.begin(), tasks_.end(),
                                 [task](const auto& t) { return t.get() == task; });
    if (it == tasks_.end()) return;
    const auto index = static_cast<std::size_t>(it - tasks_.begin());
    tasks_.erase(it);
    if (index < cursor_) --cursor_;  // keep the round's place
    if (tasks_.empty()) cancelTick();
  }

  void start() {
    stopped_ = false;
    started_ = true;
    if (mustScheduleOnStart_) {
      mustScheduleOnStart_ = false;
      reschedule();
    }
  }

  void stop() {
    stopped_ = true;
    cancelTick();
    std::vector<std::shared_ptr<CooperativeTaskState>> tasks = std::move(tasks_);
    tasks_.clear();
    cursor_ = 0;
    for (const auto& task : tasks) {
      task->inRound = false;
      if (!task->finished()) {
        task->completeWith(CooperativeTaskState::Completion::schedulerStopped,
                           Failure(SchedulerStopped()));
      }
    }
  }

  // The Cooperator is being destroyed: drop everything, run nothing.
  void destroy() noexcept {
    destroyed_ = true;
    cancelTick();
    for (const auto& task : tasks_) task->inRound = false;
    tasks_.clear();
  }

  bool running() const noexcept { return started_ && !stopped_; }

 private:
  void tick(std::uint64_t token) {
    if (!scheduled_ || token != tickToken_) return;  // cancelled, or a stale tick
    scheduled_ = false;
    tickCall_ = DelayedCall();
    const std::shared_ptr<CooperatorCore> keep = shared_from_this();  // a step may destroy us
    Cooperator::TerminationPredicate timeIsUp = factory_();
    while (!tasks_.empty()) {
      if (cursor_ >= tasks_.size()) cursor_ = 0;  // a new round
      const std::shared_ptr<CooperativeTaskState> task = tasks_[cursor_++];
      task->oneWorkUnit();
      if (timeIsUp()) break;
    }
    reschedule();
  }

  void reschedule() {
    if (destroyed_) return;
    if (!started_) {
      mustScheduleOnStart_ = true;
      return;
    }
    if (scheduled_ || tasks_.empty()) return;
    const std::uint64_t token = ++tickToken_;
    tickCall_ = scheduler_([weak = weak_from_this(), token] {
      if (auto self = weak.lock()) self->tick(token);
    });
    scheduled_ = true;
  }

  void cancelTick() noexcept {
    if (!scheduled_) return;
    scheduled_ = false;
    ++tickToken_;  // a scheduler whose calls cannot be cancelled makes a stale tick
    if (tickCall_.active()) tickCall_.cancel();
    tickCall_ = DelayedCall();
  }

  Cooperator::TerminationPredicateFactory factory_;
  Cooperator::Scheduler scheduler_;
  std::vector<std::shared_ptr<CooperativeTaskState>> tasks_;  // the round
  std::size_t cursor_ = 0;                                    // the next task of the round
  DelayedCall tickCall_;
  std::uint64_t tickToken_ = 0;
  bool scheduled_ = false;
  bool started_;
  bool stopped_ = false;
  bool destroyed_ = false;
  bool mustScheduleOnStart_ = false;
};

CooperativeTaskState::~CooperativeTaskState() {
  if (completion_ == Completion::failed && !observed_) {
    try {
      static const Logger log("torsion.defer.cooperator");
      log.failure("Unhandled error in CooperativeTask:", *failure_);
    } catch (...) {  // a destructor must not throw; nothing better to do with a failed log
    }
  }
}

void CooperativeTaskState::oneWorkUnit() {
  TaskStep result;
  try {
    result = step_();
  } catch (...) {
    if (!finished()) completeWith(Completion::failed, Failure::current());
    return;
  }
  // Stopped by its own step (or the Cooperator stopped): what the step returned is dropped.
  if (finished()) return;
  if (result.wait) {
    waiting_ = true;
    if (pauseCount_ == 0) leaveRound();
    std::shared_ptr<CooperativeTaskState> self = shared_from_this();
    try {
      result.wait->addCallbacks([self](bool more) { self->stepFired(more); },
                                [self](const Failure& failure) { self->stepFailed(failure); });
    } catch (...) {  // the step returned a stale handle of a chain it extended
      waiting_ = false;
      completeWith(Completion::failed, Failure::current());
    }
  } else if (!result.more) {
    completeWith(Completion::done, std::nullopt);
  }
}

void CooperativeTaskState::stepFired(bool more) {
  waiting_ = false;
  if (finished()) return;
  if (!more) {
    completeWith(Completion::done, std::nullopt);
  } else if (pauseCount_ == 0) {
    joinRound();
  }
}

void CooperativeTaskState::stepFailed(const Failure& failure) {
  waiting_ = false;
  if (finished()) return;  // stopped meanwhile: the task's outcome is already decided
  completeWith(Completion::failed, failure);
}

void CooperativeTaskState::completeWith(Completion completion, std::optional<Failure> failure) {
  completion_ = completion;
  failure_ = std::move(failure);
  const std::shared_ptr<CooperativeTaskState> keep = shared_from_this();  // leaving the round
  leaveRound();
  std::vector<Deferred<void>> waiters = std::move(waiters_);
  waiters_.clear();
  for (Deferred<void>& d : waiters) deliver(d);
}

void CooperativeTaskState::joinRound() {
  const std::shared_ptr<CooperatorCore> core = cooperator_.lock();
  if (!core || !core->addTask(shared_from_this())) {
    completeWith(Completion::schedulerStopped, Failure(SchedulerStopped()));
  }
}

void CooperativeTaskState::leaveRound() {
  if (!inRound) return;
  if (const std::shared_ptr<CooperatorCore> core = cooperator_.lock()) {
    core->removeTask(this);
  } else {
    inRound = false;
  }
}

void CooperativeTaskState::checkFinish() const {
  switch (completion_) {
    case Completion::none:
      return;
    case Completion::done:
      throw TaskDone();
    case Completion::stopped:
      throw TaskStopped();
    case Completion::failed:
      throw TaskFailed();
    case Completion::schedulerStopped:
      throw SchedulerStopped();
  }
}

}  // namespace detail

// ---- CooperativeTask -------------------------------------------------------------------

void CooperativeTask::pause() { state_->pause(); }
void CooperativeTask::resume() { state_->resume(); }
void CooperativeTask::stop() { state_->stop(); }
Deferred<void> CooperativeTask::whenDone() { return state_->whenDone(); }
bool CooperativeTask::finished() const noexcept { return state_->finished(); }
bool CooperativeTask::paused() const noexcept { return state_->paused(); }

// ---- Cooperator --------------------------------------------------------------------------

Cooperator::TerminationPredicateFactory Cooperator::timeSlice(Seconds slice) {
  const auto length = std::chrono::duration_cast<std::chrono::steady_clock::duration>(slice);
  return [length]() -> TerminationPredicate {
    const auto end = std::chrono::steady_clock::now() + length;
    return [end] { return std::chrono::steady_clock::now() >= end; };
  };
}

namespace {

// The default scheduler: the next tick at the clock's next opportunity.
Cooperator::Scheduler callLaterZero(IReactorTime& clock) {
  return [&clock](UniqueFunction<void()> tick) {
    return clock.callLater(Seconds(0), std::move(tick));
  };
}

}  // namespace

Cooperator::Cooperator(IReactorTime& clock, TerminationPredicateFactory terminationPredicateFactory,
                       Scheduler scheduler, bool started)
    : Cooperator(std::move(terminationPredicateFactory),
                 scheduler ? std::move(scheduler) : callLaterZero(clock), started) {}

Cooperator::Cooperator(TerminationPredicateFactory terminationPredicateFactory, Scheduler scheduler,
                       bool started) {
  if (!scheduler) throw std::invalid_argument("Cooperator: the scheduler must not be empty");
  if (!terminationPredicateFactory) terminationPredicateFactory = timeSlice(kDefaultTimeSlice);
  core_ = std::make_shared<detail::CooperatorCore>(std::move(terminationPredicateFactory),
                                                   std::move(scheduler), started);
}

Cooperator::~Cooperator() {
  if (core_) core_->destroy();
}

Cooperator::Cooperator(Cooperator&& other) noexcept = default;

Cooperator& Cooperator::operator=(Cooperator&& other) noexcept {
  if (this != &other) {
    if (core_) core_->destroy();
    core_ = std::move(other.core_);
  }
  return *this;
}

detail::CooperatorCore& Cooperator::checked() const {
  if (!core_) throw std::logic_error("use of a moved-from Cooperator");
  return *core_;
}

CooperativeTask Cooperator::cooperateErased(detail::TaskStepFunction step) {
  checked();
  auto task = std::make_shared<detail::CooperativeTaskState>(std::move(step), core_);
  task->joinRound();
  return CooperativeTask(std::move(task));
}

Deferred<void> Cooperator::coiterateErased(detail::TaskStepFunction step) {
  CooperativeTask task = cooperateErased(std::move(step));
  std::weak_ptr<detail::CooperativeTaskState> weak = task.state_;
  Deferred<void> result([weak](Deferred<void>& self) {
    // Fail with CancelledError first, so that the TaskStopped the stop() below delivers
    // through whenDone() finds `result` already fired and is dropped.
    self.errback(CancelledError());
    const auto state = weak.lock();
    if (state && !state->finished()) state->stop();
  });
  task.whenDone().addCallbacks(
      [result]() mutable {
        if (!result.called()) result.callback();
      },
      [result](const Failure& failure) mutable {
        if (!result.called()) result.errback(failure);
      });
  return result;
}

void Cooperator::start() { checked().start(); }
void Cooperator::stop() { checked().stop(); }
bool Cooperator::running() const noexcept { return core_ && core_->running(); }

}  // namespace torsion
