// A test plugin library: TORSION_PLUGIN adds one plugin named TEST_PLUGIN_NAME (a compile
// definition, so one source gives several libraries). Loaded by plugin_registry_test.cpp.
#include <memory>
#include <string>

#include "torsion/app/plugin.hpp"

#ifndef TEST_PLUGIN_NAME
#error "define TEST_PLUGIN_NAME"
#endif

namespace {

class NamedMaker final : public torsion::app::ServiceMaker {
 public:
  std::string name() const override { return TEST_PLUGIN_NAME; }
  std::string description() const override {
    return std::string("Test plugin ") + TEST_PLUGIN_NAME + " from a library";
  }
  std::shared_ptr<torsion::app::Service> makeService(torsion::app::PluginContext&) override {
    return std::make_shared<torsion::app::Service>();
  }
};

}  // namespace

TORSION_PLUGIN(registry) { registry.add(std::make_unique<NamedMaker>()); }
