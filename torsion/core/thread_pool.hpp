// torsion::ThreadPool: threads for blocking work (twisted.python.threadpool.ThreadPool).
//
// The reactor thread must never block; code that has to (a blocking library call, a heavy
// computation, getaddrinfo) hands it to a pool thread with callInThread, or better with
// deferToThread (torsion/core/threads.hpp), which brings the result back to the reactor
// thread as a Deferred.
//
// Threads are created on demand between minThreads and maxThreads: a work item queued while
// no thread is idle starts a new one unless maxThreads are running. Threads do not time out:
// once started, a thread lives until stop() or until adjustPoolsize() lowers maxThreads.
// Threads are named "<name>-<n>" (cut to the 15 characters Linux keeps), for top and gdb.
//
// Threading: every method is thread-safe, except that start(), stop() and the destructor
// must not be called from one of the pool's own threads (they throw std::logic_error; the
// destructor cannot throw and calls std::terminate).
//
// Lifetime of work items: a work item runs on a pool thread and is destroyed there, right
// after it ran (outside the pool's lock, so its destructor may queue more work). A work item
// that never runs (still queued when the pool is destroyed) is destroyed by the destructor,
// on the thread that destroys the pool. Work items run in the order they were queued, but
// with several threads they may finish in any order.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "torsion/core/function.hpp"

namespace torsion {

class Reactor;

class ThreadPool {
 public:
  // Throws std::invalid_argument if minThreads > maxThreads or maxThreads == 0.
  // `name` names the threads (see above).
  explicit ThreadPool(std::size_t minThreads = 0, std::size_t maxThreads = 10,
                      std::string name = "torsion-pool");
  // stop()s the pool if it is started, then destroys the work still queued (see above).
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Starts minThreads threads (and more, up to maxThreads, if work is queued); work queued
  // before start() runs from now on. Does nothing if started.
  void start();
  // Runs the work already queued when stop() is called (and lets running work finish), then
  // joins every thread. Work queued after stop() began (including by the work it drains)
  // waits for the next start(). Does nothing if not started. Concurrent calls are
  // serialised: the second returns once the first has joined the threads.
  void stop();

  // Queues f to run on a pool thread. An exception escaping f is logged (namespace
  // "torsion.core.threadpool", level critical) and the thread goes on.
  void callInThread(UniqueFunction<void()> f);

  // Changes the bounds (throws std::invalid_argument as the constructor does). If started:
  // threads beyond maxThreads exit once idle (a busy one after its current work item),
  // threads are started to reach minThreads, and more, up to maxThreads, for queued work.
  void adjustPoolsize(std::size_t minThreads, std::size_t maxThreads);

  bool started() const;
  std::size_t minThreads() const;
  std::size_t maxThreads() const;
  std::size_t workers() const;  // threads alive (not counting those that decided to exit)
  std::size_t idle() const;     // threads alive and not running a work item
  std::size_t queued() const;   // work items not yet taken by a thread

  // The pool whose thread is the calling thread, or nullptr.
  static const ThreadPool* current() noexcept;

 private:
  // getThreadPool() installs the hooks below on the reactor's own pool (reactor_threads.cpp).
  friend class Reactor;

  void startWorkerLocked();
  void workerLoop(std::uint64_t id);
  void checkNotPoolThread(const char* what) const;
  static void validate(std::size_t minThreads, std::size_t maxThreads);

  mutable std::mutex mutex_;
  std::condition_variable workAvailable_;
  std::deque<UniqueFunction<void()>> queue_;
  std::map<std::uint64_t, std::thread> threads_;  // live workers by id
  std::vector<std::thread> exited_;               // workers that exited, to be joined
  std::size_t min_;
  std::size_t max_;
  const std::string name_;
  std::uint64_t nextId_ = 1;
  std::size_t workers_ = 0;
  std::size_t idle_ = 0;
  std::size_t drain_ = 0;  // while stopping: queued items stop() still has to run
  bool started_ = false;
  bool stopping_ = false;

  // Serialises start() and stop() (held while stop() joins).
  std::mutex lifecycleMutex_;
  // Called by stop() on the stopping thread, without the pool's lock: onStop_ once the pool
  // is marked stopping and before waiting for the threads, onStopped_ once they are joined.
  UniqueFunction<void()> onStop_;
  UniqueFunction<void()> onStopped_;
};

}  // namespace torsion
