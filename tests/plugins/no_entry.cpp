// A shared library that is not a plugin: it lacks the entry point TORSION_PLUGIN defines.
extern "C" __attribute__((visibility("default"))) int torsion_test_not_a_plugin() { return 42; }
