// torsion::app::syslogObserver: level to priority mapping and the lines sent (not syslog
// itself: the observer is given a sink that records).
#include "torsion/app/syslog_observer.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "torsion/log/log.hpp"

namespace torsion::app {
namespace {

LogEvent event(std::string format, LogLevel level = LogLevel::info) {
  LogEvent e;
  e.format = std::move(format);
  e.level = level;
  e.logNamespace = "torsion.web";
  return e;
}

TEST(SyslogObserver, mapsEachLevelToItsPriority) {
  EXPECT_EQ(syslogPriority(LogLevel::debug), LOG_DEBUG);
  EXPECT_EQ(syslogPriority(LogLevel::info), LOG_INFO);
  EXPECT_EQ(syslogPriority(LogLevel::warn), LOG_WARNING);
  EXPECT_EQ(syslogPriority(LogLevel::error), LOG_ERR);
  EXPECT_EQ(syslogPriority(LogLevel::critical), LOG_CRIT);
}

TEST(SyslogObserver, combinesThePriorityWithTheFacility) {
  EXPECT_EQ(syslogPriorityOf(event("x", LogLevel::error)), LOG_ERR | LOG_USER);
  EXPECT_EQ(syslogPriorityOf(event("x", LogLevel::warn), LOG_DAEMON), LOG_WARNING | LOG_DAEMON);
}

TEST(SyslogObserver, honoursAnEventsOwnPriorityAndFacility) {
  LogEvent e = event("x", LogLevel::info);
  e.fields.push_back({"syslogPriority", FieldValue(LOG_ALERT)});
  EXPECT_EQ(syslogPriorityOf(e, LOG_DAEMON), LOG_ALERT | LOG_DAEMON);
  e.fields.push_back({"syslogFacility", FieldValue(LOG_LOCAL3)});
  EXPECT_EQ(syslogPriorityOf(e, LOG_DAEMON), LOG_ALERT | LOG_LOCAL3);
  LogEvent wrongType = event("x", LogLevel::info);
  wrongType.fields.push_back({"syslogPriority", FieldValue("alert")});
  EXPECT_EQ(syslogPriorityOf(wrongType), LOG_INFO | LOG_USER) << "a non-integer is ignored";
}

TEST(SyslogObserver, writesOneMessagePerLineWithTheSystem) {
  LogEvent hello = event("hello {who}");
  hello.fields.push_back({"who", FieldValue("world")});
  EXPECT_EQ(syslogLines(hello), std::vector<std::string>{"[torsion.web#info] hello world"});
  LogEvent e = event("first\nsecond\n", LogLevel::warn);
  EXPECT_EQ(syslogLines(e),
            (std::vector<std::string>{"[torsion.web#warn] first", "[torsion.web#warn] \tsecond"}));
  e.fields.push_back({"log_system", FieldValue("HTTPChannel,3,10.0.0.7")});
  EXPECT_EQ(syslogLines(e)[0], "[HTTPChannel,3,10.0.0.7] first");
  EXPECT_TRUE(syslogLines(event("")).empty());
}

TEST(SyslogObserver, appendsTheFailureAsFurtherLines) {
  LogEvent e = event("Request failed", LogLevel::error);
  e.failure = Failure(std::runtime_error("boom"));
  const std::vector<std::string> lines = syslogLines(e);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "[torsion.web#error] Request failed");
  EXPECT_EQ(lines[1], "[torsion.web#error] \t" + e.failure->describe());
}

TEST(SyslogObserver, sendsEveryLineWithTheEventsPriorityThroughAPublisher) {
  std::mutex mutex;
  std::vector<std::pair<int, std::string>> sent;
  LogPublisher publisher;
  publisher.addObserver(
      syslogObserver("torsiond", LOG_DAEMON, [&](int priority, const std::string& line) {
        const std::lock_guard lock(mutex);
        sent.emplace_back(priority, line);
      }));
  const Logger log("torsion.app", publisher);
  log.info("started on {port}", {{"port", 8080}});
  log.critical("two\nlines");
  EXPECT_EQ(sent, (std::vector<std::pair<int, std::string>>{
                      {LOG_INFO | LOG_DAEMON, "[torsion.app#info] started on 8080"},
                      {LOG_CRIT | LOG_DAEMON, "[torsion.app#critical] two"},
                      {LOG_CRIT | LOG_DAEMON, "[torsion.app#critical] \tlines"}}));
}

}  // namespace
}  // namespace torsion::app
