// torsion::Reactor: the event loop (Twisted's reactor).
//
// One Reactor runs on one thread: the thread that calls run() (or iterate()). Everything but
// callFromThread (and what is documented as thread-safe) is called on that thread. There is
// no global reactor; a program may have any number, one per thread.
//
//     torsion::Reactor reactor;
//     reactor.callLater(2s, [&] { reactor.stop(); });
//     reactor.run();                       // returns once shutdown has completed
//
// One iteration of the loop (see docs/design.md):
//   1. run the functions queued by callFromThread before this step began (FIFO);
//   2. if stop() was called, fire the "shutdown" system event;
//   3. run the timed calls that are due and were scheduled before this step began (a call
//      scheduled while timers run waits for the next iteration, even with delay 0);
//   4. wait in the poller until a descriptor is ready, the next timer is due, or a thread
//      wakes the loop; then call doRead/doWrite of the ready descriptors.
// An exception escaping any callback is logged (namespace "torsion.core.reactor") and the
// loop goes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/core/function.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"

namespace torsion {

class ReactorNotRunning : public Error {
 public:
  ReactorNotRunning() : Error("Can't stop reactor that isn't running.") {}
};
class ReactorAlreadyRunning : public Error {
 public:
  ReactorAlreadyRunning() : Error("Reactor already running.") {}
};
class ReactorNotRestartable : public Error {
 public:
  ReactorNotRestartable() : Error("Reactor cannot be restarted after stop().") {}
};

// Something the reactor watches for readability (Twisted's IReadDescriptor). The object must
// stay alive, and its fileno() unchanged, while it is registered.
class IReadDescriptor {
 public:
  virtual ~IReadDescriptor() = default;
  virtual int fileno() const = 0;
  // The descriptor is readable (or has an error or hang-up to report).
  virtual void doRead() = 0;
  // doRead or doWrite threw: the descriptor has been removed from the reactor (reading and
  // writing) and the failure logged. The default does nothing.
  virtual void connectionLost(const Failure& reason);
};

// Something the reactor watches for writability (Twisted's IWriteDescriptor).
class IWriteDescriptor {
 public:
  virtual ~IWriteDescriptor() = default;
  virtual int fileno() const = 0;
  virtual void doWrite() = 0;
  virtual void connectionLost(const Failure& reason);
};

class ThreadPool;

namespace detail {
class Poller;
class SignalHandling;
}  // namespace detail

class Reactor final : public IReactorTime {
 public:
  enum class Phase { before, during, after };
  using TriggerId = std::uint64_t;

  struct Options {
    // "epoll" (the Linux default) or "poll". Empty: the TORSION_REACTOR environment
    // variable if set, else "epoll". An unknown name throws std::invalid_argument.
    std::string poller;
    // Handle SIGINT (only if its handler is the default one) and SIGTERM while running: log
    // "Received SIGxxx, shutting down." and stop() gracefully. Only one running reactor of a
    // process handles signals; the previous handlers are restored when run() returns.
    bool installSignalHandlers = true;
    // A second SIGINT/SIGTERM while shutting down ends the process at once (std::_Exit with
    // 128 + the signal number), as a daemon's operator expects when a graceful stop hangs.
    bool exitOnSecondSignal = false;
  };

  Reactor();
  explicit Reactor(Options options);
  // Destroys pending timed calls and queued thread calls without running them. Registered
  // descriptors are forgotten (not closed).
  ~Reactor() override;
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // ---- running ------------------------------------------------------------------------
  // Fires "startup", then loops until stop() has completed "shutdown" (or crash()).
  // Throws ReactorAlreadyRunning if running, ReactorNotRestartable after a stop().
  void run();
  // Asks the loop to shut down: fires "shutdown" (before, during, after) at the next
  // iteration; run() returns when it completed. Throws ReactorNotRunning if not running or
  // already stopping.
  void stop();
  // Ends the loop at once, firing no shutdown triggers; run() may be called again.
  void crash();
  // Runs one iteration, waiting at most `timeout` for I/O (for tests and foreign loops).
  void iterate(Seconds timeout = Seconds(0));
  // True from the "during startup" phase until the "during shutdown" phase.
  bool running() const noexcept { return running_; }
  // The poller in use: "epoll" or "poll".
  const char* pollerName() const noexcept;

  // ---- time (IReactorTime) --------------------------------------------------------------
  // Monotonic seconds (CLOCK_MONOTONIC): immune to wall-clock changes.
  double seconds() const override;
  DelayedCall callLater(Seconds delay, UniqueFunction<void()> f) override;
  std::vector<DelayedCall> getDelayedCalls() const override;

  // ---- threads --------------------------------------------------------------------------
  // Thread-safe: runs f on the reactor thread at the next iteration, FIFO, waking the loop.
  // Safe to call from any thread, including the reactor's; never blocks on the reactor.
  void callFromThread(UniqueFunction<void()> f);

  // Thread-safe: true on the thread that last ran this reactor (run() or iterate()), as
  // Twisted's isInIOThread. Code that must not block the loop can check it.
  bool isInReactorThread() const noexcept {
    return loopThread_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }

