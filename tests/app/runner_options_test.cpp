// parseCommandLine(): torsiond's options and their defaults, a plugin's options parsed into
// its maker, help and version output, and the one-line errors that exit with status 2.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "torsion/app/plugin.hpp"
#include "torsion/app/runner.hpp"

namespace torsion::app {
namespace {

// A plugin with one option of each kind, recording what the parser put into it.
class ProbeMaker final : public ServiceMaker {
 public:
  explicit ProbeMaker(std::string name = "probe") : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::string description() const override { return "Probes the parser (" + name_ + ")"; }
  void addOptions(CLI::App& cmd) override {
    cmd.add_option("-p,--port", port, "endpoint to listen on")->capture_default_str();
    cmd.add_option("--count", count, "how many");
    cmd.add_flag("--loud", loud, "shout");
  }
  std::shared_ptr<Service> makeService(PluginContext&) override {
    return std::make_shared<Service>();
  }

  std::string port = "tcp:8000";
  int count = 1;
  bool loud = false;

 private:
  std::string name_;
};

// One parse: the outcome and what went to each stream.
struct Parse {
  ParseOutcome outcome;
  std::string out;
  std::string err;
};

class ParseCommandLine : public ::testing::Test {
 protected:
  ParseCommandLine() {
    auto probe = std::make_unique<ProbeMaker>();
    probe_ = probe.get();
    registry_.add(std::move(probe));
    registry_.add(std::make_unique<ProbeMaker>("other"));
  }

  Parse parse(std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"torsiond"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ostringstream out, err;
    Parse p;
    p.outcome = parseCommandLine(static_cast<int>(argv.size()), argv.data(), registry_, out, err);
    p.out = out.str();
    p.err = err.str();
    return p;
  }

  // The parse failed with status 2, nothing on `out`, and exactly one line on `err` that
  // starts with "torsiond: error: " and contains `named`.
  static void expectUsageError(const Parse& p, const std::string& named) {
    ASSERT_TRUE(p.outcome.exitStatus.has_value()) << "accepted; stderr: " << p.err;
    EXPECT_EQ(*p.outcome.exitStatus, 2);
    EXPECT_EQ(p.out, "");
    EXPECT_EQ(p.err.rfind("torsiond: error: ", 0), 0u) << p.err;
    ASSERT_FALSE(p.err.empty());
    EXPECT_EQ(p.err.back(), '\n');
    EXPECT_EQ(p.err.find('\n'), p.err.size() - 1) << "more than one line: " << p.err;
    EXPECT_NE(p.err.find(named), std::string::npos) << "'" << named << "' not named in: " << p.err;
  }

