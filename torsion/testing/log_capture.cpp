#include "torsion/testing/log_capture.hpp"

#include <algorithm>
#include <mutex>
#include <utility>

namespace torsion::testing {

struct LogCapture::State {
  mutable std::mutex mutex;
  std::vector<LogEvent> events;
};

LogCapture::LogCapture(LogPublisher& publisher, LogLevel minimum)
    : state_(std::make_shared<State>()), publisher_(publisher) {
  // The observer shares the state, so an event still being delivered on another thread when
  // the capture is destroyed lands in memory that is still alive.
  token_ = publisher_.addObserver(
      [state = state_, minimum](const LogEvent& event) {
        if (event.level < minimum) return;
        std::lock_guard lock(state->mutex);
        state->events.push_back(event);
      },
      "torsion::testing::LogCapture");
}

LogCapture::~LogCapture() { publisher_.removeObserver(token_); }

std::vector<LogEvent> LogCapture::events() const {
  std::lock_guard lock(state_->mutex);
  return state_->events;
}

std::vector<std::string> LogCapture::messages() const {
  std::vector<std::string> out;
  for (const LogEvent& event : events()) out.push_back(formatEvent(event));
  return out;
}

std::size_t LogCapture::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->events.size();
}

void LogCapture::clear() {
  std::lock_guard lock(state_->mutex);
  state_->events.clear();
}

bool LogCapture::contains(std::string_view substring) const {
  const std::vector<std::string> all = messages();
  return std::any_of(all.begin(), all.end(), [&](const std::string& message) {
    return message.find(substring) != std::string::npos;
  });
}

namespace {

// The errors logged since tracking began. One per process: trial's is per test, and tests
// run one at a time.
struct ErrorTracker {
  std::mutex mutex;
  std::shared_ptr<std::vector<LogEvent>> errors;  // shared with the observer
  LogPublisher* publisher = nullptr;
  ObserverToken token;
};

ErrorTracker& tracker() {
  static ErrorTracker* const instance = new ErrorTracker();  // used until exit
  return *instance;
}

}  // namespace

void beginTrackingLoggedErrors(LogPublisher& publisher) {
  endTrackingLoggedErrors();
  ErrorTracker& t = tracker();
  auto errors = std::make_shared<std::vector<LogEvent>>();
  // Added outside the tracker's lock: an observer may run (and take that lock) as soon as it
  // is added.
  const ObserverToken token = publisher.addObserver(
      [errors](const LogEvent& event) {
        if (event.level < LogLevel::error) return;
        std::lock_guard lock(tracker().mutex);
        errors->push_back(event);
      },
      "torsion::testing logged-error tracker");
  std::lock_guard lock(t.mutex);
  t.errors = std::move(errors);
  t.publisher = &publisher;
  t.token = token;
}

std::vector<LogEvent> endTrackingLoggedErrors() {
  ErrorTracker& t = tracker();
  LogPublisher* publisher = nullptr;
  ObserverToken token;
  std::vector<LogEvent> unflushed;
  {
    std::lock_guard lock(t.mutex);
    if (t.publisher == nullptr) return unflushed;
    publisher = std::exchange(t.publisher, nullptr);
    token = std::exchange(t.token, ObserverToken());
    unflushed = std::move(*t.errors);
    t.errors->clear();
    t.errors.reset();
  }
  publisher->removeObserver(token);
  return unflushed;
}

bool isTrackingLoggedErrors() {
  std::lock_guard lock(tracker().mutex);
  return tracker().publisher != nullptr;
}

std::vector<Failure> detail::flushLoggedErrorsMatching(bool (*matches)(const Failure&)) {
  std::vector<Failure> flushed;
  ErrorTracker& t = tracker();
  std::lock_guard lock(t.mutex);
  if (!t.errors) return flushed;
  std::vector<LogEvent> kept;
  for (LogEvent& event : *t.errors) {
    if (matches == nullptr) {
      if (event.failure) flushed.push_back(*event.failure);
    } else if (event.failure && matches(*event.failure)) {
      flushed.push_back(*event.failure);
    } else {
      kept.push_back(std::move(event));
    }
  }
  *t.errors = std::move(kept);
  return flushed;
}

std::vector<LogEvent> flushLoggedErrorEvents() {
  ErrorTracker& t = tracker();
  std::lock_guard lock(t.mutex);
  if (!t.errors) return {};
  return std::exchange(*t.errors, {});
}

}  // namespace torsion::testing
