// The text and JSON-lines observers.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "memory_file.hpp"
#include "torsion/log/log.hpp"

namespace torsion {
namespace {

using logtest::MemoryFile;

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// 2026-11-22T10:00:00Z, plus 250 ms.
const std::chrono::system_clock::time_point kTime =
    std::chrono::system_clock::time_point(std::chrono::seconds(1795341600)) +
    std::chrono::milliseconds(250);

LogEvent sampleEvent() {
  LogEvent event;
  event.format = "Connection from {peer} on port {port}";
  event.fields = {{"peer", "10.0.0.7"}, {"port", 8080}};
  event.level = LogLevel::info;
  event.logNamespace = "torsion.web.server";
  event.time = kTime;
  return event;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(TextObserver, writesTimeNamespaceLevelAndMessage) {
  MemoryFile file;
  textFileObserver(file.get(), LogTimeZone::utc)(sampleEvent());
  EXPECT_EQ(file.text(),
            "2026-11-22T10:00:00+0000 [torsion.web.server#info] "
            "Connection from 10.0.0.7 on port 8080\n");
}

TEST(TextObserver, writesNamespaceAndLevel) {
  LogPublisher publisher;
  MemoryFile file;
  publisher.addObserver(textFileObserver(file.get(), LogTimeZone::utc));
  Logger log("torsion.test.observers", publisher);
  log.warn("disk {percent}% full", {{"percent", 93}});
  log.critical("on fire");
  const std::vector<std::string> written = lines(file.text());
  ASSERT_EQ(written.size(), 2u);
  const std::regex stamp(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 )");
  EXPECT_TRUE(std::regex_search(written[0], stamp)) << written[0];
  EXPECT_NE(written[0].find(" [torsion.test.observers#warn] disk 93% full"), std::string::npos)
      << written[0];
  EXPECT_NE(written[1].find(" [torsion.test.observers#critical] on fire"), std::string::npos)
      << written[1];
}

TEST(TextObserver, localTimeCarriesItsOffset) {
  const std::string stamp = formatLogTime(kTime, LogTimeZone::local);
  EXPECT_TRUE(std::regex_match(stamp, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4})")))
      << stamp;
  EXPECT_EQ(formatLogTime(std::chrono::system_clock::time_point{}), "-");
}

TEST(TextObserver, rendersFailureTypeMessageAndOrigin) {
  LogEvent event = sampleEvent();
  event.level = LogLevel::error;
  event.failure = Failure(ParseError("bad header"));
  const int line = __LINE__ - 1;
  MemoryFile file;
  textFileObserver(file.get(), LogTimeZone::utc)(event);
  const std::vector<std::string> written = lines(file.text());
  ASSERT_EQ(written.size(), 2u) << file.text();
  EXPECT_EQ(written[0],
            "2026-11-22T10:00:00+0000 [torsion.web.server#error] "
            "Connection from 10.0.0.7 on port 8080");
  EXPECT_EQ(written[1].rfind("\ttorsion::(anonymous namespace)::ParseError: bad header (at ", 0),
            0u)
      << written[1];
  EXPECT_NE(written[1].find("observers_test.cpp:" + std::to_string(line)), std::string::npos)
      << written[1];
  EXPECT_NE(written[1].find(" in TestBody)"), std::string::npos) << written[1];
}

TEST(TextObserver, indentsContinuationLines) {
  LogEvent event = sampleEvent();
  event.format = "first\nsecond";
  EXPECT_EQ(formatEventAsText(event, LogTimeZone::utc),
            "2026-11-22T10:00:00+0000 [torsion.web.server#info] first\n\tsecond\n");
}

TEST(TextObserver, usesLogSystemInsteadOfNamespaceWhenGiven) {
  LogEvent event = sampleEvent();
  event.fields.push_back({"log_system", "HTTPChannel,0,10.0.0.7"});
  EXPECT_EQ(formatEventAsText(event, LogTimeZone::utc),
            "2026-11-22T10:00:00+0000 [HTTPChannel,0,10.0.0.7] "
            "Connection from 10.0.0.7 on port 8080\n");
}

TEST(TextObserver, writesNothingForAnEventWithoutMessageOrFailure) {
  LogEvent event = sampleEvent();
  event.format.clear();
  MemoryFile file;
  textFileObserver(file.get())(event);
  EXPECT_EQ(file.text(), "");
}

TEST(JsonObserver, writesOneObjectPerLine) {
  LogPublisher publisher;
  MemoryFile file;
  publisher.addObserver(jsonFileObserver(file.get()));
  Logger log("torsion.test.json", publisher);
  log.info("Connection from {peer} on port {port}",
           {{"peer", "10.0.0.7"}, {"port", 8080}, {"secure", true}, {"load", 0.5}});
  log.debug("tick", {{"missing", nullptr}, {"big", UINT64_MAX}, {"neg", -1}});

  const std::vector<std::string> written = lines(file.text());
  ASSERT_EQ(written.size(), 2u);
  const nlohmann::json first = nlohmann::json::parse(written[0]);
  EXPECT_EQ(first["log_format"], "Connection from {peer} on port {port}");
  EXPECT_EQ(first["log_text"], "Connection from 10.0.0.7 on port 8080");
  EXPECT_EQ(first["log_level"], "info");
  EXPECT_EQ(first["log_namespace"], "torsion.test.json");
  ASSERT_TRUE(first["log_time"].is_number_float());
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(first["log_time"].get<double>(), now, 600.0);
  EXPECT_EQ(first["peer"], "10.0.0.7");
  EXPECT_EQ(first["port"], 8080);
  EXPECT_EQ(first["secure"], true);
  EXPECT_EQ(first["load"], 0.5);
  EXPECT_FALSE(first.contains("log_failure"));

  const nlohmann::json second = nlohmann::json::parse(written[1]);
  EXPECT_EQ(second["log_level"], "debug");
  EXPECT_TRUE(second["missing"].is_null());
  EXPECT_EQ(second["big"].get<std::uint64_t>(), UINT64_MAX);
  EXPECT_EQ(second["neg"].get<std::int64_t>(), -1);
}

TEST(JsonObserver, writesTimeAsFloatSeconds) {
  const nlohmann::json object = nlohmann::json::parse(eventAsJSON(sampleEvent()));
  EXPECT_DOUBLE_EQ(object["log_time"].get<double>(), 1795341600.25);
}

TEST(JsonObserver, writesFailureTypeMessageAndOrigin) {
  LogEvent event = sampleEvent();
  event.failure = Failure(ParseError("bad header"));
  const int line = __LINE__ - 1;
  const nlohmann::json object = nlohmann::json::parse(eventAsJSON(event));
  const nlohmann::json& failure = object["log_failure"];
  EXPECT_EQ(failure["type"], "torsion::(anonymous namespace)::ParseError");
  EXPECT_EQ(failure["message"], "bad header");
  EXPECT_NE(failure["file"].get<std::string>().find("observers_test.cpp"), std::string::npos);
  EXPECT_EQ(failure["line"], line);
  EXPECT_EQ(failure["function"], "TestBody");  // __builtin_FUNCTION names the gtest body
}

TEST(JsonObserver, reservedKeysWinOverFieldsOfTheSameName) {
  LogEvent event = sampleEvent();
  event.fields.push_back({"log_level", "pretend"});
  const nlohmann::json object = nlohmann::json::parse(eventAsJSON(event));
  EXPECT_EQ(object["log_level"], "info");
}

TEST(JsonObserver, replacesInvalidUtf8InsteadOfThrowing) {
  LogEvent event = sampleEvent();
  event.fields.push_back({"raw", std::string("a\xff"
                                             "b")});
  std::string json;
  ASSERT_NO_THROW(json = eventAsJSON(event));
  EXPECT_EQ(nlohmann::json::parse(json)["raw"],
            "a\xEF\xBF\xBD"
            "b");
}

}  // namespace
}  // namespace torsion
