// torsiond: the twin of Twisted's twistd. Everything is in torsion/app/runner.hpp.
#include "torsion/app/runner.hpp"

int main(int argc, char** argv) { return torsion::app::torsiondMain(argc, argv); }
