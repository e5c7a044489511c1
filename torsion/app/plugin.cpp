#include "torsion/app/plugin.hpp"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>

#include "torsion/app/builtin_plugins.hpp"
#include "torsion/net/endpoint_parser.hpp"
#include "torsion/net/endpoints.hpp"

namespace torsion::app {

// ---- PluginContext ----------------------------------------------------------------------

std::shared_ptr<IStreamServerEndpoint> PluginContext::serverEndpoint(
    std::string_view description) const {
  std::unique_ptr<IStreamServerEndpoint> endpoint;
  try {
    endpoint = serverFromString(net, description);
  } catch (const EndpointStringError& e) {
    throw UsageError(e.what());
  }
  if (reusePort) {
    if (auto* tcp = dynamic_cast<TCP4ServerEndpoint*>(endpoint.get())) {
      tcp->setReusePort(true);
    }
  }
  return endpoint;
}

std::shared_ptr<IStreamClientEndpoint> PluginContext::clientEndpoint(
    std::string_view description) const {
  try {
    return clientFromString(net, description);
  } catch (const EndpointStringError& e) {
    throw UsageError(e.what());
  }
}

// ---- ServiceMaker -----------------------------------------------------------------------

ServiceMaker::~ServiceMaker() = default;

void ServiceMaker::addOptions(CLI::App&) {}

// ---- PluginRegistry ---------------------------------------------------------------------

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() = default;

void PluginRegistry::add(std::unique_ptr<ServiceMaker> maker) {
  if (!maker) {
    throw std::invalid_argument("PluginRegistry::add: null plugin");
  }
  std::string origin = loading_.empty() ? std::string("built-in") : loading_;
  for (const auto& entry : entries_) {
    if (entry.maker->name() == maker->name()) {
      throw UsageError("two plugins are named '" + maker->name() + "' (" + entry.origin + " and " +
                       origin + ")");
    }
  }
  entries_.push_back(Entry{std::move(maker), std::move(origin)});
}

ServiceMaker* PluginRegistry::find(std::string_view name) const {
  for (const auto& entry : entries_) {
    if (entry.maker->name() == name) {
      return entry.maker.get();
    }
  }
  return nullptr;
}

std::vector<ServiceMaker*> PluginRegistry::plugins() const {
  std::vector<ServiceMaker*> all;
  for (const auto& entry : entries_) {
    all.push_back(entry.maker.get());
  }
  std::sort(all.begin(), all.end(),
            [](ServiceMaker* a, ServiceMaker* b) { return a->name() < b->name(); });
  return all;
}

void PluginRegistry::loadLibrary(const std::string& path) {
  // RTLD_NOW: a missing symbol is reported here, not at the first call of a plugin.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw PluginLoadError("cannot load plugin " + path + ": " + (why ? why : "dlopen failed"));
  }
  auto entry =
      reinterpret_cast<torsion_plugin_entry_fn>(::dlsym(handle, TORSION_PLUGIN_ENTRY_NAME));
  if (entry == nullptr) {
    ::dlclose(handle);
    throw PluginLoadError("cannot load plugin " + path +
                          ": no " TORSION_PLUGIN_ENTRY_NAME " (define it with TORSION_PLUGIN)");
  }
  int version = entry(nullptr);
  if (version != kPluginAbiVersion) {
    ::dlclose(handle);
    throw PluginLoadError("cannot load plugin " + path + ": built for plugin ABI " +
                          std::to_string(version) + ", this torsiond has " +
                          std::to_string(kPluginAbiVersion));
  }
  loading_ = path;
  try {
    entry(this);
  } catch (const std::exception& e) {
    loading_.clear();
    // The handle stays open: makers it added before throwing point into it.
    throw PluginLoadError("plugin " + path + " failed to register: " + e.what());
  }
  loading_.clear();
}

void PluginRegistry::loadSearchPath(std::string_view searchPath) {
  std::size_t start = 0;
  while (start <= searchPath.size()) {
    std::size_t end = searchPath.find(':', start);
    if (end == std::string_view::npos) {
      end = searchPath.size();
    }
    std::string dir(searchPath.substr(start, end - start));
    start = end + 1;
    if (dir.empty()) {
      continue;
    }
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      continue;
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name.size() > 3 && name.substr(name.size() - 3) == ".so") {
        names.emplace_back(name);
      }
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      loadLibrary(dir + "/" + name);
    }
  }
}

void addBuiltinPlugins(PluginRegistry& registry) {
  registry.add(makePortForwardPlugin());
  registry.add(makeSocksPlugin());
  registry.add(makeWebPlugin());
  registry.add(makeWirePlugin());
}

}  // namespace torsion::app
