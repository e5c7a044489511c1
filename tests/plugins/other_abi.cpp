// A plugin library built for another plugin ABI version: its entry point answers 999 and
// must not be called with a registry.
#include <cstdlib>

namespace torsion::app {
class PluginRegistry;
}

extern "C" __attribute__((visibility("default"))) int torsion_plugin_entry(
    torsion::app::PluginRegistry* registry) {
  if (registry != nullptr) {
    std::abort();  // a torsiond that registers an incompatible library is wrong
  }
  return 999;
}
