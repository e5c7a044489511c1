// Must not compile: callback() takes a value, never a Deferred (Twisted item 3).
#include "torsion/defer/deferred.hpp"

void misuse() {
  torsion::Deferred<int> d;
  torsion::Deferred<int> other;
  d.callback(other);
}
