#include "torsion/log/publisher.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "torsion/log/text_observer.hpp"

namespace torsion {

namespace {

// A floor above every level: nothing is delivered.
constexpr int kNothing = static_cast<int>(LogLevel::critical) + 1;

}  // namespace

struct LogPublisher::Entry {
  std::uint64_t id;
  std::string name;
  LogObserver observer;
};

// What publish() works from: replaced as a whole (under the mutex) by every change, so that a
// publishing thread holds the lock only to copy one shared_ptr.
struct LogPublisher::Snapshot {
  std::vector<std::shared_ptr<Entry>> observers;
  std::shared_ptr<Entry> fallback;
  LogLevel fallbackMinimum = LogLevel::warn;
  LogLevel minimum = LogLevel::debug;
};

struct LogPublisher::State {
  mutable std::mutex mutex;
  std::shared_ptr<const Snapshot> snapshot = std::make_shared<const Snapshot>();
  std::uint64_t nextId = 1;
};

struct LogPublisher::Pending {
  LogEvent event;
  int generation;
  std::shared_ptr<Entry> skip;  // the observer that must not see it (the one that threw)
};

// One publish() call in progress on this thread. Events the observers publish meanwhile are
// queued here rather than delivered recursively.
struct LogPublisher::Frame {
  const LogPublisher* publisher;
  Frame* outer;
  int generation = 0;  // of the event being delivered
  std::deque<Pending> pending;
  std::size_t dropped = 0;

