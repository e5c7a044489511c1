// The main of every torsion test binary.
//
// It adds trial's rule to GoogleTest: a test that logs an error it does not expect fails.
// Around each test, LoggedErrorListener tracks the events of level error and above published
// to torsion::globalLogPublisher() (torsion::testing::beginTrackingLoggedErrors), and keeps a
// transcript of everything at warn and above. Because the global publisher then has
// observers, its stderr fallback stays quiet: a passing test prints nothing. At the end of the
// test, every error event the test did not flush (torsion::testing::flushLoggedErrors) becomes
// a non-fatal failure of that test, pointing at the Failure's origin; and if the test failed
// for any reason, the transcript is printed.
//
// Why the failure lands on the right test: GoogleTest calls OnTestEnd while the test is still
// the current one (TestInfo::Run resets the current test only afterwards), so ADD_FAILURE_AT
// from OnTestEnd is recorded in that test's result. Listeners' OnTestEnd run in the reverse of
// the order they were added; this one is appended after the default result printer, so it runs
// first and the printer then reports the test as FAILED, in the summary and the exit status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "torsion/log/log.hpp"
#include "torsion/testing/log_capture.hpp"

namespace {

class LoggedErrorListener final : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo& /*test*/) override {
    transcript_.emplace(torsion::globalLogPublisher(), torsion::LogLevel::warn);
    torsion::testing::beginTrackingLoggedErrors(torsion::globalLogPublisher());
  }

  void OnTestEnd(const ::testing::TestInfo& test) override {
    const std::vector<torsion::LogEvent> unflushed = torsion::testing::endTrackingLoggedErrors();
    const std::vector<torsion::LogEvent> transcript = transcript_->events();
    transcript_.reset();

    if (test.result()->Failed() || !unflushed.empty()) {
      // The context of the failure; the unflushed errors themselves follow as failures.
      std::string text;
      for (const torsion::LogEvent& event : transcript) {
        const bool reported = std::any_of(unflushed.begin(), unflushed.end(),
                                          [&](const auto& error) { return same(error, event); });
        if (!reported) text += torsion::formatEventAsText(event);
      }
      if (!text.empty()) {
        std::printf("Log events at warn and above during %s:\n%s", name(test).c_str(),
                    text.c_str());
        std::fflush(stdout);
      }
    }
    for (const torsion::LogEvent& event : unflushed) {
      const bool located = event.failure && event.failure->origin().line() != 0;
      ADD_FAILURE_AT(located ? event.failure->origin().file_name() : fileOf(test),
                     located ? static_cast<int>(event.failure->origin().line()) : test.line())
          << name(test) << " logged an error it did not flush (expected errors are taken with "
          << "torsion::testing::flushLoggedErrors<E...>()):\n"
          << torsion::formatEventAsText(event);
    }
  }

 private:
  static bool same(const torsion::LogEvent& a, const torsion::LogEvent& b) {
    return a.time == b.time && a.level == b.level && a.format == b.format &&
           a.logNamespace == b.logNamespace && a.fields == b.fields && a.failure == b.failure;
  }

  static const char* fileOf(const ::testing::TestInfo& test) {
    return test.file() != nullptr ? test.file() : __FILE__;
  }

  static std::string name(const ::testing::TestInfo& test) {
    return std::string(test.test_suite_name()) + "." + test.name();
  }

  std::optional<torsion::testing::LogCapture> transcript_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  // Appended after the default printer: see the comment at the top.
  ::testing::UnitTest::GetInstance()->listeners().Append(new LoggedErrorListener);
  return RUN_ALL_TESTS();
}
