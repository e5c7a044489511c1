// The built-in plugins parsed from a command line and built on a MemoryReactor: the services
// they make listen where the options say; bad values are usage errors.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "torsion/app/plugin.hpp"
#include "torsion/app/runner.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/testing/memory_reactor.hpp"

namespace torsion::app {
namespace {

class BuiltinPlugins : public ::testing::Test {
 protected:
  void SetUp() override { addBuiltinPlugins(registry); }

  // Parses `torsiond -n ARGS...`; returns the plugin chosen (fails the test on an error).
  ServiceMaker* parse(std::vector<const char*> args) {
    std::vector<const char*> argv{"torsiond", "-n"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ostringstream out, err;
    auto outcome = parseCommandLine(static_cast<int>(argv.size()), argv.data(), registry, out, err);
    EXPECT_FALSE(outcome.exitStatus) << err.str();
    return outcome.options.plugin;
  }

  std::shared_ptr<Service> build(ServiceMaker* maker) {
    PluginContext context{reactor, memory};
    auto service = maker->makeService(context);
    service->privilegedStartService();
    service->startService();
    return service;
  }

  PluginRegistry registry;
  Reactor reactor{Reactor::Options{.poller = "", .installSignalHandlers = false}};
  testing::MemoryReactor memory;
};

TEST_F(BuiltinPlugins, everyBuiltinIsListed) {
  std::vector<std::string> names;
  for (auto* p : registry.plugins()) names.push_back(p->name());
  EXPECT_EQ(names, (std::vector<std::string>{"portforward", "socks", "web", "wire"}));
}

TEST_F(BuiltinPlugins, webListensOnEveryEndpointGiven) {
  auto* web = parse({"web", "--listen", "tcp:8081:interface=127.0.0.1", "--listen", "tcp:8082",
                     "--path", ".", "--add-header", "X-A: b", "--mime-type", "text/plain"});
  ASSERT_NE(web, nullptr);
  auto service = build(web);
  ASSERT_EQ(memory.tcpServers.size(), 2u);
  EXPECT_EQ(memory.tcpServers[0].port, 8081);
  EXPECT_EQ(memory.tcpServers[0].interface, "127.0.0.1");
  EXPECT_EQ(memory.tcpServers[1].port, 8082);
  EXPECT_EQ(memory.tcpServers[0].factory, memory.tcpServers[1].factory) << "one Site";
}

TEST_F(BuiltinPlugins, webListensOn8080ByDefault) {
  auto service = build(parse({"web"}));
  ASSERT_EQ(memory.tcpServers.size(), 1u);
  EXPECT_EQ(memory.tcpServers[0].port, 8080);
}

TEST_F(BuiltinPlugins, webRefusesABadExtraHeader) {
  auto* web = parse({"web", "--add-header", "no colon here"});
  PluginContext context{reactor, memory};
  EXPECT_THROW(web->makeService(context), UsageError);
  web = parse({"web", "--add-header", "Bad Name: v"});
  EXPECT_THROW(web->makeService(context), UsageError);
}

TEST_F(BuiltinPlugins, portforwardTakesAPortNumberOrAnEndpoint) {
  auto service = build(parse({"portforward", "-p", "7000", "-h", "127.0.0.1", "-d", "7001"}));
  ASSERT_EQ(memory.tcpServers.size(), 1u);
  EXPECT_EQ(memory.tcpServers[0].port, 7000);
  EXPECT_EQ(memory.tcpServers[0].interface, "");
  auto again = build(parse({"portforward", "-p", "tcp:7002:interface=127.0.0.1", "-d", "7001"}));
  EXPECT_EQ(memory.tcpServers.at(1).interface, "127.0.0.1");
}

TEST_F(BuiltinPlugins, portforwardRefusesABadDestinationPort) {
  auto* maker = parse({"portforward", "-d", "70000"});
  PluginContext context{reactor, memory};
  EXPECT_THROW(maker->makeService(context), UsageError);
}

TEST_F(BuiltinPlugins, socksListensOnItsInterfaceAndChecksUsers) {
  auto service = build(parse({"socks", "-i", "127.0.0.1", "-p", "1081", "--user", "alice:pw"}));
  ASSERT_EQ(memory.tcpServers.size(), 1u);
  EXPECT_EQ(memory.tcpServers[0].port, 1081);
  EXPECT_EQ(memory.tcpServers[0].interface, "127.0.0.1");
  auto* bad = parse({"socks", "--user", "nopassword"});
  PluginContext context{reactor, memory};
  EXPECT_THROW(bad->makeService(context), UsageError);
}

TEST_F(BuiltinPlugins, wireNeedsAtLeastOneService) {
  PluginContext context{reactor, memory};
  EXPECT_THROW(parse({"wire"})->makeService(context), UsageError);
  auto service = build(parse({"wire", "--echo", "tcp:7007", "--daytime", "tcp:1313"}));
  EXPECT_EQ(memory.tcpServers.size(), 2u);
}

}  // namespace
}  // namespace torsion::app
