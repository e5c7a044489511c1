// Small helpers shared by torsion's tests.
#pragma once

#include <optional>
#include <stdexcept>

#include "torsion/defer/deferred.hpp"

namespace torsion::test {

// The error tests throw when any error will do.
struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

// What a Deferred<void> did: fired, and with which failure if any.
struct Outcome {
  bool fired = false;
  std::optional<Failure> failure;
};

// Records d's result into o (o must outlive d's firing).
inline void track(Deferred<void> d, Outcome& o) {
  d.addCallbacks([&o] { o.fired = true; },
                 [&o](const Failure& f) {
                   o.fired = true;
                   o.failure = f;
                 });
}

}  // namespace torsion::test
