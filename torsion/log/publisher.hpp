// LogPublisher: delivers each published event to its observers (twisted.logger.LogPublisher),
// and globalLogPublisher(), the one every Logger uses unless told otherwise.
//
// How observers are called (the rule every observer can rely on, and must live with):
// - An observer is called on the thread that publishes, outside the publisher's lock. Events
//   published from several threads may reach the same observer concurrently, so an observer
//   with state protects it (the observers in this folder do).
// - On one thread, every observer sees events in the order they were published. An event an
//   observer publishes from inside its call (to the same publisher) is queued and delivered
//   once the current event has reached every observer, instead of recursing; such chains are
//   cut after kMaxNesting generations, and the publisher then reports how many it dropped.
// - addObserver and removeObserver may be called from anywhere, including from inside an
//   observer; they take effect for events whose delivery starts afterwards. An observer may
//   therefore still be running on another thread when removeObserver returns: whatever it
//   touches must outlive it (capture a std::shared_ptr, as testing::LogCapture does).
// - An observer that throws is not removed. Like Twisted ("Temporarily disabling observer ...
//   due to exception"), the publisher catches the exception and reports it once, as a
//   critical event carrying the Failure, to the other observers (not to the one that threw),
//   then carries on with the next observer.
// - While a publisher has no observers, its fallback observer, if it has one, receives the
//   events at or above the fallback's level. The global publisher's fallback writes events of
//   level warn and above to stderr in the text format, so that errors and criticals logged
//   before (or without) any logging setup do not vanish. Twisted instead buffers early events
//   until globalLogBeginner.beginLoggingTo; torsion writes them at once and keeps nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "torsion/log/event.hpp"
#include "torsion/log/level.hpp"

namespace torsion {

// Twisted's ILogObserver.
using LogObserver = std::function<void(const LogEvent&)>;

// Names one observer of one publisher, for removeObserver. A default-constructed token names
// nothing.
class ObserverToken {
 public:
  ObserverToken() noexcept = default;
  explicit operator bool() const noexcept { return id_ != 0; }
  friend bool operator==(ObserverToken, ObserverToken) = default;

 private:
  friend class LogPublisher;
  explicit ObserverToken(std::uint64_t id) noexcept : id_(id) {}
  std::uint64_t id_ = 0;
};

class LogPublisher {
 public:
  // How many generations of events published from inside observers are delivered.
  static constexpr int kMaxNesting = 8;

  LogPublisher();
  ~LogPublisher();
  LogPublisher(const LogPublisher&) = delete;
  LogPublisher& operator=(const LogPublisher&) = delete;

  // Adds an observer; name (default "#<number>") is what error reports call it.
  ObserverToken addObserver(LogObserver observer, std::string name = {});
  // Removes the observer; false if the token names no observer of this publisher.
  bool removeObserver(ObserverToken token);
  std::size_t observerCount() const;

  // Delivers the event to every observer (see the rules above). Thread-safe. Events below
  // minimumLevel() are dropped. Throws only std::bad_alloc.
  void publish(LogEvent event);

  // True if an event of this level would reach an observer (or the fallback). Cheap (one
  // relaxed atomic load): Logger checks it before building an event.
  bool wouldPublish(LogLevel level) const noexcept {
    return static_cast<int>(level) >= floor_.load(std::memory_order_relaxed);
  }

  // Events below this level are dropped before any observer sees them (and before a Logger
  // builds them). The default is debug: everything is published.
  void setMinimumLevel(LogLevel level);
  LogLevel minimumLevel() const;

  // The observer that receives events at or above `minimum` while there are no observers.
  void setFallbackObserver(LogObserver observer, LogLevel minimum = LogLevel::warn);
  void clearFallbackObserver();

 private:
  struct Entry;
  struct Snapshot;
  struct Pending;
  struct Frame;

  static Frame*& innermostFrame() noexcept;  // this thread's innermost publish() call
  std::shared_ptr<const Snapshot> snapshot() const;
  void replaceSnapshot(std::shared_ptr<const Snapshot> next);  // with mutex_ held
  void deliver(const LogEvent& event, const Entry* skip, Frame& frame);

  struct State;
  std::unique_ptr<State> state_;
  std::atomic<int> floor_;  // the lowest level anything receives (see wouldPublish)
};

// The process-wide publisher: every Logger publishes here unless given another. It is never
// destroyed, so threads may log until the process exits. Its fallback writes warn and above
// to stderr while it has no observers (see above).
LogPublisher& globalLogPublisher();

}  // namespace torsion
