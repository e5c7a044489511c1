// torsion::ThreadPool: threads for blocking work (twisted.python.threadpool.ThreadPool).
//
// The reactor thread must never block; code that has to (a blocking library call, a heavy
// computation, getaddrinfo) hands it to a pool thread with callInThread, or better with
// deferToThread (torsion/core/threads.hpp), which brings the result back to the reactor
// thread as a Deferred.
//
// Threads are created on demand between minThreads and maxThreads: a work item queued while
// no thread is idle starts a new one unless maxThreads are running. All methods are
// thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "torsion/core/function.hpp"

namespace torsion {

class ThreadPool {
 public:
  // Throws std::invalid_argument if minThreads > maxThreads or maxThreads == 0.
  explicit ThreadPool(std::size_t minThreads = 0, std::size_t maxThreads = 10,
                      std::string name = "torsion-pool");
  // stop()s the pool if it is started.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Starts minThreads threads; work queued before start() runs from now on.
  void start();
  // Runs the work already queued, then joins every thread. Work queued after stop() waits
  // for the next start(). Must not be called from a pool thread.
  void stop();

  // Queues f to run on a pool thread. An exception escaping f is logged
  // (namespace "torsion.core.threadpool") and the thread goes on.
  void callInThread(UniqueFunction<void()> f);

  // Changes the bounds; extra idle threads exit, missing ones start if there is work.
  void adjustPoolsize(std::size_t minThreads, std::size_t maxThreads);

  bool started() const;
  std::size_t minThreads() const;
  std::size_t maxThreads() const;
  std::size_t workers() const;  // threads alive
  std::size_t idle() const;     // threads waiting for work
  std::size_t queued() const;   // work items not yet taken by a thread

 private:
  void startWorkerLocked();
  void workerLoop();

  mutable std::mutex mutex_;
  std::condition_variable workAvailable_;
  std::deque<UniqueFunction<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t min_;
  std::size_t max_;
  std::string name_;
  std::size_t workers_ = 0;
  std::size_t idle_ = 0;
  std::size_t busy_ = 0;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace torsion