  void enqueue(LogEvent event, std::shared_ptr<Entry> skip) {
    if (generation >= kMaxNesting) {
      ++dropped;
      return;
    }
    pending.push_back(Pending{std::move(event), generation + 1, std::move(skip)});
  }
};

LogPublisher::LogPublisher() : state_(std::make_unique<State>()), floor_(kNothing) {}

LogPublisher::~LogPublisher() = default;

LogPublisher::Frame*& LogPublisher::innermostFrame() noexcept {
  thread_local Frame* innermost = nullptr;
  return innermost;
}

std::shared_ptr<const LogPublisher::Snapshot> LogPublisher::snapshot() const {
  std::lock_guard lock(state_->mutex);
  return state_->snapshot;
}

void LogPublisher::replaceSnapshot(std::shared_ptr<const Snapshot> next) {
  int floor = kNothing;
  if (!next->observers.empty()) {
    floor = static_cast<int>(next->minimum);
  } else if (next->fallback) {
    floor = static_cast<int>(std::max(next->minimum, next->fallbackMinimum));
  }
  state_->snapshot = std::move(next);
  floor_.store(floor, std::memory_order_relaxed);
}

ObserverToken LogPublisher::addObserver(LogObserver observer, std::string name) {
  std::lock_guard lock(state_->mutex);
  const std::uint64_t id = state_->nextId++;
  // fmt rather than "#" + std::to_string(id): the latter trips a g++ 12 -Wrestrict false
  // positive at -O3 (GCC bug 105651).
  if (name.empty()) name = fmt::format("#{}", id);
  auto next = std::make_shared<Snapshot>(*state_->snapshot);
  next->observers.push_back(
      std::make_shared<Entry>(Entry{id, std::move(name), std::move(observer)}));
  replaceSnapshot(std::move(next));
  return ObserverToken(id);
}

bool LogPublisher::removeObserver(ObserverToken token) {
  std::lock_guard lock(state_->mutex);
  const auto& current = state_->snapshot->observers;
  const auto found = std::find_if(current.begin(), current.end(),
                                  [&](const auto& entry) { return entry->id == token.id_; });
  if (!token || found == current.end()) return false;
  auto next = std::make_shared<Snapshot>(*state_->snapshot);
  next->observers.erase(next->observers.begin() + (found - current.begin()));
  replaceSnapshot(std::move(next));
  return true;
}

std::size_t LogPublisher::observerCount() const { return snapshot()->observers.size(); }

void LogPublisher::setMinimumLevel(LogLevel level) {
  std::lock_guard lock(state_->mutex);
  auto next = std::make_shared<Snapshot>(*state_->snapshot);
  next->minimum = level;
  replaceSnapshot(std::move(next));
}

LogLevel LogPublisher::minimumLevel() const { return snapshot()->minimum; }

void LogPublisher::setFallbackObserver(LogObserver observer, LogLevel minimum) {
  std::lock_guard lock(state_->mutex);
  auto next = std::make_shared<Snapshot>(*state_->snapshot);
  next->fallback = std::make_shared<Entry>(Entry{0, "fallback", std::move(observer)});
  next->fallbackMinimum = minimum;
  replaceSnapshot(std::move(next));
}

void LogPublisher::clearFallbackObserver() {
  std::lock_guard lock(state_->mutex);
  auto next = std::make_shared<Snapshot>(*state_->snapshot);
  next->fallback.reset();
  replaceSnapshot(std::move(next));
}

void LogPublisher::publish(LogEvent event) {
  if (!wouldPublish(event.level)) return;
  if (event.time == std::chrono::system_clock::time_point{}) {
    event.time = std::chrono::system_clock::now();
  }

  Frame*& innermost = innermostFrame();
  for (Frame* frame = innermost; frame != nullptr; frame = frame->outer) {
    if (frame->publisher == this) {  // published by an observer: deliver after this event
      frame->enqueue(std::move(event), nullptr);
      return;
    }
  }

  Frame frame{this, innermost, 0, {}, 0};
  innermost = &frame;
  struct Restore {
    Frame*& slot;
    Frame* outer;
    ~Restore() { slot = outer; }
  } restore{innermost, frame.outer};

  deliver(event, nullptr, frame);
  while (!frame.pending.empty()) {
    Pending next = std::move(frame.pending.front());
    frame.pending.pop_front();
    frame.generation = next.generation;
    deliver(next.event, next.skip.get(), frame);
  }
  if (frame.dropped > 0) {
    LogEvent notice;
    notice.format =
        "Dropped {count} log events published by observers while they handled events nested "
        "{limit} deep (does an observer log about every event it receives?)";
    notice.fields = {{"count", frame.dropped}, {"limit", kMaxNesting}};
    notice.level = LogLevel::critical;
    notice.logNamespace = "torsion.log";
    notice.time = std::chrono::system_clock::now();
    frame.generation = kMaxNesting;  // whatever the notice causes is dropped silently
    frame.pending.clear();
    deliver(notice, nullptr, frame);
  }
}

void LogPublisher::deliver(const LogEvent& event, const Entry* skip, Frame& frame) {
  const std::shared_ptr<const Snapshot> current = snapshot();
  if (event.level < current->minimum) return;

  std::vector<std::pair<std::shared_ptr<Entry>, Failure>> broken;
  bool delivered = false;
  for (const std::shared_ptr<Entry>& entry : current->observers) {
    if (entry.get() == skip) continue;
    delivered = true;
    try {
      entry->observer(event);
    } catch (...) {
      broken.emplace_back(entry, Failure::current());
    }
  }
  if (!delivered && current->fallback && event.level >= current->fallbackMinimum) {
    try {
      current->fallback->observer(event);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the fallback is the last resort
    }
  }

  for (auto& [entry, failure] : broken) {
    LogEvent report;
    report.format = "Temporarily disabling observer {observer} due to exception";
    report.fields.push_back(LogField{"observer", entry->name});
    report.level = LogLevel::critical;
    report.logNamespace = "torsion.log";
    report.time = std::chrono::system_clock::now();
    report.failure = std::move(failure);
    frame.enqueue(std::move(report), std::move(entry));
  }
}

LogPublisher& globalLogPublisher() {
  // Leaked on purpose: threads and static destructors may log while the process exits.
  static LogPublisher* const publisher = [] {
    auto* created = new LogPublisher();
    created->setFallbackObserver(textFileObserver(stderr), LogLevel::warn);
    return created;
  }();
  return *publisher;
}

}  // namespace torsion
