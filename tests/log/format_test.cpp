// LogLevel, FieldValue and formatEvent.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "torsion/log/event.hpp"
#include "torsion/log/level.hpp"

namespace torsion {
namespace {

LogEvent eventWith(std::string format, std::vector<LogField> fields = {}) {
  LogEvent event;
  event.format = std::move(format);
  event.fields = std::move(fields);
  return event;
}

TEST(LogLevel, namesRoundTrip) {
  for (LogLevel level :
       {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error, LogLevel::critical}) {
    EXPECT_EQ(parseLogLevel(toString(level)), level) << toString(level);
  }
  EXPECT_EQ(toString(LogLevel::warn), "warn");
  EXPECT_EQ(toString(LogLevel::critical), "critical");
}

TEST(LogLevel, parseIgnoresCaseAndRejectsUnknownNames) {
  EXPECT_EQ(parseLogLevel("ERROR"), LogLevel::error);
  EXPECT_EQ(parseLogLevel("Warning"), LogLevel::warn);
  EXPECT_EQ(parseLogLevel("loud"), std::nullopt);
  EXPECT_EQ(parseLogLevel(""), std::nullopt);
  EXPECT_EQ(parseLogLevel("info "), std::nullopt);
}

TEST(LogLevel, ordersBySeverity) {
  EXPECT_LT(LogLevel::debug, LogLevel::info);
  EXPECT_LT(LogLevel::info, LogLevel::warn);
  EXPECT_LT(LogLevel::warn, LogLevel::error);
  EXPECT_LT(LogLevel::error, LogLevel::critical);
}

// Every integer width converts, to the signedness it has; characters and pointers do not.
static_assert(std::is_convertible_v<std::int8_t, FieldValue>);
static_assert(std::is_convertible_v<std::uint64_t, FieldRef>);
static_assert(!std::is_convertible_v<char, FieldValue>);
static_assert(!std::is_convertible_v<char, FieldRef>);
static_assert(!std::is_convertible_v<int*, FieldValue>);
static_assert(!std::is_convertible_v<int*, FieldRef>);

TEST(FieldValue, integersOfEveryWidthKeepTheirSign) {
  EXPECT_EQ(*FieldValue(static_cast<std::int8_t>(-8)).getIf<std::int64_t>(), -8);
  EXPECT_EQ(*FieldValue(static_cast<short>(-16)).getIf<std::int64_t>(), -16);
  EXPECT_EQ(*FieldValue(-32).getIf<std::int64_t>(), -32);
  EXPECT_EQ(*FieldValue(-64L).getIf<std::int64_t>(), -64);
  EXPECT_EQ(*FieldValue(-64LL).getIf<std::int64_t>(), -64);
  EXPECT_EQ(*FieldValue(std::ptrdiff_t{-1}).getIf<std::int64_t>(), -1);
  EXPECT_EQ(*FieldValue(static_cast<std::uint8_t>(200)).getIf<std::uint64_t>(), 200u);
  EXPECT_EQ(*FieldValue(static_cast<unsigned short>(60000)).getIf<std::uint64_t>(), 60000u);
  EXPECT_EQ(*FieldValue(4000000000U).getIf<std::uint64_t>(), 4000000000u);
  EXPECT_EQ(*FieldValue(std::size_t{7}).getIf<std::uint64_t>(), 7u);
  EXPECT_EQ(*FieldValue(UINT64_MAX).getIf<std::uint64_t>(), UINT64_MAX);
  EXPECT_EQ(*FieldValue(true).getIf<bool>(), true);
  EXPECT_EQ(*FieldValue(1.5f).getIf<double>(), 1.5);
}

TEST(FieldValue, stringsConvertFromEveryStringType) {
  const std::string owned = "owned";
  const std::string_view view = "view";
  const char* pointer = "pointer";
  const char* none = nullptr;
  EXPECT_EQ(*FieldValue("literal").getIf<std::string>(), "literal");
  EXPECT_EQ(*FieldValue(owned).getIf<std::string>(), "owned");
  EXPECT_EQ(*FieldValue(view).getIf<std::string>(), "view");
  EXPECT_EQ(*FieldValue(pointer).getIf<std::string>(), "pointer");
  EXPECT_TRUE(FieldValue(none).isNull());
  EXPECT_TRUE(FieldValue(nullptr).isNull());
  EXPECT_TRUE(FieldValue().isNull());
}

TEST(FieldValue, convertsFromTheViewThatLoggingCallsPass) {
  const std::string text = "peer";
  EXPECT_EQ(FieldValue(FieldRef(text)), FieldValue("peer"));
  EXPECT_EQ(FieldValue(FieldRef(-3)), FieldValue(-3));
  EXPECT_EQ(FieldValue(FieldRef(3U)), FieldValue(3U));
  EXPECT_EQ(FieldValue(FieldRef(nullptr)), FieldValue());
  const FieldValue stored("stored");
  EXPECT_EQ(FieldValue(FieldRef(stored)), stored);
}

TEST(FieldValue, reprQuotesAndEscapesStrings) {
  EXPECT_EQ(FieldValue("say \"hi\"\n").repr(), R"("say \"hi\"\n")");
  EXPECT_EQ(FieldValue(42).repr(), "42");
  EXPECT_EQ(FieldValue(false).repr(), "false");
  EXPECT_EQ(FieldValue().repr(), "null");
}

TEST(LogFormat, substitutesNamedFields) {
  const LogEvent event =
      eventWith("Connection from {peer} on port {port}", {{"peer", "10.0.0.7"}, {"port", 8080}});
  EXPECT_EQ(formatEvent(event), "Connection from 10.0.0.7 on port 8080");
}

TEST(LogFormat, usesAFieldAsOftenAsItIsNamed) {
  EXPECT_EQ(formatEvent(eventWith("{a}-{b}-{a}", {{"a", 1}, {"b", "two"}})), "1-two-1");
}

TEST(LogFormat, doubledBracesAreLiteral) {
  EXPECT_EQ(formatEvent(eventWith("{{literal}} {x}", {{"x", 1}})), "{literal} 1");
  EXPECT_EQ(formatEvent(eventWith("{{}}")), "{}");
}

TEST(LogFormat, appliesFormatSpecs) {
  EXPECT_EQ(formatEvent(eventWith("[{port:>5}] {ratio:.2f} {id:#x}",
                                  {{"port", 80}, {"ratio", 0.125}, {"id", 255U}})),
            "[   80] 0.12 0xff");
}

TEST(LogFormat, rendersNullBoolsAndExtremeIntegers) {
  EXPECT_EQ(
      formatEvent(eventWith(
          "{n} {t} {f} {min} {max}",
          {{"n", nullptr}, {"t", true}, {"f", false}, {"min", INT64_MIN}, {"max", UINT64_MAX}})),
      "null true false -9223372036854775808 18446744073709551615");
}

TEST(LogFormat, formatWithoutBracesIsReturnedAsIs) {
  EXPECT_EQ(formatEvent(eventWith("plain text", {{"unused", 1}})), "plain text");
  EXPECT_EQ(formatEvent(eventWith("")), "");
}

TEST(LogFormat, malformedFormatDoesNotThrow) {
  for (const char* format : {"{unclosed", "closed}", "{peer!r}", "{{{", "{port:d}", "{0.5}"}) {
    const LogEvent event = eventWith(format, {{"peer", "10.0.0.7"}, {"port", "eighty"}});
    std::string text;
    EXPECT_NO_THROW(text = formatEvent(event)) << format;
    EXPECT_EQ(text.rfind("Unable to format event {\"log_format\": ", 0), 0u) << text;
    EXPECT_NE(text.find(R"("peer": "10.0.0.7", "port": "eighty"})"), std::string::npos) << text;
  }
}

TEST(LogFormat, missingFieldRendersTheRawFormatAndFields) {
  const LogEvent event = eventWith("Lost {peer} after {seconds}s", {{"peer", "host \"a\""}});
  EXPECT_EQ(formatEvent(event),
            R"(Unable to format event {"log_format": "Lost {peer} after {seconds}s", )"
            R"("peer": "host \"a\""}: argument not found)");
}

TEST(LogEvent, findsFieldsByName) {
  const LogEvent event = eventWith("", {{"a", 1}, {"b", "x"}, {"a", 2}});
  ASSERT_NE(event.field("a"), nullptr);
  EXPECT_EQ(*event.field("a"), FieldValue(1));
  EXPECT_EQ(*event.field("b"), FieldValue("x"));
  EXPECT_EQ(event.field("c"), nullptr);
}

}  // namespace
}  // namespace torsion
