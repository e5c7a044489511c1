// Must not compile: addCallbacks' errback must produce what its callback produces.
#include <string>

#include "torsion/defer/deferred.hpp"

void misuse() {
  torsion::Deferred<int> d;
  d.addCallbacks([](int v) { return std::to_string(v); }, [](torsion::Failure) { return 0.5; });
}
