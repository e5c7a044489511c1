// Error types of the reactor layer, after twisted.internet.error.
//
// Every torsion error derives from torsion::Error, so that a caller can catch "anything
// torsion raised" in one place; each concrete type can be caught (or trapped from a
// Failure) on its own.
#pragma once

#include <stdexcept>
#include <string>

namespace torsion {

// Base of every error torsion raises.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// DelayedCall::cancel/reset/delay on a call that already ran.
class AlreadyCalled : public Error {
 public:
  AlreadyCalled() : Error("Tried to cancel an already-called event.") {}
};

// DelayedCall::cancel/reset/delay on a call that was cancelled.
class AlreadyCancelled : public Error {
 public:
  AlreadyCancelled() : Error("Tried to cancel an already-cancelled event.") {}
};

}  // namespace torsion
