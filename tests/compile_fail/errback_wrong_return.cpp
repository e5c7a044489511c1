// Must not compile: an errback on Deferred<int> returning a std::string cannot recover.
#include <string>

#include "torsion/defer/deferred.hpp"

void misuse() {
  torsion::Deferred<int> d;
  d.addErrback([](torsion::Failure) { return std::string("x"); });
}
