// Must not compile: the callback takes a std::string, the Deferred yields an int.
#include "torsion/defer/deferred.hpp"

void misuse() {
  torsion::Deferred<int> d;
  d.addCallback([](std::string s) { return s; });
}
