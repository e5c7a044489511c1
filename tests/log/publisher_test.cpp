// LogPublisher, Logger and the filtering observers.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "memory_file.hpp"
#include "torsion/log/log.hpp"

namespace torsion {
namespace {

struct ObserverError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An observer keeping what it sees; thread-safe.
class Recorder {
 public:
  LogObserver observer() {
    return [state = state_](const LogEvent& event) {
      std::lock_guard lock(state->mutex);
      state->events.push_back(event);
    };
  }
  std::vector<LogEvent> events() const {
    std::lock_guard lock(state_->mutex);
    return state_->events;
  }
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const LogEvent& event : events()) out.push_back(formatEvent(event));
    return out;
  }

 private:
  struct State {
    std::mutex mutex;
    std::vector<LogEvent> events;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

using Messages = std::vector<std::string>;

TEST(Publisher, deliversToEveryObserverInOrder) {
  LogPublisher publisher;
  Recorder first;
  Recorder second;
  publisher.addObserver(first.observer());
  publisher.addObserver(second.observer());
  Logger log("torsion.test", publisher);
  log.info("one");
  log.debug("two");
  EXPECT_EQ(first.messages(), (Messages{"one", "two"}));
  EXPECT_EQ(second.messages(), (Messages{"one", "two"}));
  EXPECT_EQ(publisher.observerCount(), 2u);
}

TEST(Publisher, removedObserverReceivesNothing) {
  LogPublisher publisher;
  Recorder recorder;
  const ObserverToken token = publisher.addObserver(recorder.observer());
  Logger log("torsion.test", publisher);
  log.info("before");
  EXPECT_TRUE(publisher.removeObserver(token));
  log.info("after");
  EXPECT_EQ(recorder.messages(), (Messages{"before"}));
  EXPECT_FALSE(publisher.removeObserver(token));
  EXPECT_FALSE(publisher.removeObserver(ObserverToken()));
}

TEST(Publisher, observerCanRemoveItself) {
  LogPublisher publisher;
  Recorder recorder;
  auto token = std::make_shared<ObserverToken>();
  int calls = 0;
  *token = publisher.addObserver([&publisher, token, &calls](const LogEvent&) {
    ++calls;
    publisher.removeObserver(*token);
  });
  publisher.addObserver(recorder.observer());
  Logger log("torsion.test", publisher);
  log.info("one");
  log.info("two");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(recorder.messages(), (Messages{"one", "two"}));
}

TEST(Publisher, observerThatThrowsDoesNotStopOthers) {
  LogPublisher publisher;
  Recorder before;
  Recorder after;
  int throws = 0;
  publisher.addObserver(before.observer());
  publisher.addObserver(
      [&throws](const LogEvent&) {
        ++throws;
        throw ObserverError("observer broke");
      },
      "brittle");
  publisher.addObserver(after.observer());
  Logger log("torsion.test", publisher);

  log.info("first");
  const Messages expected{"first", "Temporarily disabling observer brittle due to exception"};
  EXPECT_EQ(before.messages(), expected);
  EXPECT_EQ(after.messages(), expected);
  EXPECT_EQ(throws, 1);  // the report does not go back to the observer that threw

  const LogEvent report = after.events().at(1);
  EXPECT_EQ(report.level, LogLevel::critical);
  EXPECT_EQ(report.logNamespace, "torsion.log");
  ASSERT_TRUE(report.failure.has_value());
  EXPECT_TRUE(report.failure->check<ObserverError>());
  EXPECT_EQ(report.failure->getErrorMessage(), "observer broke");

  log.info("second");  // still registered: it is called (and reported) again
  EXPECT_EQ(throws, 2);
  EXPECT_EQ(after.messages().size(), 4u);
  EXPECT_EQ(after.messages()[2], "second");
}

TEST(Publisher, failureOfTheOnlyObserverGoesToTheFallback) {
  LogPublisher publisher;
  Recorder fallback;
  publisher.setFallbackObserver(fallback.observer(), LogLevel::warn);
  publisher.addObserver([](const LogEvent&) { throw ObserverError("alone"); });
  Logger("torsion.test", publisher).info("hello");
  ASSERT_EQ(fallback.events().size(), 1u);
  EXPECT_EQ(fallback.messages()[0], "Temporarily disabling observer #1 due to exception");
}

TEST(Publisher, eventsPublishedByAnObserverFollowTheCurrentEvent) {
  LogPublisher publisher;
  Recorder first;
  Recorder last;
  Logger log("torsion.test", publisher);
  publisher.addObserver(first.observer());
  publisher.addObserver([&log](const LogEvent& event) {
    if (formatEvent(event) == "outer") log.info("inner");
  });
  publisher.addObserver(last.observer());
  log.info("outer");
  // Every observer saw "outer" before "inner", though "inner" was published during "outer".
  EXPECT_EQ(first.messages(), (Messages{"outer", "inner"}));
  EXPECT_EQ(last.messages(), (Messages{"outer", "inner"}));
}

TEST(Publisher, endlessReentrantLoggingIsCut) {
  LogPublisher publisher;
  Recorder recorder;
  Logger log("torsion.test", publisher);
  publisher.addObserver([&log](const LogEvent&) { log.info("echo"); });
  publisher.addObserver(recorder.observer());
  log.info("start");
  const std::vector<LogEvent> events = recorder.events();
  // "start", one echo per generation, then the notice of what was dropped.
  ASSERT_EQ(events.size(), static_cast<std::size_t>(LogPublisher::kMaxNesting) + 2);
  EXPECT_EQ(formatEvent(events[1]), "echo");
  const LogEvent& notice = events.back();
  EXPECT_EQ(notice.level, LogLevel::critical);
  EXPECT_EQ(*notice.field("count"), FieldValue(1U));
  EXPECT_EQ(formatEvent(notice).rfind("Dropped 1 log events", 0), 0u) << formatEvent(notice);
}

TEST(Publisher, threadsCanPublishConcurrently) {
  constexpr int kThreads = 4;
  constexpr int kEventsPerThread = 2000;
  LogPublisher publisher;
  std::atomic<int> counted{0};
  publisher.addObserver([&counted](const LogEvent&) { counted.fetch_add(1); });
  Recorder recorder;
  publisher.addObserver(recorder.observer());

  std::latch start(kThreads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&publisher, &start, t] {
      Logger log("torsion.test.thread", publisher);
      start.arrive_and_wait();
      for (int i = 0; i < kEventsPerThread; ++i) {
        log.info("event {i} from {thread}", {{"i", i}, {"thread", t}});
      }
    });
  }
  // Meanwhile, observers come and go.
  start.arrive_and_wait();
  for (int i = 0; i < 200; ++i) {
    publisher.removeObserver(publisher.addObserver([](const LogEvent&) {}));
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(counted.load(), kThreads * kEventsPerThread);
  // Each thread's events arrived in the order it published them.
  std::vector<std::int64_t> next(kThreads, 0);
  for (const LogEvent& event : recorder.events()) {
    const auto thread = *event.field("thread")->getIf<std::int64_t>();
    EXPECT_EQ(*event.field("i")->getIf<std::int64_t>(), next[thread]++);
  }
}

TEST(Publisher, fallbackHearsOnlyWhenNobodyElseListens) {
  LogPublisher publisher;
  logtest::MemoryFile file;
  publisher.setFallbackObserver(textFileObserver(file.get()), LogLevel::warn);
  Logger log("torsion.test.fallback", publisher);
  EXPECT_FALSE(log.wants(LogLevel::info));
  EXPECT_TRUE(log.wants(LogLevel::warn));

  log.info("quiet");
  log.error("loud");
  Recorder recorder;
  const ObserverToken token = publisher.addObserver(recorder.observer());
  log.critical("heard by the observer only");
  publisher.removeObserver(token);
  log.warn("loud again");

  const std::string text = file.text();
  EXPECT_EQ(text.find("quiet"), std::string::npos);
  EXPECT_NE(text.find("[torsion.test.fallback#error] loud\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[torsion.test.fallback#warn] loud again\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("observer only"), std::string::npos) << text;

  publisher.clearFallbackObserver();
  EXPECT_FALSE(log.wants(LogLevel::critical));
}

TEST(Publisher, minimumLevelDropsEventsBeforeTheyAreBuilt) {
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(recorder.observer());
  publisher.setMinimumLevel(LogLevel::warn);
  EXPECT_EQ(publisher.minimumLevel(), LogLevel::warn);
  Logger log("torsion.test", publisher);
  EXPECT_FALSE(log.wants(LogLevel::info));
  log.info("dropped");
  LogEvent direct;
  direct.format = "also dropped";
  direct.level = LogLevel::debug;
  publisher.publish(direct);
  log.warn("kept");
  EXPECT_EQ(recorder.messages(), (Messages{"kept"}));
}

TEST(Publisher, withoutObserversOrFallbackNothingIsWanted) {
  LogPublisher publisher;
  EXPECT_FALSE(publisher.wouldPublish(LogLevel::critical));
  publisher.publish(LogEvent{});  // and publishing is harmless
  Logger log("torsion.test", publisher);
  EXPECT_FALSE(log.wants(LogLevel::critical));
  log.critical("nobody hears {this}", {{"this", "event"}});
}

TEST(Publisher, stampsTheTimeOfUntimedEvents) {
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(recorder.observer());
  const auto before = std::chrono::system_clock::now();
  LogEvent untimed;
  untimed.format = "untimed";
  publisher.publish(untimed);
  LogEvent timed;
  timed.time = std::chrono::system_clock::time_point(std::chrono::seconds(42));
  publisher.publish(timed);
  const std::vector<LogEvent> events = recorder.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_GE(events[0].time, before);
  EXPECT_EQ(events[1].time, timed.time);
}

TEST(Publisher, globalPublisherIsOneInstance) {
  EXPECT_EQ(&globalLogPublisher(), &globalLogPublisher());
  EXPECT_EQ(&Logger("torsion.test").publisher(), &globalLogPublisher());
}

TEST(Logger, publishesNamespaceLevelFieldsAndTime) {
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(recorder.observer());
  const Logger log("torsion.test.logger", publisher);
  const std::string host = "10.0.0.7";
  const auto before = std::chrono::system_clock::now();
  log.warn("Connection from {peer} on port {port}", {{"peer", host}, {"port", 8080}});
  const std::vector<LogEvent> events = recorder.events();
  ASSERT_EQ(events.size(), 1u);
  const LogEvent& event = events[0];
  EXPECT_EQ(event.format, "Connection from {peer} on port {port}");
  EXPECT_EQ(event.fields, (std::vector<LogField>{{"peer", "10.0.0.7"}, {"port", 8080}}));
  EXPECT_EQ(event.level, LogLevel::warn);
  EXPECT_EQ(event.logNamespace, "torsion.test.logger");
  EXPECT_GE(event.time, before);
  EXPECT_FALSE(event.failure.has_value());
  EXPECT_EQ(log.logNamespace(), "torsion.test.logger");
}

TEST(Logger, eachMethodLogsAtItsLevel) {
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(recorder.observer());
  const Logger log("torsion.test", publisher);
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  log.critical("c");
  log.emit(LogLevel::info, "emitted");
  std::vector<LogLevel> levels;
  for (const LogEvent& event : recorder.events()) levels.push_back(event.level);
  EXPECT_EQ(levels, (std::vector<LogLevel>{LogLevel::debug, LogLevel::info, LogLevel::warn,
                                           LogLevel::error, LogLevel::critical, LogLevel::info}));
}

TEST(Logger, failureCarriesTheFailureAndDefaultsToCritical) {
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(recorder.observer());
  const Logger log("torsion.test", publisher);
  const Failure failure(ObserverError("broken pipe"));
  log.failure("Write to {peer} failed", failure, LogLevel::error, {{"peer", "a"}});
  log.failure("Unhandled", failure);
  const std::vector<LogEvent> events = recorder.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].level, LogLevel::error);
  EXPECT_EQ(formatEvent(events[0]), "Write to a failed");
  EXPECT_EQ(events[0].failure, failure);
  EXPECT_EQ(events[1].level, LogLevel::critical);
}

TEST(Logger, failureInsideACatchTakesTheCurrentException) {
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(recorder.observer());
  const Logger log("torsion.test", publisher);
  int line = 0;
  try {
    throw ObserverError("caught");
  } catch (...) {
    line = __LINE__ + 1;
    log.failure("Handler failed", LogLevel::error, {{"attempt", 3}});
  }
  const std::vector<LogEvent> events = recorder.events();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].failure.has_value());
  EXPECT_TRUE(events[0].failure->check<ObserverError>());
  EXPECT_EQ(events[0].failure->origin().line(), static_cast<unsigned>(line));
  EXPECT_EQ(events[0].level, LogLevel::error);
  EXPECT_EQ(*events[0].field("attempt"), FieldValue(3));
}

