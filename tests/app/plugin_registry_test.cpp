// PluginRegistry: names are unique (an error names both origins), plugins() is sorted, and
// libraries are loaded through the one entry point or refused with an error naming the file.
// The libraries are built by tests/CMakeLists.txt from tests/plugins/ into
// APP_TEST_PLUGIN_DIR/<dir>/<name>.so; this binary exports torsion's symbols for them, as
// torsiond does.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "app/runner_support.hpp"
#include "torsion/app/plugin.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/network.hpp"

#ifndef APP_TEST_PLUGIN_DIR
#error "tests/CMakeLists.txt defines APP_TEST_PLUGIN_DIR"
#endif

namespace torsion::app {
namespace {

using test::TempDir;
using test::writeFile;

const std::string kPluginDir = APP_TEST_PLUGIN_DIR;

std::string library(const std::string& dirAndName) { return kPluginDir + "/" + dirAndName; }

class FakeMaker final : public ServiceMaker {
 public:
  explicit FakeMaker(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return "fake " + name_; }
  std::shared_ptr<Service> makeService(PluginContext&) override {
    return std::make_shared<Service>();
  }

 private:
  std::string name_;
};

std::vector<std::string> namesOf(const PluginRegistry& registry) {
  std::vector<std::string> names;
  for (ServiceMaker* maker : registry.plugins()) names.push_back(maker->name());
  return names;
}

// The message of the exception of type E that `f` throws.
template <class E, class F>
std::string errorOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "threw nothing";
  return {};
}

TEST(PluginRegistry, findsPluginsByName) {
  PluginRegistry registry;
  auto maker = std::make_unique<FakeMaker>("web");
  ServiceMaker* web = maker.get();
  registry.add(std::move(maker));
  EXPECT_EQ(registry.find("web"), web);
  EXPECT_EQ(registry.find("we"), nullptr);
  EXPECT_EQ(registry.find(""), nullptr);
}

TEST(PluginRegistry, pluginsAreSortedByName) {
  PluginRegistry registry;
  for (const char* name : {"socks", "ftp", "wire", "dns", "portforward"}) {
    registry.add(std::make_unique<FakeMaker>(name));
  }
  EXPECT_EQ(namesOf(registry),
            (std::vector<std::string>{"dns", "ftp", "portforward", "socks", "wire"}));
}

TEST(PluginRegistry, aDuplicateNameIsRefusedNamingItAndBothOrigins) {
  PluginRegistry registry;
  registry.add(std::make_unique<FakeMaker>("web"));
  const std::string what =
      errorOf<UsageError>([&] { registry.add(std::make_unique<FakeMaker>("web")); });
  EXPECT_NE(what.find("'web'"), std::string::npos) << what;
  EXPECT_NE(what.find("built-in and built-in"), std::string::npos) << what;
  EXPECT_EQ(registry.plugins().size(), 1u) << "the first one stays";
}

TEST(PluginRegistry, aNullPluginIsRefused) {
  PluginRegistry registry;
  EXPECT_THROW(registry.add(nullptr), std::invalid_argument);
}

TEST(PluginRegistry, builtinPluginsAreWirePortforwardAndSocks) {
  PluginRegistry registry;
  addBuiltinPlugins(registry);
  const auto names = namesOf(registry);
  for (const char* name : {"portforward", "socks", "wire"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (ServiceMaker* maker : registry.plugins()) {
    EXPECT_FALSE(maker->description().empty()) << maker->name();
    EXPECT_EQ(maker->description().find('\n'), std::string::npos) << "one line: " << maker->name();
  }
}

// ---- libraries ---------------------------------------------------------------------------

TEST(PluginRegistry, loadLibraryCallsTheEntryPoint) {
  PluginRegistry registry;
  registry.loadLibrary(library("good/good.so"));
  ServiceMaker* maker = registry.find("good");
  ASSERT_NE(maker, nullptr);
  EXPECT_EQ(maker->description(), "Test plugin good from a library");
}

TEST(PluginRegistry, aDuplicateFromALibraryNamesTheLibraryAndBuiltIn) {
  PluginRegistry registry;
  registry.add(std::make_unique<FakeMaker>("good"));
  const std::string path = library("good/good.so");
  const std::string what = errorOf<PluginLoadError>([&] { registry.loadLibrary(path); });
  EXPECT_NE(what.find("'good'"), std::string::npos) << what;
  EXPECT_NE(what.find("built-in and " + path), std::string::npos) << what;
  EXPECT_EQ(registry.find("good")->description(), "fake good") << "the built-in one stays";
}

TEST(PluginRegistry, aDuplicateBetweenTwoLibrariesNamesBoth) {
  PluginRegistry registry;
  registry.loadLibrary(library("good/good.so"));
  const std::string copy = library("dup/good_again.so");
  const std::string what = errorOf<PluginLoadError>([&] { registry.loadLibrary(copy); });
  EXPECT_NE(what.find(library("good/good.so") + " and " + copy), std::string::npos) << what;
}

TEST(PluginRegistry, aFileThatIsNotALibraryIsAPluginLoadErrorNamingIt) {
  TempDir dir;
  const std::string path = dir / "text.so";
  writeFile(path, "this is not an ELF file\n");
  PluginRegistry registry;
  const std::string what = errorOf<PluginLoadError>([&] { registry.loadLibrary(path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginRegistry, aMissingFileIsAPluginLoadErrorNamingIt) {
  TempDir dir;
  const std::string path = dir / "absent.so";
  PluginRegistry registry;
  EXPECT_NE(errorOf<PluginLoadError>([&] { registry.loadLibrary(path); }).find(path),
            std::string::npos);
}

TEST(PluginRegistry, aLibraryWithoutTheEntryPointIsAPluginLoadErrorNamingItAndTheEntryPoint) {
  const std::string path = library("bad/no_entry.so");
  PluginRegistry registry;
  const std::string what = errorOf<PluginLoadError>([&] { registry.loadLibrary(path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_NE(what.find(TORSION_PLUGIN_ENTRY_NAME), std::string::npos) << what;
}

TEST(PluginRegistry, aLibraryForAnotherAbiIsRefusedNamingBothVersions) {
  const std::string path = library("abi/other_abi.so");
  PluginRegistry registry;
  const std::string what = errorOf<PluginLoadError>([&] { registry.loadLibrary(path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_NE(what.find("999"), std::string::npos) << what;
  EXPECT_NE(what.find(std::to_string(kPluginAbiVersion)), std::string::npos) << what;
}

TEST(PluginRegistry, loadSearchPathLoadsEverySoOfEveryDirectoryAndSkipsMissingOnes) {
  TempDir empty;
  PluginRegistry registry;
  registry.loadSearchPath("/nonexistent/torsion/plugins:" + library("good") +
                          "::" + empty.path().string() + ":" + library("more") + ":");
  EXPECT_EQ(namesOf(registry), (std::vector<std::string>{"good", "more"}));
}

TEST(PluginRegistry, loadSearchPathIgnoresFilesThatDoNotEndInSo) {
  TempDir dir;
  writeFile(dir / "README", "not a library");
  writeFile(dir / "notes.so.txt", "not a library either");
  writeFile(dir / ".so", "a name that is only the suffix");
  PluginRegistry registry;
  EXPECT_NO_THROW(registry.loadSearchPath(dir.path().string()));
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginRegistry, loadSearchPathThrowsForABadLibraryNamingIt) {
  PluginRegistry registry;
  const std::string what = errorOf<PluginLoadError>(
      [&] { registry.loadSearchPath(library("good") + ":" + library("bad")); });
  EXPECT_NE(what.find(library("bad/no_entry.so")), std::string::npos) << what;
}

TEST(PluginRegistry, anEmptySearchPathLoadsNothing) {
  PluginRegistry registry;
  registry.loadSearchPath("");
  registry.loadSearchPath(":::");
  EXPECT_TRUE(registry.plugins().empty());
}

TEST(PluginRegistry, aLoadedPluginsMakerBuildsAService) {
  PluginRegistry registry;
  registry.loadLibrary(library("good/good.so"));
  ServiceMaker* maker = registry.find("good");
  ASSERT_NE(maker, nullptr);
  Reactor reactor;
  PluginContext context{reactor, network(reactor)};
  const std::shared_ptr<Service> service = maker->makeService(context);
  ASSERT_NE(service, nullptr);
  EXPECT_FALSE(service->running());
}

}  // namespace
}  // namespace torsion::app
