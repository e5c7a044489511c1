#include "torsion/core/threads.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "torsion/log/logger.hpp"

namespace torsion::detail {

namespace {

const Logger& threadsLog() {
  static const Logger log("torsion.core.threads");
  return log;
}

// The reactor whose work this thread is running inside ReactorThreadScope, if any.
thread_local const Reactor* tReactorWork = nullptr;

// ---- deferToThreadPool ---------------------------------------------------------------------

// Owns a job. The job's Deferred is single-threaded: a JobHandle that is dropped without
// delivering destroys the job only where the Deferred may be touched, and otherwise abandons
// (leaks) the Deferred and logs a warning.
class JobHandle {
 public:
  explicit JobHandle(std::unique_ptr<ThreadJob> job) noexcept : job_(std::move(job)) {}
  JobHandle(JobHandle&&) noexcept = default;
  JobHandle& operator=(JobHandle&&) = delete;
  ~JobHandle() { destroy(); }

  ThreadJob& operator*() const noexcept { return *job_; }
  explicit operator bool() const noexcept { return job_ != nullptr; }

  void destroy() noexcept { job_.reset(); }

  void abandon() noexcept {
    if (!job_) return;
    job_->abandon();
    job_.reset();
    try {
      threadsLog().warn(
          "A deferToThread call was dropped on a thread that may not touch its Deferred (a "
          "pool destroyed off the reactor thread, or callFromThread failed on the pool "
          "thread); the Deferred is leaked and never fires");
    } catch (...) {
    }
  }

 private:
  std::unique_ptr<ThreadJob> job_;
};

// On the reactor thread: fires the job's Deferred, then destroys the job.
//
// Dropped without running, it is either in ~Reactor (the reactor never ran it), which is
// the reactor's thread by the Reactor's own rule, or whichever thread destroys the reactor
// once its thread is done with it: the job is destroyed there, unfired. Or it is still on
// the pool thread that made it, because callFromThread threw: the Deferred is abandoned.
class HandBack {
 public:
  HandBack(Reactor& reactor, JobHandle job) noexcept
      : reactor_(&reactor), job_(std::move(job)), sender_(std::this_thread::get_id()) {}
  HandBack(HandBack&&) noexcept = default;
  HandBack& operator=(HandBack&&) = delete;
  ~HandBack() {
    if (job_ && std::this_thread::get_id() == sender_) job_.abandon();
  }

  void operator()() {
    ReactorThreadScope scope(*reactor_);
    (*job_).deliver();
    job_.destroy();
  }

 private:
  Reactor* reactor_;
  JobHandle job_;
  std::thread::id sender_;
};

// On the pool thread: runs the job and sends it back; it never touches the Deferred.
//
// Dropped without running (still queued when its pool is destroyed), it destroys the job,
// unfired, if that happens on the thread that called deferToThreadPool; on any other
// thread, it abandons the Deferred.
class PoolWork {
 public:
  PoolWork(Reactor& reactor, JobHandle job) noexcept
      : reactor_(&reactor), job_(std::move(job)), owner_(std::this_thread::get_id()) {}
  PoolWork(PoolWork&&) noexcept = default;
  PoolWork& operator=(PoolWork&&) = delete;
  ~PoolWork() {
    if (job_ && std::this_thread::get_id() != owner_) job_.abandon();
  }

  void operator()() {
    (*job_).run();
    reactor_->callFromThread(HandBack(*reactor_, std::move(job_)));
  }