TEST(LevelFilter, namespaceInheritsItsNearestAncestorsLevel) {
  LogLevelFilter filter(LogLevel::info);
  filter.setLogLevelForNamespace("torsion.web", LogLevel::warn);
  filter.setLogLevelForNamespace("torsion.web.server", LogLevel::debug);
  EXPECT_EQ(filter.logLevelForNamespace("torsion.web.server.http"), LogLevel::debug);
  EXPECT_EQ(filter.logLevelForNamespace("torsion.web.client"), LogLevel::warn);
  EXPECT_EQ(filter.logLevelForNamespace("torsion.web"), LogLevel::warn);
  EXPECT_EQ(filter.logLevelForNamespace("torsion.webx"), LogLevel::info);  // not a child
  EXPECT_EQ(filter.logLevelForNamespace("torsion"), LogLevel::info);
  EXPECT_EQ(filter.logLevelForNamespace(""), LogLevel::info);
}

TEST(LevelFilter, emptyNamespaceSetsTheDefaultAndClearingKeepsIt) {
  LogLevelFilter filter;
  EXPECT_EQ(filter.logLevelForNamespace("any"), LogLevel::info);
  filter.setLogLevelForNamespace("", LogLevel::error);
  filter.setLogLevelForNamespace("chatty", LogLevel::debug);
  EXPECT_EQ(filter.logLevelForNamespace("any"), LogLevel::error);
  filter.clearLogLevels();
  EXPECT_EQ(filter.logLevelForNamespace("chatty"), LogLevel::error);
}

