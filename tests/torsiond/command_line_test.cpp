// torsiond's command line as a user meets it: one line on stderr and exit status 2 for a bad
// option, an unknown or missing plugin, a bad endpoint string or a plugin library that cannot
// be loaded; --help, PLUGIN --help, --version and --help-reactors on stdout with status 0;
// plugins found on TORSION_PLUGIN_PATH.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "torsion/app/plugin.hpp"
#include "torsiond/torsiond_support.hpp"

namespace torsiond::test {
namespace {

// Runs torsiond to its end in a fresh directory (so that nothing it might write lands in the
// build tree).
struct Finished {
  int status;
  std::string out;
  std::string err;
};

Finished run(const std::vector<std::string>& args, RunOptions options = {}) {
  TempDir dir;
  if (options.cwd.empty()) options.cwd = dir.path().string();
  Torsiond t(args, options);
  const int status = t.wait();
  return {status, t.out(), t.err()};
}

enum class Stdout { empty, mayHoldTheLog };

// Status 2 and one line on stderr, "torsiond: error: ..." naming `what`. Errors found while
// parsing leave stdout empty; those found when the plugin builds its service come after
// logging started, and with -n the log (which records them too) is stdout.
void expectUsageError(const Finished& f, const std::string& what, Stdout out = Stdout::empty) {
  EXPECT_EQ(f.status, 2) << "stderr: " << f.err;
  if (out == Stdout::empty) {
    EXPECT_EQ(f.out, "");
  }
  const std::string line = oneLine(f.err);
  EXPECT_FALSE(line.empty()) << "not exactly one line:\n" << f.err;
  EXPECT_EQ(line.rfind("torsiond: error: ", 0), 0u) << line;
  EXPECT_TRUE(contains(line, what)) << "'" << what << "' is not named in: " << line;
}

TEST(TorsiondCommandLine, anUnknownOptionIsNamed) {
  expectUsageError(run({"--bogus", "wire", "--echo", "unix:echo.sock"}), "--bogus");
}

TEST(TorsiondCommandLine, anUnknownPluginIsNamed) {
  const Finished f = run({"-n", "nosuch"});
  expectUsageError(f, "nosuch");
  EXPECT_TRUE(contains(f.err, "unknown plugin")) << f.err;
}

TEST(TorsiondCommandLine, aMissingPluginIsReported) {
  expectUsageError(run({"-n", "--pidfile", ""}), "no plugin");
}

TEST(TorsiondCommandLine, anUnknownPluginOptionIsNamed) {
  expectUsageError(run({"-n", "portforward", "--frobnicate"}), "--frobnicate");
}

TEST(TorsiondCommandLine, aBadEndpointStringIsNamed) {
  expectUsageError(run({"-n", "--pidfile", "", "wire", "--echo", "tcp:notaport"}), "notaport",
                   Stdout::mayHoldTheLog);
}

TEST(TorsiondCommandLine, anUnknownEndpointTypeIsNamed) {
  expectUsageError(run({"-n", "--pidfile", "", "wire", "--echo", "carrierpigeon:7"}),
                   "carrierpigeon", Stdout::mayHoldTheLog);
}

TEST(TorsiondCommandLine, aPluginRefusingItsOptionsIsAUsageError) {
  // wire with no service at all: makeService() throws UsageError.
  expectUsageError(run({"-n", "--pidfile", "", "wire"}), "--echo", Stdout::mayHoldTheLog);
}

TEST(TorsiondCommandLine, aBadUmaskIsNamed) {
  expectUsageError(run({"-n", "--umask", "999", "wire", "--echo", "unix:e.sock"}), "999");
}

TEST(TorsiondCommandLine, helpListsEveryBuiltInPluginWithItsDescription) {
  const Finished f = run({"--help"});
  EXPECT_EQ(f.status, 0);
  EXPECT_EQ(f.err, "");
  torsion::app::PluginRegistry registry;
  torsion::app::addBuiltinPlugins(registry);
  ASSERT_FALSE(registry.plugins().empty());
  for (torsion::app::ServiceMaker* maker : registry.plugins()) {
    // The name and its description on one line, as twistd --help lists its commands.
    bool listed = false;
    for (const std::string& line : linesOf(f.out)) {
      listed = listed || (contains(line, maker->name()) && contains(line, maker->description()));
    }
    EXPECT_TRUE(listed) << maker->name() << " / " << maker->description() << " not in:\n" << f.out;
  }
}

TEST(TorsiondCommandLine, portforwardHelpShowsItsOptions) {
  const Finished f = run({"portforward", "--help"});
  EXPECT_EQ(f.status, 0);
  EXPECT_EQ(f.err, "");
  for (const char* option : {"-p,--port", "-h,--host", "-d,--dest_port", "--listen", "--connect"}) {
    EXPECT_TRUE(contains(f.out, option)) << option << " not in:\n" << f.out;
  }
}

TEST(TorsiondCommandLine, versionIsOneLineWithTheProjectsVersion) {
  const Finished f = run({"--version"});
  EXPECT_EQ(f.status, 0);
  EXPECT_EQ(f.err, "");
  EXPECT_EQ(f.out, std::string("torsiond (torsion) ") + TORSION_EXPECTED_VERSION + "\n");
}

TEST(TorsiondCommandLine, helpReactorsListsEpollAndPoll) {
  const Finished f = run({"--help-reactors"});
  EXPECT_EQ(f.status, 0);
  EXPECT_EQ(f.err, "");
  const auto lines = linesOf(f.out);
  ASSERT_EQ(lines.size(), 2u) << f.out;
  EXPECT_TRUE(contains(lines[0], "epoll")) << f.out;
  EXPECT_TRUE(contains(lines[1], "poll")) << f.out;
}

// ---- plugins from TORSION_PLUGIN_PATH -----------------------------------------------------

TEST(TorsiondCommandLine, helpListsPluginsFromThePluginPath) {
  const Finished f = run({"--help"}, pluginPath("/nonexistent/dir:" + kTestPluginDir + "/hang"));
  EXPECT_EQ(f.status, 0) << f.err;
  EXPECT_TRUE(contains(f.out, "hang")) << f.out;
  EXPECT_TRUE(contains(f.out, "a service whose stop never finishes")) << f.out;
  EXPECT_TRUE(contains(f.out, "wire")) << "the built-in plugins are still there:\n" << f.out;
}

TEST(TorsiondCommandLine, aLibraryWithoutTheEntryPointIsAnErrorNamingIt) {
  const Finished f = run({"--help"}, pluginPath(kTestPluginDir + "/bad"));
  expectUsageError(f, kTestPluginDir + "/bad/no_entry.so");
  EXPECT_TRUE(contains(f.err, TORSION_PLUGIN_ENTRY_NAME)) << f.err;
}

TEST(TorsiondCommandLine, aFileThatIsNotALibraryIsAnErrorNamingIt) {
  TempDir plugins;
  writeFile(plugins / "broken.so", "not an ELF file\n");
  const Finished f =
      run({"-n", "wire", "--echo", "unix:e.sock"}, pluginPath(plugins.path().string()));
  expectUsageError(f, (plugins / "broken.so").string());
}

TEST(TorsiondCommandLine, twoLibrariesAddingOnePluginNameIsAnErrorNamingBoth) {
  const Finished f =
      run({"--help"}, pluginPath(kTestPluginDir + "/good:" + kTestPluginDir + "/dup"));
  expectUsageError(f,
                   kTestPluginDir + "/good/good.so and " + kTestPluginDir + "/dup/good_again.so");
}

#ifdef FIBONACCI_PLUGIN_DIR
TEST(TorsiondCommandLine, theFibonacciExamplePluginIsListedAndShowsItsOptions) {
  const RunOptions options = pluginPath(FIBONACCI_PLUGIN_DIR);
  const Finished help = run({"--help"}, options);
  EXPECT_EQ(help.status, 0) << help.err;
  EXPECT_TRUE(contains(help.out, "fibonacci")) << help.out;
  const Finished own = run({"fibonacci", "--help"}, options);
  EXPECT_EQ(own.status, 0) << own.err;
  EXPECT_TRUE(contains(own.out, "--port")) << own.out;
  EXPECT_TRUE(contains(own.out, "tcp:8888")) << "the default is shown:\n" << own.out;
}
#endif

}  // namespace
}  // namespace torsiond::test
