// torsion::Result<T>: a value or a Failure (what addBoth callbacks receive).
//
// Twisted passes "either a value or a Failure" to addBoth callbacks and builds
// DeferredList results from (success, result) pairs; Result<T> is that, typed. A callback
// or errback may also return a Result<U> to decide at run time whether the chain continues
// on the success or the failure path.
#pragma once

#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "torsion/defer/failure.hpp"

namespace torsion {

template <class T>
class Result {
  static_assert(!std::is_reference_v<T>, "Result<T> holds values; T may not be a reference");
  static_assert(
      !std::is_same_v<std::decay_t<T>, Failure>,
      "Result<Failure> is ambiguous: a Result already holds a Failure on its failure path");

 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Failure failure) : v_(std::in_place_index<1>, std::move(failure)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // The value; rethrows the failure's exception if this holds a Failure.
  T& value() & {
    if (!ok()) std::get<1>(v_).raiseException();
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) std::get<1>(v_).raiseException();
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) std::get<1>(v_).raiseException();
    return std::move(std::get<0>(v_));
  }

  // The failure. Precondition: !ok().
  const Failure& failure() const& { return std::get<1>(v_); }
  Failure&& failure() && { return std::move(std::get<1>(v_)); }

 private:
  std::variant<T, Failure> v_;
};

template <>
class Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : failure_(std::move(failure)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return !failure_.exception(); }
  explicit operator bool() const noexcept { return ok(); }
  // Rethrows the failure's exception if this holds a Failure.
  void value() const {
    if (!ok()) failure_.raiseException();
  }
  // The failure. Precondition: !ok().
  const Failure& failure() const& { return failure_; }
  Failure&& failure() && { return std::move(failure_); }

 private:
  // A Failure with no exception stands for success (no std::optional: g++ 12 reports false
  // -Wmaybe-uninitialized warnings through it).
  Failure failure_{Failure::kNone};
};

}  // namespace torsion