  PluginRegistry registry_;
  ProbeMaker* probe_ = nullptr;
};

TEST_F(ParseCommandLine, defaultsAreTwistdsAndThePluginIsChosen) {
  const Parse p = parse({"probe"});
  EXPECT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(p.out, "");
  EXPECT_EQ(p.err, "");
  const RunnerOptions& o = p.outcome.options;
  EXPECT_FALSE(o.nodaemon);
  EXPECT_EQ(o.pidfile, "torsiond.pid");
  EXPECT_FALSE(o.logfile.has_value());
  EXPECT_EQ(o.logRotateLength, 1'000'000u);
  EXPECT_EQ(o.logFormat, "text");
  EXPECT_EQ(o.logLevel, LogLevel::info);
  EXPECT_FALSE(o.syslog);
  EXPECT_EQ(o.syslogPrefix, "torsiond");
  EXPECT_EQ(o.rundir, ".");
  EXPECT_FALSE(o.umask.has_value());
  EXPECT_EQ(o.uid, "");
  EXPECT_EQ(o.gid, "");
  EXPECT_EQ(o.reactor, "");
  EXPECT_EQ(o.workers, 1);
  EXPECT_EQ(o.stateFile, "");
  EXPECT_FALSE(o.noSave);
  EXPECT_EQ(o.plugin, probe_);
  EXPECT_EQ(probe_->port, "tcp:8000") << "the plugin's defaults are left alone";
  EXPECT_EQ(probe_->count, 1);
  EXPECT_FALSE(probe_->loud);
}

TEST_F(ParseCommandLine, everyShortOptionIsParsed) {
  const Parse p = parse({"-n", "-l", "/var/log/x.log", "-d", "/srv", "-u", "1000", "-g", "100",
                         "-r", "poll", "-o", "other"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  const RunnerOptions& o = p.outcome.options;
  EXPECT_TRUE(o.nodaemon);
  EXPECT_EQ(o.logfile, "/var/log/x.log");
  EXPECT_EQ(o.rundir, "/srv");
  EXPECT_EQ(o.uid, "1000");
  EXPECT_EQ(o.gid, "100");
  EXPECT_EQ(o.reactor, "poll");
  EXPECT_TRUE(o.noSave);
  EXPECT_EQ(o.plugin, registry_.find("other"));
}

TEST_F(ParseCommandLine, everyLongOptionIsParsed) {
  const Parse p = parse({"--nodaemon", "--pidfile",
                         "/run/x.pid", "--logfile",
                         "-",          "--log-rotate-length",
                         "4096",       "--log-format",
                         "json",       "--log-level",
                         "warn",       "--syslog",
                         "--prefix",   "myapp",
                         "--rundir",   "/tmp",
                         "--umask",    "022",
                         "--uid",      "nobody",
                         "--gid",      "nogroup",
                         "--reactor",  "epoll",
                         "--workers",  "4",
                         "--no-save",  "probe"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  const RunnerOptions& o = p.outcome.options;
  EXPECT_TRUE(o.nodaemon);
  EXPECT_EQ(o.pidfile, "/run/x.pid");
  EXPECT_EQ(o.logfile, "-");
  EXPECT_EQ(o.logRotateLength, 4096u);
  EXPECT_EQ(o.logFormat, "json");
  EXPECT_EQ(o.logLevel, LogLevel::warn);
  EXPECT_TRUE(o.syslog);
  EXPECT_EQ(o.syslogPrefix, "myapp");
  EXPECT_EQ(o.rundir, "/tmp");
  ASSERT_TRUE(o.umask.has_value());
  EXPECT_EQ(*o.umask, 022u);
  EXPECT_EQ(o.uid, "nobody");
  EXPECT_EQ(o.gid, "nogroup");
  EXPECT_EQ(o.reactor, "epoll");
  EXPECT_EQ(o.workers, 4);
  EXPECT_TRUE(o.noSave);
  EXPECT_EQ(o.plugin, probe_);
}

TEST_F(ParseCommandLine, stateFileAndTwistdsNoSaveSpelling) {
  const Parse p = parse({"--state", "app.state", "--no_save", "probe"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(p.outcome.options.stateFile, "app.state");
  EXPECT_TRUE(p.outcome.options.noSave);
}

TEST_F(ParseCommandLine, anEmptyPidfileMeansNone) {
  const Parse p = parse({"--pidfile", "", "probe"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(p.outcome.options.pidfile, "");
}

TEST_F(ParseCommandLine, umaskIsOctal) {
  const Parse p = parse({"--umask", "0027", "probe"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(p.outcome.options.umask, static_cast<mode_t>(027));
}

TEST_F(ParseCommandLine, everyLogLevelIsAccepted) {
  const std::pair<const char*, LogLevel> levels[] = {{"debug", LogLevel::debug},
                                                     {"info", LogLevel::info},
                                                     {"warn", LogLevel::warn},
                                                     {"error", LogLevel::error},
                                                     {"critical", LogLevel::critical}};
  for (const auto& [name, level] : levels) {
    PluginRegistry registry;
    registry.add(std::make_unique<ProbeMaker>());
    const char* argv[] = {"torsiond", "--log-level", name, "probe"};
    std::ostringstream out, err;
    const ParseOutcome outcome = parseCommandLine(4, argv, registry, out, err);
    ASSERT_FALSE(outcome.exitStatus.has_value()) << name << ": " << err.str();
    EXPECT_EQ(outcome.options.logLevel, level) << name;
  }
}

TEST_F(ParseCommandLine, pluginOptionsAreParsedIntoItsMaker) {
  const Parse p = parse({"-n", "probe", "-p", "unix:/tmp/s", "--count", "7", "--loud"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(p.outcome.options.plugin, probe_);
  EXPECT_TRUE(p.outcome.options.nodaemon);
  EXPECT_EQ(probe_->port, "unix:/tmp/s");
  EXPECT_EQ(probe_->count, 7);
  EXPECT_TRUE(probe_->loud);
}

TEST_F(ParseCommandLine, pluginLongOptionWithEqualsSign) {
  const Parse p = parse({"probe", "--port=tcp:9999"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(probe_->port, "tcp:9999");
}

TEST_F(ParseCommandLine, anotherPluginsOptionsAreLeftAlone) {
  const Parse p = parse({"other", "--count", "3"});
  ASSERT_FALSE(p.outcome.exitStatus.has_value()) << p.err;
  EXPECT_EQ(static_cast<ProbeMaker*>(registry_.find("other"))->count, 3);
  EXPECT_EQ(probe_->count, 1);
}

// ---- errors: status 2 and one line naming the bad part ---------------------------------

TEST_F(ParseCommandLine, unknownOptionIsNamed) {
  expectUsageError(parse({"--bogus", "probe"}), "--bogus");
}

TEST_F(ParseCommandLine, unknownPluginIsNamed) {
  const Parse p = parse({"-n", "nosuch"});
  expectUsageError(p, "nosuch");
  EXPECT_NE(p.err.find("unknown plugin"), std::string::npos) << p.err;
}

TEST_F(ParseCommandLine, missingPluginIsReported) {
  const Parse p = parse({"-n"});
  expectUsageError(p, "no plugin");
}

TEST_F(ParseCommandLine, noArgumentsAtAllIsAMissingPlugin) {
  expectUsageError(parse({}), "plugin");
}

TEST_F(ParseCommandLine, unknownPluginOptionIsNamed) {
  expectUsageError(parse({"probe", "--nosuchflag"}), "--nosuchflag");
}

TEST_F(ParseCommandLine, badPluginOptionValueIsNamed) {
  expectUsageError(parse({"probe", "--count", "many"}), "many");
}

TEST_F(ParseCommandLine, optionWithoutItsValueIsNamed) {
  expectUsageError(parse({"probe", "--count"}), "--count");
}

TEST_F(ParseCommandLine, badLogFormatIsNamed) {
  expectUsageError(parse({"--log-format", "xml", "probe"}), "xml");
}

TEST_F(ParseCommandLine, badLogLevelIsNamed) {
  expectUsageError(parse({"--log-level", "loud", "probe"}), "loud");
}

TEST_F(ParseCommandLine, badReactorIsNamed) {
  expectUsageError(parse({"--reactor", "kqueue", "probe"}), "kqueue");
}

TEST_F(ParseCommandLine, badUmaskIsNamed) {
  for (const char* bad : {"9", "abc", "07777", "-1"}) {
    SCOPED_TRACE(bad);
    PluginRegistry registry;
    registry.add(std::make_unique<ProbeMaker>());
    const char* argv[] = {"torsiond", "--umask", bad, "probe"};
    std::ostringstream out, err;
    const ParseOutcome outcome = parseCommandLine(4, argv, registry, out, err);
    Parse p{outcome, out.str(), err.str()};
    expectUsageError(p, "umask");
  }
}

TEST_F(ParseCommandLine, workersOutOfRangeIsNamed) {
  expectUsageError(parse({"--workers", "0", "probe"}), "--workers");
}

TEST_F(ParseCommandLine, workersThatIsNotANumberIsNamed) {
  expectUsageError(parse({"--workers", "two", "probe"}), "two");
}

TEST_F(ParseCommandLine, stateNeedsASingleWorker) {
  expectUsageError(parse({"--workers", "2", "--state", "s.json", "probe"}), "--state");
}

TEST_F(ParseCommandLine, aStrayWordAfterThePluginIsNamed) {
  expectUsageError(parse({"probe", "leftover"}), "leftover");
}

TEST_F(ParseCommandLine, twoPluginsAreRefused) {
  const Parse p = parse({"probe", "other"});
  expectUsageError(p, "other");
}

// ---- help and version --------------------------------------------------------------------

TEST_F(ParseCommandLine, helpListsEveryPluginWithItsDescription) {
  const Parse p = parse({"--help"});
  ASSERT_EQ(p.outcome.exitStatus, 0);
  EXPECT_EQ(p.err, "");
  for (ServiceMaker* maker : registry_.plugins()) {
    EXPECT_NE(p.out.find(maker->name()), std::string::npos) << p.out;
    EXPECT_NE(p.out.find(maker->description()), std::string::npos) << p.out;
  }
  for (const char* option : {"--nodaemon", "--pidfile", "--logfile", "--log-format", "--log-level",
                             "--syslog", "--rundir", "--umask", "--uid", "--gid", "--reactor",
                             "--help-reactors", "--workers", "--state", "--no-save", "--version"}) {
    EXPECT_NE(p.out.find(option), std::string::npos) << option << " missing from\n" << p.out;
  }
  EXPECT_NE(p.out.find("TORSION_PLUGIN_PATH"), std::string::npos) << p.out;
}

TEST_F(ParseCommandLine, pluginHelpShowsItsOptionsNotTheOthers) {
  const Parse p = parse({"probe", "--help"});
  ASSERT_EQ(p.outcome.exitStatus, 0);
  EXPECT_EQ(p.err, "");
  EXPECT_NE(p.out.find("--port"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("-p"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("--count"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("--loud"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("tcp:8000"), std::string::npos) << "the default is shown:\n" << p.out;
  EXPECT_EQ(p.out.find("--pidfile"), std::string::npos) << "torsiond's own options:\n" << p.out;
}

TEST_F(ParseCommandLine, helpWinsOverOtherOptions) {
  const Parse p = parse({"-n", "--workers", "3", "--help"});
  EXPECT_EQ(p.outcome.exitStatus, 0);
  EXPECT_NE(p.out.find("probe"), std::string::npos);
}

TEST_F(ParseCommandLine, versionPrintsOneLineAndExitsZero) {
  const Parse p = parse({"--version"});
  ASSERT_EQ(p.outcome.exitStatus, 0);
  EXPECT_EQ(p.err, "");
  EXPECT_EQ(p.out.rfind("torsiond (torsion) ", 0), 0u) << p.out;
  ASSERT_FALSE(p.out.empty());
  EXPECT_EQ(p.out.find('\n'), p.out.size() - 1) << p.out;
  EXPECT_GT(p.out.size(), std::string("torsiond (torsion) \n").size()) << "a version follows";
}

TEST_F(ParseCommandLine, helpReactorsListsEpollAndPoll) {
  const Parse p = parse({"--help-reactors"});
  ASSERT_EQ(p.outcome.exitStatus, 0);
  EXPECT_EQ(p.err, "");
  EXPECT_NE(p.out.find("epoll"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("poll("), std::string::npos) << p.out;
  int lines = 0;
  for (char c : p.out) lines += c == '\n';
  EXPECT_EQ(lines, 2) << p.out;
}

}  // namespace
}  // namespace torsion::app
