// A test plugin for the torsiond tests: `torsiond -n hang` runs a service whose stopService()
// never finishes, so that a graceful stop hangs and only a second SIGTERM/SIGINT ends the
// process. It logs "hang: stopService called" when the stop begins, for the test to wait on.
#include <memory>
#include <optional>
#include <string>

#include "torsion/app/plugin.hpp"
#include "torsion/log/logger.hpp"

namespace {

class HangService final : public torsion::app::Service {
 public:
  torsion::Deferred<void> stopService() override {
    Service::stopService();
    static const torsion::Logger log("tests.hang");
    log.info("hang: stopService called, it will never finish");
    pending_.emplace();
    return *pending_;
  }

 private:
  std::optional<torsion::Deferred<void>> pending_;
};

class HangMaker final : public torsion::app::ServiceMaker {
 public:
  std::string name() const override { return "hang"; }
  std::string description() const override {
    return "Test plugin: a service whose stop never finishes";
  }
  std::shared_ptr<torsion::app::Service> makeService(torsion::app::PluginContext&) override {
    return std::make_shared<HangService>();
  }
};

}  // namespace

TORSION_PLUGIN(registry) { registry.add(std::make_unique<HangMaker>()); }
