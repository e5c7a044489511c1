#include "torsion/core/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include "torsion/core/poller.hpp"
#include "torsion/core/signals.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/core/timer_queue.hpp"
#include "torsion/defer/combinators.hpp"
#include "torsion/log/logger.hpp"

namespace torsion {

namespace {

const Logger& reactorLog() {
  static const Logger log("torsion.core.reactor");
  return log;
}

constexpr int kMaxEventsPerWait = 256;
// epoll and poll take an int of milliseconds (Twisted caps at 2,147,483 s for the same reason).
constexpr double kMaxTimeoutSeconds = 2147483.0;

const char* signalName(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal";
  }
}

}  // namespace

void IReadDescriptor::connectionLost(const Failure&) {}
void IWriteDescriptor::connectionLost(const Failure&) {}

// The eventfd that callFromThread writes to wake the loop.
class Reactor::Waker final : public IReadDescriptor {
 public:
  Waker() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  ~Waker() override { ::close(fd_); }
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  int fileno() const override { return fd_; }
  void doRead() override {
    eventfd_t value;
    [[maybe_unused]] int r = ::eventfd_read(fd_, &value);  // resets the counter
  }
  void wakeUp() noexcept { [[maybe_unused]] int r = ::eventfd_write(fd_, 1); }

 private:
  int fd_;
};

Reactor::Reactor() : Reactor(Options{}) {}

Reactor::Reactor(Options options) : options_(std::move(options)) {
  std::string name = options_.poller;
  if (name.empty()) {
    const char* env = std::getenv("TORSION_REACTOR");
    name = env != nullptr && *env != '\0' ? env : "epoll";
  }
  poller_ = detail::makePoller(name);
  timers_ = std::make_unique<detail::TimerQueue>(
      [this] { return seconds(); },
      [this](std::exception_ptr e) { reportFailure("Unhandled error in a timed call", e); });
  waker_ = std::make_unique<Waker>();
  addReader(waker_.get());
  // Twisted registers these at construction, so that user "during shutdown" triggers
  // already see running() == false.
  addSystemEventTrigger(Phase::during, "startup", [this] { reallyStartRunning(); });
  addSystemEventTrigger(Phase::during, "shutdown", [this] { crash(); });
}

Reactor::~Reactor() {
  if (signals_) signals_->uninstall();
  // The pool first: its threads may still hand results to callFromThread.
  threadPool_.reset();
  std::vector<UniqueFunction<void()>> calls;
  {
    std::lock_guard<std::mutex> lock(threadCallsMutex_);
    calls.swap(threadCalls_);
  }
  calls.clear();
  while (!extensions_.empty()) extensions_.pop_back();
  timers_.reset();
}

Reactor::Extension* Reactor::findExtension(const void* key) const noexcept {
  for (const auto& [k, e] : extensions_) {
    if (k == key) return e.get();
  }
  return nullptr;
}

Reactor::Extension& Reactor::addExtension(const void* key, std::unique_ptr<Extension> e) {
  if (findExtension(key) != nullptr) throw std::logic_error("Reactor::addExtension: key in use");
  extensions_.emplace_back(key, std::move(e));
  return *extensions_.back().second;
}

const char* Reactor::pollerName() const noexcept { return poller_->name(); }

// ---- running ----------------------------------------------------------------------------

void Reactor::run() {
  if (started_) throw ReactorAlreadyRunning();
  if (startedBefore_) throw ReactorNotRestartable();
  started_ = true;
  stopped_ = false;
  loopThread_.store(std::this_thread::get_id(), std::memory_order_release);
  fireSystemEvent("startup");
  mainLoop();
}

void Reactor::mainLoop() {
  while (started_) {
    try {
      while (started_) {
        runUntilCurrent();
        doIteration(started_ ? timeout() : 0.0);
      }
    } catch (...) {
      reportFailure("Unexpected error in main loop.", std::current_exception());
    }
  }
  if (signals_) signals_->uninstall();
}

void Reactor::reallyStartRunning() {
  running_ = true;
  if (!options_.installSignalHandlers) return;
  if (!signals_) {
    signals_ = std::make_unique<detail::SignalHandling>([this](int signo) {
      if (stopped_ && options_.exitOnSecondSignal) {
        reactorLog().warn("Received {signal} again, exiting at once.",
                          {{"signal", signalName(signo)}});
        std::_Exit(128 + signo);
      }
      reactorLog().info("Received {signal}, shutting down.", {{"signal", signalName(signo)}});
      if (!stopped_) stop();
    });
  }
  if (signals_->install()) addReader(signals_.get());
}

void Reactor::stop() {
  if (stopped_) throw ReactorNotRunning();
  stopped_ = true;
  justStopped_ = true;
  startedBefore_ = true;
}

void Reactor::crash() {
  started_ = false;
  running_ = false;
  if (signals_ && signals_->installed()) {
    removeReader(signals_.get());
    signals_->uninstall();
  }
  addSystemEventTrigger(Phase::during, "startup", [this] { reallyStartRunning(); });
}

