// Error types of torsion::defer, after twisted.internet.defer.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/defer/failure.hpp"

namespace torsion {

// A Deferred was cancelled (Deferred::cancel without a canceller that fired it).
class CancelledError : public Error {
 public:
  CancelledError() : Error("Deferred was cancelled") {}
};

// callback()/errback() on a Deferred that already fired.
class AlreadyCalledError : public Error {
 public:
  AlreadyCalledError() : Error("Deferred has already been called") {}
};

// Deferred::addTimeout expired (Twisted's defer.TimeoutError).
class TimeoutError : public Error {
 public:
  explicit TimeoutError(double seconds)
      : Error("Deferred timed out after " + formatSeconds(seconds) + " seconds"),
        seconds_(seconds) {}
  double seconds() const noexcept { return seconds_; }

 private:
  static std::string formatSeconds(double s);
  double seconds_;
};

// gatherResults and a DeferredList with fireOnOneErrback failed because member `index`
// failed with `subFailure`.
class FirstError : public Error {
 public:
  FirstError(Failure subFailure, std::size_t index);
  const Failure& subFailure() const noexcept { return subFailure_; }
  std::size_t index() const noexcept { return index_; }

 private:
  Failure subFailure_;
  std::size_t index_;
};

// race (and a fireOnOneCallback list) failed because every member failed; the members'
// failures, in input order.
class FailureGroup : public Error {
 public:
  explicit FailureGroup(std::vector<Failure> failures);
  const std::vector<Failure>& failures() const noexcept { return failures_; }

 private:
  std::vector<Failure> failures_;
};

// DeferredQueue::put on a full queue.
class QueueOverflow : public Error {
 public:
  QueueOverflow() : Error("DeferredQueue is full") {}
};

// DeferredQueue::get when `backlog` getters are already waiting.
class QueueUnderflow : public Error {
 public:
  QueueUnderflow() : Error("DeferredQueue has too many waiting getters") {}
};

}  // namespace torsion