  // The reactor's pool (0 to 10 threads), made on first use; started when the reactor runs
  // (at once if it is running) and stopped in the "during shutdown" phase. Blocking work
  // goes there; see deferToThread in torsion/core/threads.hpp.
  ThreadPool& getThreadPool();
  // Runs f on a thread of getThreadPool() (Twisted's callInThread).
  void callInThread(UniqueFunction<void()> f);

  // ---- system events --------------------------------------------------------------------
  // Adds a trigger for a phase of an event ("startup", "shutdown", or any name given to
  // fireSystemEvent). `f` returns void or Deferred<void>; a "before" trigger's Deferred
  // delays the "during" phase until it fires (so a before-shutdown trigger can drain work).
  // Exceptions are logged. Triggers run once: firing an event consumes its triggers.
  template <class F>
  TriggerId addSystemEventTrigger(Phase phase, std::string_view event, F&& f) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(std::is_void_v<R> || std::is_same_v<R, Deferred<void>>,
                  "addSystemEventTrigger(f): f must return void or Deferred<void>");
    if constexpr (std::is_void_v<R>) {
      return addTrigger(phase, event, [g = std::forward<F>(f)]() mutable -> Deferred<void> {
        g();
        return {nullptr};
      });
    } else {
      return addTrigger(phase, event, std::forward<F>(f));
    }
  }
  // Removes a trigger that has not run. Throws std::invalid_argument for an unknown id.
  void removeSystemEventTrigger(TriggerId id);
  // Runs the event's before triggers, waits for their Deferreds, then during, then after.
  void fireSystemEvent(std::string_view event);
  // Calls f once the reactor is running (at once if it is).
  template <class F>
  void callWhenRunning(F&& f) {
    if (running_) {
      f();
    } else {
      addSystemEventTrigger(Phase::after, "startup", std::forward<F>(f));
    }
  }

  // ---- file descriptors (Twisted's IReactorFDSet) -----------------------------------------
  // Watches a descriptor for readability / writability until removed. Adding twice is a
  // no-op. Any file descriptor works (sockets, pipes, eventfd, a foreign library's fd).
  void addReader(IReadDescriptor* reader);
  void addWriter(IWriteDescriptor* writer);
  void removeReader(IReadDescriptor* reader);
  void removeWriter(IWriteDescriptor* writer);
  // Removes every reader and writer (except the reactor's own) and returns them.
  std::vector<IReadDescriptor*> removeAll();
  std::vector<IReadDescriptor*> getReaders() const;
  std::vector<IWriteDescriptor*> getWriters() const;

  // ---- extensions -------------------------------------------------------------------------
  // Per-reactor state of the layers above core (torsion/net keeps its connections, read
  // buffer and reserved descriptor here), so that core does not depend on them. An extension
  // is made on first use and destroyed with the reactor, before its timers and poller, in the
  // reverse order of creation.
  class Extension {
   public:
    virtual ~Extension() = default;
  };
  // The extension stored under `key` (any address unique to the caller), or null.
  Extension* findExtension(const void* key) const noexcept;
  // Stores `e` under `key` (which must be unused) and returns it.
  Extension& addExtension(const void* key, std::unique_ptr<Extension> e);

 private:
  struct Trigger {
    TriggerId id;
    UniqueFunction<Deferred<void>()> f;
  };
  struct Event {
    std::vector<Trigger> phases[3];
    bool firing = false;
  };
  struct Watch {
    IReadDescriptor* reader = nullptr;
    IWriteDescriptor* writer = nullptr;
  };

  TriggerId addTrigger(Phase phase, std::string_view event, UniqueFunction<Deferred<void>()> f);
  void continueFiring(const std::string& event);
  void runUntilCurrent();
  void doIteration(double timeout);
  double timeout() const;
  void drainThreadCalls();
  void reallyStartRunning();
  void updateWatch(int fd);
  void reportFailure(const char* what, std::exception_ptr e) noexcept;
  void dispatchFailure(int fd, std::exception_ptr e);
  void mainLoop();

  class Waker;

  std::unique_ptr<detail::Poller> poller_;
  std::unique_ptr<detail::TimerQueue> timers_;
  std::unique_ptr<Waker> waker_;
  std::unique_ptr<detail::SignalHandling> signals_;
  std::unique_ptr<ThreadPool> threadPool_;
  Options options_;

  // State (Twisted's names): _started, running, _stopped, _justStopped, _startedBefore.
  bool started_ = false;
  bool running_ = false;
  bool stopped_ = true;
  bool justStopped_ = false;
  bool startedBefore_ = false;

  std::map<std::string, Event, std::less<>> events_;
  TriggerId nextTriggerId_ = 1;

  std::vector<Watch> watches_;  // indexed by fd

  std::mutex threadCallsMutex_;
  std::vector<UniqueFunction<void()>> threadCalls_;
  std::atomic<bool> wakePending_{false};
  std::atomic<std::thread::id> loopThread_{};
  std::vector<std::pair<const void*, std::unique_ptr<Extension>>> extensions_;
};

}  // namespace torsion