 private:
  Reactor* reactor_;
  JobHandle job_;
  std::thread::id owner_;
};

// ---- blockingCallFromThread ----------------------------------------------------------------

// The calls that threads of a pool are waiting on, so that the reactor can give them up when
// it stops its pool (see blockingCallFromThread). Only calls made from pool threads are
// registered; an entry lives while it has calls or while its pool is stopping.
struct PoolCalls {
  bool stopping = false;
  std::vector<std::shared_ptr<BlockingCallBase>> calls;
};

struct BlockingRegistry {
  std::mutex mutex;
  std::unordered_map<const ThreadPool*, PoolCalls> pools;
};

BlockingRegistry& registry() {
  static BlockingRegistry* r = new BlockingRegistry;  // never destroyed: threads may outlive main
  return *r;
}

// Registers the call of a pool thread for as long as it waits.
class Registration {
 public:
  Registration(const ThreadPool* pool, std::shared_ptr<BlockingCallBase> call)
      : pool_(pool), call_(std::move(call)) {
    if (pool_ == nullptr) return;
    BlockingRegistry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    PoolCalls& entry = r.pools[pool_];
    if (entry.stopping) {
      throw BlockingCallAbandoned(
          "blockingCallFromThread: the reactor is stopping the thread pool this thread belongs "
          "to, and would not answer");
    }
    entry.calls.push_back(call_);
  }
  ~Registration() {
    if (pool_ == nullptr) return;
    BlockingRegistry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.pools.find(pool_);
    if (it == r.pools.end()) return;
    auto& calls = it->second.calls;
    calls.erase(std::remove(calls.begin(), calls.end(), call_), calls.end());
    if (calls.empty() && !it->second.stopping) r.pools.erase(it);
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  const ThreadPool* pool_;
  std::shared_ptr<BlockingCallBase> call_;
};

}  // namespace

void queueThreadJob(Reactor& reactor, ThreadPool& pool, std::unique_ptr<ThreadJob> job) {
  pool.callInThread(PoolWork(reactor, JobHandle(std::move(job))));
}

// ---- BlockingCallBase ----------------------------------------------------------------------

void BlockingCallBase::fail(Failure failure) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  if (completed_) return;
  failure_.emplace(std::move(failure));
  finish(lock);
}

bool BlockingCallBase::completed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return completed_;
}

void BlockingCallBase::waitUntilComplete() const {
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return completed_; });
}

void BlockingCallBase::wait() {
  std::optional<Failure> failure;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return completed_; });
    failure.swap(failure_);
  }
  // Taken out of the shared state, so that every reference to the exception object is this
  // thread's (see BlockingDelivery).
  if (failure) failure->raiseException();
}

std::unique_lock<std::mutex> BlockingCallBase::lockIfPending() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (completed_) lock.unlock();
  return lock;
}

void BlockingCallBase::finish(std::unique_lock<std::mutex>& lock) noexcept {
  completed_ = true;
  // Notified under the lock: the waiter cannot see completed_ and go before we are done.
  done_.notify_all();
  lock.unlock();
}

void abandonBlockingCall(BlockingCallBase& call, const char* why) noexcept {
  if (call.completed()) return;
  try {
    call.fail(Failure(BlockingCallAbandoned(why), SourceLocation()));
  } catch (...) {
    // Making the Failure could only fail on bad_alloc: fail with what we have.
    call.fail(Failure(std::current_exception(), SourceLocation()));
  }
}

ReactorThreadScope::ReactorThreadScope(const Reactor& reactor) noexcept
    : previous_(std::exchange(tReactorWork, &reactor)) {}

ReactorThreadScope::~ReactorThreadScope() { tReactorWork = previous_; }

void runBlockingCall(Reactor& reactor, const std::shared_ptr<BlockingCallBase>& call,
                     UniqueFunction<void()> reactorSide) {
  if (tReactorWork == &reactor || reactor.isInReactorThread()) {
    throw std::logic_error(
        "blockingCallFromThread called on the reactor's own thread: it would wait forever for "
        "the reactor it blocks");
  }
  Registration registration(ThreadPool::current(), call);
  reactor.callFromThread(std::move(reactorSide));
  call->waitUntilComplete();
}

// Given up with the reactor's pool: see Reactor::getThreadPool (reactor_threads.cpp).
void beginStoppingReactorPool(const ThreadPool& pool) {
  std::vector<std::shared_ptr<BlockingCallBase>> waiting;
  {
    BlockingRegistry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    PoolCalls& entry = r.pools[&pool];
    entry.stopping = true;
    waiting = entry.calls;
  }
  for (const auto& call : waiting) {
    abandonBlockingCall(*call,
                        "blockingCallFromThread: the reactor stopped its thread pool (at "
                        "shutdown) while this pool thread waited for the reactor");
  }
}

void endStoppingReactorPool(const ThreadPool& pool) {
  BlockingRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.pools.find(&pool);
  if (it == r.pools.end()) return;
  it->second.stopping = false;
  if (it->second.calls.empty()) r.pools.erase(it);
}

}  // namespace torsion::detail
