// ReactorCleanCheck: did a test leave timed calls or descriptors behind in a real Reactor?
// (trial's DirtyReactorAggregateError.)
//
// A test that runs a real torsion::Reactor should end with nothing of its own still pending:
// a forgotten timer or a connection nobody closed makes the next test (or the program) behave
// differently, and hides leaks. Take the snapshot once the reactor is set up, before the
// test's work, and check at the end:
//
//   torsion::Reactor reactor;
//   torsion::testing::ReactorCleanCheck check(reactor);
//   ... run the test ...
//   EXPECT_TRUE(torsion::testing::reactorIsClean(check));   // gtest.hpp; or check.clean()
//
// What was pending at the snapshot (the reactor's own waker, a layer's own timers) does not
// count. The check only reads the reactor (getDelayedCalls, getReaders, getWriters); cleanUp()
// then removes what is left, as trial does after reporting, so that one dirty test does not
// spoil the next. The reactor must outlive the check. Reactor thread only.
#pragma once

#include <string>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/core/time.hpp"

namespace torsion::testing {

// Thrown by ReactorCleanCheck::verify(); what() is report().
class DirtyReactorError : public Error {
 public:
  using Error::Error;
};

class ReactorCleanCheck {
 public:
  // Snapshots the calls, readers and writers the reactor has now.
  explicit ReactorCleanCheck(Reactor& reactor);

  // Nothing pending beyond the snapshot.
  bool clean() const;
  // "" when clean; otherwise a readable list of the leftover timed calls (when each is due)
  // and descriptors (reader or writer, fd, type).
  std::string report() const;
  // Throws DirtyReactorError(report()) unless clean.
  void verify() const;
  // Cancels the leftover timed calls and removes the leftover readers and writers (without
  // closing them); returns what report() said before.
  std::string cleanUp();

 private:
  std::vector<DelayedCall> leftoverCalls() const;
  std::vector<IReadDescriptor*> leftoverReaders() const;
  std::vector<IWriteDescriptor*> leftoverWriters() const;

  Reactor& reactor_;
  std::vector<DelayedCall> calls_;
  std::vector<IReadDescriptor*> readers_;
  std::vector<IWriteDescriptor*> writers_;
};

}  // namespace torsion::testing
