// GoogleTest helpers for Deferreds (trial's successResultOf, failureResultOf,
// assertNoResult), and reactorIsClean for a ReactorCleanCheck.
//
// For test code only: this header includes <gtest/gtest.h>, and the torsion library itself
// never includes it (everything here is inline).
//
//   Deferred<int> d = client.ask("x");
//   assertNoResult(d);
//   transport.dataReceived("42\r\n");
//   EXPECT_EQ(successResultOf(d), 42);
//
//   Failure f = failureResultOf<ConnectionLost>(other);
//
// Each helper looks at the Deferred as it is now, without waiting: it is meant for code
// driven by fakes (StringTransport, MemoryReactor, Clock) where the test decides when
// things happen. When the check fails, the helper records a GoogleTest failure at the
// caller's line (ADD_FAILURE_AT) and throws ResultCheckFailed, so that the test stops there
// (GoogleTest reports the exception too, as a second message).
//
// What they do to the chain is what trial's do: successResultOf and failureResultOf take
// the result (they add a callback that keeps it and returns nothing, so the chain goes on as
// a Deferred<void> with no value and a failure taken this way is never reported as
// unhandled); the handle passed in then describes an earlier step and cannot be extended.
// assertNoResult adds nothing when there is no result; when it finds a failure, it takes it
// (as trial does) so that only the test failure reports it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "torsion/core/source_location.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/defer/result.hpp"
#include "torsion/testing/reactor_clean.hpp"

namespace torsion::testing {

// Thrown by the helpers below after they recorded a test failure.
class ResultCheckFailed : public std::runtime_error {
 public:
  explicit ResultCheckFailed(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

[[noreturn]] inline void failResultCheck(const SourceLocation& where, const std::string& message) {
  ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << message;
  throw ResultCheckFailed(message + " (recorded as a test failure)");
}

// Why `d` has no result now, for messages.
template <class T>
std::string whyNoResult(const Deferred<T>& d) {
  if (!d.called()) return "it has not fired";
  if (d.paused()) return "it fired but its chain is paused (waiting on another Deferred?)";
  return "it fired but its chain is running";
}

// Takes the current result of `d`, which must have one (hasResult()).
template <class T>
Result<T> takeResult(Deferred<T>& d, const char* helper, const SourceLocation& where) {
  // Held by a shared_ptr so that a callback which (against hasResult()) did not run at once
  // cannot write into a dead frame later.
  auto out = std::make_shared<std::optional<Result<T>>>();
  try {
    d.addBoth([out](Result<T> r) { out->emplace(std::move(r)); });
  } catch (const std::logic_error& e) {
    failResultCheck(
        where, std::string(helper) + ": cannot add a callback to this Deferred (" + e.what() + ")");
  }
  if (!out->has_value()) {
    failResultCheck(where, std::string(helper) + ": the Deferred did not run a callback at once");
  }
  return std::move(**out);
}

template <class... E>
std::string typeList() {
  std::string names;
  ((names += (names.empty() ? "" : " or ") + demangledName(typeid(E))), ...);
  return names;
}

}  // namespace detail

// The value of a Deferred that already succeeded (trial's successResultOf). Fails the test if
// it has no result yet or failed. Takes the result (see above).
template <class T>
T successResultOf(Deferred<T> d, SourceLocation where = SourceLocation::current()) {
  if (!d) detail::failResultCheck(where, "successResultOf: empty Deferred handle");
  if (!d.hasResult()) {
    detail::failResultCheck(where, "successResultOf: expected a success result, found no result: " +
                                       detail::whyNoResult(d));
  }
  Result<T> r = detail::takeResult(d, "successResultOf", where);
  if (!r.ok()) {
    detail::failResultCheck(where, "successResultOf: expected a success result, found a failure: " +
                                       r.failure().describe());
  }
  if constexpr (!std::is_void_v<T>) return std::move(r).value();
}

// The Failure of a Deferred that already failed (trial's failureResultOf). With types, the
// failure must wrap one of E... Fails the test if it has no result, succeeded, or failed with
// another type. Takes the result (see above), in every case where there is one.
template <class... E, class T>
Failure failureResultOf(Deferred<T> d, SourceLocation where = SourceLocation::current()) {
  if (!d) detail::failResultCheck(where, "failureResultOf: empty Deferred handle");
  if (!d.hasResult()) {
    detail::failResultCheck(where, "failureResultOf: expected a failure result, found no result: " +
                                       detail::whyNoResult(d));
  }
  Result<T> r = detail::takeResult(d, "failureResultOf", where);
  if (r.ok()) {
    detail::failResultCheck(where, "failureResultOf: expected a failure result, found a success");
  }
  Failure f = std::move(r).failure();
  if constexpr (sizeof...(E) > 0) {
    if (!f.template check<E...>()) {
      detail::failResultCheck(where, "failureResultOf: expected a failure of type " +
                                         detail::typeList<E...>() + ", found " + f.describe());
    }
  }
  return f;
}

// Checks that `d` has no result yet (trial's assertNoResult): it has not fired, or its chain
// waits on another Deferred. Adds nothing to the chain when that holds.
template <class T>
void assertNoResult(Deferred<T> d, SourceLocation where = SourceLocation::current()) {
  if (!d) detail::failResultCheck(where, "assertNoResult: empty Deferred handle");
  if (!d.hasResult()) return;
  if (d.failed()) {
    Result<T> r = detail::takeResult(d, "assertNoResult", where);
    detail::failResultCheck(where, "assertNoResult: expected no result, found a failure: " +
                                       (r.ok() ? std::string("?") : r.failure().describe()));
  }
  detail::failResultCheck(where, "assertNoResult: expected no result, found a success");
}

// EXPECT_TRUE(reactorIsClean(check)): passes when the reactor watched by `check` holds
// nothing the test left behind; otherwise the message lists what it holds.
inline ::testing::AssertionResult reactorIsClean(const ReactorCleanCheck& check) {
  std::string report = check.report();
  if (report.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << report;
}

}  // namespace torsion::testing
