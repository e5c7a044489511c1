// Uses an installed torsion: built by scripts/install-check with both find_package(torsion)
// and pkg-config, run, and its output compared with "x".
#include <iostream>
#include <stdexcept>

#include "torsion/defer/failure.hpp"

int main() {
  torsion::Failure failure(std::runtime_error("x"));
  std::cout << failure.getErrorMessage() << '\n';
  return 0;
}
