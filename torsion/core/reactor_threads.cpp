// The Reactor's thread pool (Twisted's ReactorBase._initThreadPool / _stopThreadPool).
#include "torsion/core/reactor.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/core/threads.hpp"

namespace torsion {

ThreadPool& Reactor::getThreadPool() {
  if (!threadPool_) {
    auto pool = std::make_unique<ThreadPool>(0, 10, "reactor-pool");
    // The shutdown deadlock guard (see blockingCallFromThread in threads.hpp): whoever stops
    // this pool (the "during shutdown" trigger below, ~Reactor, or user code) first gives up
    // the blockingCallFromThread calls its threads are waiting on, since the stopping thread
    // is normally this reactor's, which would not answer them while it waits for the pool.
    const ThreadPool* self = pool.get();
    pool->onStop_ = [self] { detail::beginStoppingReactorPool(*self); };
    pool->onStopped_ = [self] { detail::endStoppingReactorPool(*self); };
    threadPool_ = std::move(pool);
    // Twisted's order: start when the reactor runs (at once if it is running), stop in the
    // "during shutdown" phase, after the reactor's own trigger (running() is false by then).
    // A pool stopped at shutdown stays stopped: work queued afterwards never runs, and is
    // destroyed with the reactor.
    callWhenRunning([this] {
      if (threadPool_) threadPool_->start();
    });
    addSystemEventTrigger(Phase::during, "shutdown", [this] {
      if (threadPool_) threadPool_->stop();
    });
  }
  return *threadPool_;
}

void Reactor::callInThread(UniqueFunction<void()> f) { getThreadPool().callInThread(std::move(f)); }

}  // namespace torsion