void Reactor::iterate(Seconds delay) {
  loopThread_.store(std::this_thread::get_id(), std::memory_order_release);
  runUntilCurrent();
  double t = timeout();
  double d = std::max(0.0, delay.count());
  doIteration(t < 0 ? d : std::min(t, d));
}

void Reactor::runUntilCurrent() {
  drainThreadCalls();
  if (justStopped_) {
    justStopped_ = false;
    fireSystemEvent("shutdown");
  }
  timers_->runDue(seconds());
}

double Reactor::timeout() const {
  // Thread calls waiting, or stop() called since runUntilCurrent looked: don't block.
  if (justStopped_ || wakePending_.load(std::memory_order_acquire)) return 0.0;
  std::optional<double> next = timers_->nextTime();
  if (!next) return -1.0;
  return std::clamp(*next - seconds(), 0.0, kMaxTimeoutSeconds);
}

void Reactor::doIteration(double timeoutSeconds) {
  const int ms = timeoutSeconds < 0 ? -1 : static_cast<int>(std::ceil(timeoutSeconds * 1000.0));
  detail::PollEvent events[kMaxEventsPerWait];
  const int n = poller_->wait(ms, events, kMaxEventsPerWait);
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].fd;
    // Re-read the registration before each call: an earlier callback may have removed it.
    if (events[i].readable && static_cast<std::size_t>(fd) < watches_.size()) {
      if (IReadDescriptor* r = watches_[fd].reader) {
        try {
          r->doRead();
        } catch (...) {
          dispatchFailure(fd, std::current_exception());
          continue;
        }
      }
    }
    if (events[i].writable && static_cast<std::size_t>(fd) < watches_.size()) {
      if (IWriteDescriptor* w = watches_[fd].writer) {
        try {
          w->doWrite();
        } catch (...) {
          dispatchFailure(fd, std::current_exception());
        }
      }
    }
  }
}

void Reactor::dispatchFailure(int fd, std::exception_ptr e) {
  // Drop the descriptor (reading and writing), log, and tell it why.
  Watch w = watches_[fd];
  watches_[fd] = Watch{};
  updateWatch(fd);
  Failure failure(e, SourceLocation());
  reactorLog().failure("Unhandled error in a descriptor's callback", failure, LogLevel::error);
  try {
    if (w.reader != nullptr) w.reader->connectionLost(failure);
    if (w.writer != nullptr && static_cast<void*>(w.writer) != static_cast<void*>(w.reader)) {
      w.writer->connectionLost(failure);
    }
  } catch (...) {
    reportFailure("Unhandled error in connectionLost", std::current_exception());
  }
}

void Reactor::reportFailure(const char* what, std::exception_ptr e) noexcept {
  try {
    reactorLog().failure(what, Failure(e, SourceLocation()), LogLevel::critical);
  } catch (...) {
  }
}

// ---- time -------------------------------------------------------------------------------

double Reactor::seconds() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

DelayedCall Reactor::callLater(Seconds delay, UniqueFunction<void()> f) {
  const double d = delay.count();
  if (std::isnan(d)) throw std::invalid_argument("callLater: delay is NaN");
  return timers_->schedule(seconds() + std::max(0.0, d), std::move(f));
}

std::vector<DelayedCall> Reactor::getDelayedCalls() const { return timers_->entries(); }

// ---- threads ----------------------------------------------------------------------------

void Reactor::callFromThread(UniqueFunction<void()> f) {
  {
    std::lock_guard<std::mutex> lock(threadCallsMutex_);
    threadCalls_.push_back(std::move(f));
  }
  // One write per batch: later callers see the flag set until the loop drains.
  if (!wakePending_.exchange(true, std::memory_order_acq_rel)) waker_->wakeUp();
}

void Reactor::drainThreadCalls() {
  if (!wakePending_.load(std::memory_order_acquire)) return;
  wakePending_.store(false, std::memory_order_release);
  std::vector<UniqueFunction<void()>> calls;
  {
    std::lock_guard<std::mutex> lock(threadCallsMutex_);
    calls.swap(threadCalls_);
  }
  // Only what was queued when the drain began; later calls set the flag and wake us again.
  for (auto& call : calls) {
    try {
      call();
    } catch (...) {
      reportFailure("Unhandled error in a callFromThread call", std::current_exception());
    }
  }
}

// ---- system events ----------------------------------------------------------------------

Reactor::TriggerId Reactor::addTrigger(Phase phase, std::string_view event,
                                       UniqueFunction<Deferred<void>()> f) {
  auto it = events_.find(event);
  if (it == events_.end()) it = events_.emplace(std::string(event), Event{}).first;
  const TriggerId id = nextTriggerId_++;
  it->second.phases[static_cast<int>(phase)].push_back(Trigger{id, std::move(f)});
  return id;
}

void Reactor::removeSystemEventTrigger(TriggerId id) {
  for (auto& [name, event] : events_) {
    for (auto& phase : event.phases) {
      auto it =
          std::find_if(phase.begin(), phase.end(), [id](const Trigger& t) { return t.id == id; });
      if (it != phase.end()) {
        phase.erase(it);
        return;
      }
    }
  }
  throw std::invalid_argument("removeSystemEventTrigger: no such trigger");
}

