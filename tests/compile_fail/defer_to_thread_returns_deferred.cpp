// Must not compile: f runs on a pool thread, where no Deferred may be made or touched.
#include "torsion/core/threads.hpp"

void misuse(torsion::Reactor& reactor) {
  torsion::deferToThread(reactor, [] { return torsion::succeed(1); });
}
