// torsion::Failure: an error travelling through a Deferred chain (Twisted's Failure).
//
// A Failure wraps a std::exception_ptr together with the place it was made (a
// SourceLocation), so that a log can say where an error came from. Failures are cheap
// to copy (they share the exception object) and never empty once constructed from an
// exception.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "torsion/core/source_location.hpp"

namespace torsion {

template <class T>
class Result;

// The readable (demangled) name of a type, e.g. "std::vector<int>".
std::string demangledName(const std::type_info& type);

class Failure {
 public:
  // Wraps the exception currently being handled (inside a catch block), like Twisted's
  // Failure() with no arguments. Outside a catch block it wraps std::bad_exception.
  static Failure current(SourceLocation where = SourceLocation::current());

  // Wraps an exception_ptr. A null pointer is replaced by std::bad_exception.
  explicit Failure(std::exception_ptr error, SourceLocation where = SourceLocation::current());

  // Wraps an exception object: Failure(ConnectionRefusedError()).
  template <class E, class = std::enable_if_t<std::is_base_of_v<std::exception, std::decay_t<E>>>>
  explicit Failure(E&& error, SourceLocation where = SourceLocation::current())
      : Failure(std::make_exception_ptr(std::forward<E>(error)), where) {}

  // True if the wrapped exception is (derived from) any of E...  (Twisted's check()).
  template <class... E>
  bool check() const {
    static_assert(sizeof...(E) > 0, "Failure::check<E...>() needs at least one exception type");
    return (matches<E>() || ...);
  }

  // Rethrows the wrapped exception unless it is one of E...  (Twisted's trap()). Inside an
  // errback this lets unexpected errors continue down the chain with their origin intact.
  template <class... E>
  void trap() const {
    if (!check<E...>()) raiseException();
  }

  // The wrapped exception as E, or nullptr if it is not an E.
  template <class E>
  const E* value() const {
    try {
      std::rethrow_exception(error_);
    } catch (const E& e) {
      return &e;  // the object lives as long as error_ does
    } catch (...) {
      return nullptr;
    }
  }

  const std::exception_ptr& exception() const noexcept { return error_; }

  // Rethrows the wrapped exception.
  [[noreturn]] void raiseException() const;

  // what() of a std::exception, or a description of a non-standard exception.
  std::string getErrorMessage() const;

  // The demangled dynamic type name of the exception, e.g. "torsion::CancelledError".
  std::string typeName() const;

  // Where this Failure was made.
  const SourceLocation& origin() const noexcept { return where_; }

  // "Type: message (at file:line in function)", for logs.
  std::string describe() const;

  friend bool operator==(const Failure& a, const Failure& b) noexcept {
    return a.error_ == b.error_;
  }

 private:
  friend class Result<void>;
  // A Failure without an exception, used only by Result<void> for "no failure".
  enum NoneTag { kNone };
  explicit Failure(NoneTag) noexcept {}

  template <class E>
  bool matches() const {
    try {
      std::rethrow_exception(error_);
    } catch (const E&) {
      return true;
    } catch (...) {
      return false;
    }
  }

  std::exception_ptr error_;
  SourceLocation where_;
};

}  // namespace torsion
