// Must not compile: deferToThread's f takes no arguments (capture what it needs).
#include "torsion/core/threads.hpp"

void misuse(torsion::Reactor& reactor) {
  torsion::deferToThread(reactor, [](int x) { return x; });
}