TEST(LevelFilter, filteringObserverPassesEventsAtOrAboveTheNamespacesLevel) {
  auto filter = std::make_shared<LogLevelFilter>(LogLevel::warn);
  filter->setLogLevelForNamespace("torsion.debugged", LogLevel::debug);
  LogPublisher publisher;
  Recorder recorder;
  publisher.addObserver(filteringObserver(recorder.observer(), filter));
  Logger quiet("torsion.quiet", publisher);
  Logger debugged("torsion.debugged.module", publisher);
  quiet.info("quiet info");
  quiet.warn("quiet warn");
  debugged.debug("debugged debug");
  filter->setLogLevelForNamespace("torsion.debugged", LogLevel::critical);
  debugged.error("debugged error");
  EXPECT_EQ(recorder.messages(), (Messages{"quiet warn", "debugged debug"}));
}

TEST(LevelFilter, filteringObserverByLevelOrPredicate) {
  LogPublisher publisher;
  Recorder byLevel;
  Recorder byPredicate;
  publisher.addObserver(filteringObserver(byLevel.observer(), LogLevel::error));
  publisher.addObserver(filteringObserver(byPredicate.observer(), [](const LogEvent& event) {
    return event.field("audit") != nullptr;
  }));
  Logger log("torsion.test", publisher);
  log.warn("plain warning");
  log.error("plain error");
  log.info("audited", {{"audit", true}});
  EXPECT_EQ(byLevel.messages(), (Messages{"plain error"}));
  EXPECT_EQ(byPredicate.messages(), (Messages{"audited"}));
}

}  // namespace
}  // namespace torsion
