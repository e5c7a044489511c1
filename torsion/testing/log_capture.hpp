// Log helpers for tests: LogCapture, which collects the events published while it lives, and
// trial's flushLoggedErrors, which lets a test expect the errors it logs.
//
// The shared test main (tests/support/test_main.cpp) tracks the events of level error and
// above published to globalLogPublisher() during each test, and fails the test for every
// one the test did not flush:
//
//   TEST(Resolver, logsTimeouts) {
//     resolver.query("example.com");  // logs a TimeoutError failure
//     EXPECT_EQ(torsion::testing::flushLoggedErrors<torsion::TimeoutError>().size(), 1u);
//   }
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/defer/failure.hpp"
#include "torsion/log/event.hpp"
#include "torsion/log/level.hpp"
#include "torsion/log/publisher.hpp"

namespace torsion::testing {

// While alive, keeps every event of at least `minimum` published to `publisher` (which must
// outlive it). Thread-safe: events may arrive from any thread while the test reads.
class LogCapture {
 public:
  explicit LogCapture(LogPublisher& publisher = globalLogPublisher(),
                      LogLevel minimum = LogLevel::debug);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The events so far, in the order they were published.
  std::vector<LogEvent> events() const;
  // formatEvent() of each event so far.
  std::vector<std::string> messages() const;
  std::size_t size() const;
  void clear();
  // True if some event's message (formatEvent) contains `substring`.
  bool contains(std::string_view substring) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  LogPublisher& publisher_;
  ObserverToken token_;
};

// Starts keeping the events of level error and above published to `publisher`, forgetting
// any kept before. The shared test main calls it before each test.
void beginTrackingLoggedErrors(LogPublisher& publisher = globalLogPublisher());
// Stops, and returns the error events that nobody flushed. The test main calls it after each
// test and fails the test for each of them.
std::vector<LogEvent> endTrackingLoggedErrors();
bool isTrackingLoggedErrors();

namespace detail {
std::vector<Failure> flushLoggedErrorsMatching(bool (*matches)(const Failure&));
}  // namespace detail

// Trial's flushLoggedErrors: returns the Failures of the error and critical events logged
// since the test began whose exception is one of E... (or, with no types, of every such event
// that carries a Failure), and forgets those events so that they do not fail the test.
// With no types, it also forgets error events that carry no Failure (see
// flushLoggedErrorEvents to inspect those).
template <class... E>
std::vector<Failure> flushLoggedErrors() {
  if constexpr (sizeof...(E) == 0) {
    return detail::flushLoggedErrorsMatching(nullptr);
  } else {
    return detail::flushLoggedErrorsMatching(
        [](const Failure& failure) { return failure.check<E...>(); });
  }
}

// Returns and forgets every error and critical event logged since the test began, with or
// without a Failure.
std::vector<LogEvent> flushLoggedErrorEvents();

}  // namespace torsion::testing
