// Plugins: what `torsiond PLUGIN [options]` can run (Twisted's IServiceMaker plugins of
// twisted/plugins, with CLI11 instead of usage.Options).
//
// A plugin is a ServiceMaker: a name (the subcommand), a one-line description (listed by
// `torsiond --help`), its options (declared on a CLI11 subcommand, shown by
// `torsiond PLUGIN --help`) and makeService(), which builds the plugin's service tree from the
// parsed options. torsiond puts that tree under its Application, starts it, and runs the
// reactor.
//
//   class HelloMaker : public ServiceMaker {
//    public:
//     std::string name() const override { return "hello"; }
//     std::string description() const override { return "Greets every client"; }
//     void addOptions(CLI::App& cmd) override {
//       cmd.add_option("-p,--port", listen_, "endpoint to listen on")->capture_default_str();
//     }
//     std::shared_ptr<Service> makeService(PluginContext& ctx) override {
//       return std::make_shared<StreamServerEndpointService>(ctx.serverEndpoint(listen_),
//                                                            Factory::forProtocol<Hello>());
//     }
//    private:
//     std::string listen_ = "tcp:8000";
//   };
//
// External plugins are shared libraries on TORSION_PLUGIN_PATH (a colon-separated list of
// directories; every "*.so" file in them is loaded). Each defines the one C entry point
//
//   TORSION_PLUGIN(registry) { registry.add(std::make_unique<HelloMaker>()); }
//
// which torsiond calls once after dlopen(). The library is built against the same torsion
// headers as torsiond (the ABI is C++: same compiler, same torsion version); torsiond exports
// its torsion symbols for it, so a plugin does not link libtorsion itself.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/app/service.hpp"
#include "torsion/core/errors.hpp"

namespace CLI {
class App;
}

namespace torsion {
class Reactor;
class IReactorNet;
class IStreamServerEndpoint;
class IStreamClientEndpoint;
}  // namespace torsion

namespace torsion::app {

// A bad command line or option value found by a plugin after parsing: torsiond prints
// "torsiond: error: <what>" and exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A plugin library that cannot be loaded: what() names the file and the cause.
class PluginLoadError : public Error {
 public:
  using Error::Error;
};

// What makeService() builds with.
struct PluginContext {
  Reactor& reactor;
  IReactorNet& net;
  // torsiond --workers N > 1: several processes listen on the same ports (SO_REUSEPORT).
  bool reusePort = false;

  // serverFromString(net, description), with the port shared among workers when reusePort.
  // A bad description throws UsageError naming the part that is wrong.
  std::shared_ptr<IStreamServerEndpoint> serverEndpoint(std::string_view description) const;
  // clientFromString(net, description); a bad description throws UsageError.
  std::shared_ptr<IStreamClientEndpoint> clientEndpoint(std::string_view description) const;
};

class ServiceMaker {
 public:
  virtual ~ServiceMaker();
  // The subcommand: lower case, no spaces ("web", "portforward").
  virtual std::string name() const = 0;
  // One line for `torsiond --help`.
  virtual std::string description() const = 0;
  // Declares the options on `command` (the plugin's subcommand); parsed values land in the
  // maker's members. Called once, before parsing. Default: no options.
  virtual void addOptions(CLI::App& command);
  // Builds the service tree from the parsed options. Throws UsageError for a bad value or
  // combination; anything else it throws is reported as a failure to start.
  virtual std::shared_ptr<Service> makeService(PluginContext& context) = 0;
};

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Adds a plugin. Throws UsageError when one with the same name exists (the message names
  // it and where each came from).
  void add(std::unique_ptr<ServiceMaker> maker);
  // The plugin with this name, or null.
  ServiceMaker* find(std::string_view name) const;
  // Every plugin, sorted by name.
  std::vector<ServiceMaker*> plugins() const;

  // dlopen()s `path` and calls its entry point. Throws PluginLoadError. The library stays
  // loaded for the life of the process (its makers and the code they point to must).
  void loadLibrary(const std::string& path);
  // loadLibrary() for every "*.so" in each directory of a colon-separated `searchPath`, in
  // name order; missing directories are skipped. Throws the first PluginLoadError.
  void loadSearchPath(std::string_view searchPath);

 private:
  struct Entry {
    std::unique_ptr<ServiceMaker> maker;
    std::string origin;  // "built-in" or the library's path
  };
  std::vector<Entry> entries_;
  std::string loading_;  // the library being loaded, while its entry point runs
};

// Adds the plugins that ship with torsion (wire, portforward, socks, ...).
void addBuiltinPlugins(PluginRegistry& registry);

// The version of the plugin entry point's contract; a library built for another version is
// refused. Bumped whenever ServiceMaker, PluginContext or PluginRegistry change.
inline constexpr int kPluginAbiVersion = 1;

}  // namespace torsion::app

// The entry point's name and signature (C linkage so dlsym finds it by this name).
extern "C" {
using torsion_plugin_entry_fn = int (*)(torsion::app::PluginRegistry* registry);
}
#define TORSION_PLUGIN_ENTRY_NAME "torsion_plugin_entry"

// Defines the entry point: TORSION_PLUGIN(registry) { registry.add(...); }. The entry point
// returns the ABI version the library was built with: torsiond first calls it with a null
// registry to read the version (and refuses a mismatch), then with the registry.
#define TORSION_PLUGIN(registry)                                                \
  static void torsion_plugin_register_(torsion::app::PluginRegistry& registry); \
  extern "C" __attribute__((visibility("default"))) int torsion_plugin_entry(   \
      torsion::app::PluginRegistry* r) {                                        \
    if (r != nullptr) {                                                         \
      torsion_plugin_register_(*r);                                             \
    }                                                                           \
    return torsion::app::kPluginAbiVersion;                                     \
  }                                                                             \
  static void torsion_plugin_register_(torsion::app::PluginRegistry& registry)