void Reactor::fireSystemEvent(std::string_view name) {
  auto it = events_.find(name);
  if (it == events_.end()) it = events_.emplace(std::string(name), Event{}).first;
  const std::string key = it->first;
  if (it->second.firing) {
    reactorLog().warn("System event {event} fired while already firing; ignored", {{"event", key}});
    return;
  }
  it->second.firing = true;
  std::vector<Deferred<void>> waits;
  auto& before = it->second.phases[static_cast<int>(Phase::before)];
  while (!before.empty()) {
    Trigger t = std::move(before.front());
    before.erase(before.begin());
    try {
      Deferred<void> d = t.f();
      if (d && !d.hasResult()) {
        waits.push_back(d.addErrback([key](Failure f) {
          reactorLog().failure("Error in a before-{event} trigger's Deferred", f, LogLevel::error,
                               {{"event", key}});
        }));
      } else if (d && d.failed()) {
        d.addErrback([key](Failure f) {
          reactorLog().failure("Error in a before-{event} trigger", f, LogLevel::error,
                               {{"event", key}});
        });
      }
    } catch (...) {
      reactorLog().failure("Error in a before-{event} trigger", LogLevel::error, {{"event", key}});
    }
  }
  if (waits.empty()) {
    continueFiring(key);
  } else {
    deferredList(std::move(waits)).addCallback([this, key](std::vector<Result<void>>) {
      continueFiring(key);
    });
  }
}

void Reactor::continueFiring(const std::string& key) {
  Event& event = events_.find(key)->second;
  for (Phase phase : {Phase::during, Phase::after}) {
    auto& triggers = event.phases[static_cast<int>(phase)];
    while (!triggers.empty()) {
      Trigger t = std::move(triggers.front());
      triggers.erase(triggers.begin());
      try {
        Deferred<void> d = t.f();
        if (d) {
          d.addErrback([key](Failure f) {
            reactorLog().failure("Error in a {event} trigger", f, LogLevel::error,
                                 {{"event", key}});
          });
        }
      } catch (...) {
        reactorLog().failure("Error in a {event} trigger", LogLevel::error, {{"event", key}});
      }
    }
  }
  event.firing = false;
}

// ---- file descriptors -------------------------------------------------------------------

void Reactor::updateWatch(int fd) {
  const Watch& w = watches_[fd];
  poller_->update(fd, w.reader != nullptr, w.writer != nullptr);
}

void Reactor::addReader(IReadDescriptor* reader) {
  const int fd = reader->fileno();
  if (fd < 0) throw std::invalid_argument("addReader: negative file descriptor");
  if (static_cast<std::size_t>(fd) >= watches_.size()) watches_.resize(fd + 1);
  if (watches_[fd].reader == reader) return;
  watches_[fd].reader = reader;
  updateWatch(fd);
}

void Reactor::addWriter(IWriteDescriptor* writer) {
  const int fd = writer->fileno();
  if (fd < 0) throw std::invalid_argument("addWriter: negative file descriptor");
  if (static_cast<std::size_t>(fd) >= watches_.size()) watches_.resize(fd + 1);
  if (watches_[fd].writer == writer) return;
  watches_[fd].writer = writer;
  updateWatch(fd);
}

void Reactor::removeReader(IReadDescriptor* reader) {
  const int fd = reader->fileno();
  if (fd < 0 || static_cast<std::size_t>(fd) >= watches_.size()) return;
  if (watches_[fd].reader != reader) return;
  watches_[fd].reader = nullptr;
  updateWatch(fd);
}

void Reactor::removeWriter(IWriteDescriptor* writer) {
  const int fd = writer->fileno();
  if (fd < 0 || static_cast<std::size_t>(fd) >= watches_.size()) return;
  if (watches_[fd].writer != writer) return;
  watches_[fd].writer = nullptr;
  updateWatch(fd);
}

std::vector<IReadDescriptor*> Reactor::removeAll() {
  std::vector<IReadDescriptor*> removed;
  for (std::size_t fd = 0; fd < watches_.size(); ++fd) {
    Watch& w = watches_[fd];
    if (w.reader == waker_.get() || (signals_ && w.reader == signals_.get())) continue;
    if (w.reader == nullptr && w.writer == nullptr) continue;
    if (w.reader != nullptr) removed.push_back(w.reader);
    w = Watch{};
    updateWatch(static_cast<int>(fd));
  }
  return removed;
}

std::vector<IReadDescriptor*> Reactor::getReaders() const {
  std::vector<IReadDescriptor*> out;
  for (const Watch& w : watches_) {
    if (w.reader != nullptr && w.reader != waker_.get() &&
        !(signals_ && w.reader == signals_.get())) {
      out.push_back(w.reader);
    }
  }
  return out;
}

std::vector<IWriteDescriptor*> Reactor::getWriters() const {
  std::vector<IWriteDescriptor*> out;
  for (const Watch& w : watches_) {
    if (w.writer != nullptr) out.push_back(w.writer);
  }
  return out;
}

}  // namespace torsion
