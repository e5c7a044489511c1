#include "torsion/core/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "torsion/log/logger.hpp"

namespace torsion {

namespace {

const Logger& poolLog() {
  static const Logger log("torsion.core.threadpool");
  return log;
}

// The pool whose worker is this thread (set for the worker's whole life).
thread_local const ThreadPool* tCurrentPool = nullptr;

void setThreadName(const std::string& base, std::uint64_t id) {
  // Linux keeps 15 characters (plus the terminating NUL); keep the number, cut the name.
  const std::string suffix = "-" + std::to_string(id);
  std::string name = base.substr(0, suffix.size() < 15 ? 15 - suffix.size() : 0) + suffix;
  name.resize(std::min<std::size_t>(name.size(), 15));
  ::pthread_setname_np(::pthread_self(), name.c_str());
}

// Logging must not let an exception (bad_alloc) out of the thread: that would terminate.
void logWorkFailure(const std::string& pool) noexcept {
  try {
    poolLog().failure("Unhandled error in a work item of thread pool {pool}", LogLevel::critical,
                      {{"pool", pool}});
  } catch (...) {
  }
}

}  // namespace

ThreadPool::ThreadPool(std::size_t minThreads, std::size_t maxThreads, std::string name)
    : min_(minThreads), max_(maxThreads), name_(std::move(name)) {
  validate(minThreads, maxThreads);
}

ThreadPool::~ThreadPool() {
  stop();
  // Workers that exited after adjustPoolsize() and were not joined yet (stop() joins them
  // only if the pool was started).
  std::vector<std::thread> exited;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    exited.swap(exited_);
  }
  for (std::thread& t : exited) t.join();
  // queue_ (work never run) is destroyed with the members, on this thread.
}

void ThreadPool::validate(std::size_t minThreads, std::size_t maxThreads) {
  if (maxThreads == 0) throw std::invalid_argument("ThreadPool: maxThreads must be at least 1");
  if (minThreads > maxThreads) {
    throw std::invalid_argument("ThreadPool: minThreads must not exceed maxThreads");
  }
}

const ThreadPool* ThreadPool::current() noexcept { return tCurrentPool; }

void ThreadPool::checkNotPoolThread(const char* what) const {
  if (tCurrentPool == this) {
    throw std::logic_error(std::string("ThreadPool::") + what +
                           " called from one of the pool's own threads");
  }
}

void ThreadPool::start() {
  checkNotPoolThread("start()");
  std::lock_guard<std::mutex> life(lifecycleMutex_);
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_) return;
  started_ = true;
  while (workers_ < min_) startWorkerLocked();
  while (queue_.size() > idle_ && workers_ < max_) startWorkerLocked();
  workAvailable_.notify_all();
}

void ThreadPool::stop() {
  checkNotPoolThread("stop()");
  std::lock_guard<std::mutex> life(lifecycleMutex_);
  std::vector<std::thread> toJoin;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) return;
    started_ = false;
    stopping_ = true;
    drain_ = queue_.size();
    for (auto& [id, thread] : threads_) toJoin.push_back(std::move(thread));
    threads_.clear();
    for (std::thread& t : exited_) toJoin.push_back(std::move(t));
    exited_.clear();
    workAvailable_.notify_all();
  }
  // The hooks run without the pool's lock and may fail, e.g. on bad_alloc: the threads
  // must be joined whatever happens.
  try {
    if (onStop_) onStop_();
  } catch (...) {
    poolLog().failure("Error in the stop hook of thread pool {pool}", LogLevel::critical,
                      {{"pool", name_}});
  }
  for (std::thread& t : toJoin) t.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    drain_ = 0;
  }
  try {
    if (onStopped_) onStopped_();
  } catch (...) {
    poolLog().failure("Error in the stopped hook of thread pool {pool}", LogLevel::critical,
                      {{"pool", name_}});
  }
}

void ThreadPool::callInThread(UniqueFunction<void()> f) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(f));
  if (!started_) return;  // before start(), or while stop() drains: waits for start()
  // Every queued item has an idle thread to take it, or a new one; at maxThreads, the busy
  // threads take it when they are done.
  if (queue_.size() > idle_ && workers_ < max_) {
    startWorkerLocked();
  } else {
    workAvailable_.notify_one();
  }
}

void ThreadPool::adjustPoolsize(std::size_t minThreads, std::size_t maxThreads) {
  validate(minThreads, maxThreads);
  std::vector<std::thread> exited;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    min_ = minThreads;
    max_ = maxThreads;
    if (started_) {
      while (workers_ < min_) startWorkerLocked();
      while (queue_.size() > idle_ && workers_ < max_) startWorkerLocked();
      workAvailable_.notify_all();  // idle threads beyond max_ exit
    }
    exited.swap(exited_);
  }
  // Threads that exited earlier have released the lock and are returning: this is quick.
  for (std::thread& t : exited) t.join();
}

bool ThreadPool::started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return started_;
}

std::size_t ThreadPool::minThreads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return min_;
}

std::size_t ThreadPool::maxThreads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return max_;
}

std::size_t ThreadPool::workers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return workers_;
}

std::size_t ThreadPool::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_;
}

std::size_t ThreadPool::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void ThreadPool::startWorkerLocked() {
  const std::uint64_t id = nextId_++;
  // A new thread counts as idle from now: it takes work as soon as it runs.
  threads_.emplace(id, std::thread([this, id] { workerLoop(id); }));
  ++workers_;
  ++idle_;
}

void ThreadPool::workerLoop(std::uint64_t id) {
  tCurrentPool = this;
  setThreadName(name_, id);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    // While stopping, only the items queued before stop() are taken; otherwise anything.
    auto mustExit = [&] { return stopping_ ? drain_ == 0 : workers_ > max_; };
    auto hasWork = [&] { return stopping_ ? drain_ > 0 : !queue_.empty(); };
    workAvailable_.wait(lock, [&] { return mustExit() || hasWork(); });
    if (mustExit()) {
      --workers_;
      --idle_;
      if (!stopping_) {
        // Shrunk by adjustPoolsize(): hand our std::thread to whoever joins next. (While
        // stopping, stop() already holds it.)
        auto self = threads_.find(id);
        if (self != threads_.end()) {
          exited_.push_back(std::move(self->second));
          threads_.erase(self);
        }
      }
      break;
    }
    UniqueFunction<void()> work = std::move(queue_.front());
    queue_.pop_front();
    if (stopping_) --drain_;
    --idle_;
    lock.unlock();
    try {
      work();
    } catch (...) {
      logWorkFailure(name_);
    }
    work.reset();  // destroyed here, on this thread, before taking the next item
    lock.lock();
    ++idle_;
  }
  tCurrentPool = nullptr;
}

}  // namespace torsion
