// The seed's persistent Fibonacci server (examples/fibonacci_plugin.cpp) under torsiond,
// loaded from TORSION_PLUGIN_PATH: two clients share one sequence; --state saves it at
// SIGTERM and the next run continues it; --no-save leaves the file alone; a corrupt or
// refused state file stops the start with status 1 and a message naming the file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "torsiond/torsiond_support.hpp"

#ifdef FIBONACCI_PLUGIN_DIR

namespace torsiond::test {
namespace {

class FibonacciRestart : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir / name).string(); }

  // `torsiond -n --pidfile '' [extra] fibonacci --port unix:<dir>/fib.sock`.
  std::unique_ptr<Torsiond> start(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"-n", "--pidfile", ""};
    args.insert(args.end(), extra.begin(), extra.end());
    for (const char* a : {"fibonacci", "--port"}) args.emplace_back(a);
    args.push_back("unix:" + path("fib.sock"));
    RunOptions options = pluginPath(FIBONACCI_PLUGIN_DIR);
    options.cwd = dir.path().string();
    return std::make_unique<Torsiond>(args, options);
  }

  // One request on `client`, the number it got back.
  static std::string next(const Fd& client) {
    if (!sendAll(client, "?")) return "<send failed>";
    std::string line = readUntil(client, "\r\n");
    if (line.size() >= 2) line.resize(line.size() - 2);
    return line;
  }

  TempDir dir;
};

TEST_F(FibonacciRestart, continuesTheSequenceAfterARestart) {
  const std::string state = path("fib.json");
  {
    auto t = start({"--state", state});
    ASSERT_TRUE(t->waitForOutput("starting up")) << t->out() << t->err();
    EXPECT_FALSE(contains(t->out(), "Restored")) << "no state file yet";
    const Fd first = connectUnix(path("fib.sock"));
    const Fd second = connectUnix(path("fib.sock"));
    ASSERT_TRUE(first && second);
    // Both clients draw from one sequence: no number twice.
    EXPECT_EQ(next(first), "2");
    EXPECT_EQ(next(second), "3");
    EXPECT_EQ(next(first), "5");
    EXPECT_EQ(next(second), "8");
    EXPECT_EQ(next(second), "13");
    t->signal(SIGTERM);
    ASSERT_EQ(t->wait(), 0) << t->out() << t->err();
    EXPECT_TRUE(contains(t->out(), "Saved the application's state")) << t->out();
  }
  const auto saved = nlohmann::json::parse(readFile(state));
  EXPECT_EQ(saved["torsion_state"], 1);
  EXPECT_EQ(saved["application"], "fibonacci");
  EXPECT_EQ(saved["state"], nlohmann::json({{"fibonacci", {{"a", 8}, {"b", 13}}}}));
  EXPECT_FALSE(std::filesystem::exists(state + ".new"));

  auto t = start({"--state", state});
  ASSERT_TRUE(t->waitForOutput("starting up")) << t->out() << t->err();
  EXPECT_TRUE(contains(t->out(), "Restored the application's state")) << t->out();
  const Fd client = connectUnix(path("fib.sock"));
  ASSERT_TRUE(client);
  EXPECT_EQ(next(client), "21");
  EXPECT_EQ(next(client), "34");
  t->signal(SIGTERM);
  ASSERT_EQ(t->wait(), 0) << t->out() << t->err();
  EXPECT_EQ(nlohmann::json::parse(readFile(state))["state"],
            nlohmann::json({{"fibonacci", {{"a", 21}, {"b", 34}}}}));
}

TEST_F(FibonacciRestart, withoutStateEveryRunStartsAfresh) {
  for (int run = 0; run < 2; ++run) {
    auto t = start();
    ASSERT_TRUE(t->waitForOutput("starting up")) << t->out() << t->err();
    const Fd client = connectUnix(path("fib.sock"));
    ASSERT_TRUE(client);
    EXPECT_EQ(next(client), "2") << "run " << run;
    t->signal(SIGTERM);
    ASSERT_EQ(t->wait(), 0) << t->out() << t->err();
  }
}

TEST_F(FibonacciRestart, noSaveRestoresButLeavesTheFileAlone) {
  const std::string state = path("fib.json");
  writeFile(state, R"({"torsion_state": 1, "application": "fibonacci",
                      "state": {"fibonacci": {"a": 55, "b": 89}}})");
  const std::string before = readFile(state);
  auto t = start({"--state", state, "--no-save"});
  ASSERT_TRUE(t->waitForOutput("starting up")) << t->out() << t->err();
  const Fd client = connectUnix(path("fib.sock"));
  ASSERT_TRUE(client);
  EXPECT_EQ(next(client), "144") << "restored";
  t->signal(SIGTERM);
  ASSERT_EQ(t->wait(), 0) << t->out() << t->err();
  EXPECT_EQ(readFile(state), before) << "--no-save rewrote the state file";
  EXPECT_FALSE(contains(t->out(), "Saved")) << t->out();
}

TEST_F(FibonacciRestart, aCorruptStateFileStopsTheStartNamingTheFile) {
  const std::string state = path("fib.json");
  writeFile(state, "{\"torsion_state\": 1, \"state\": {\"fibonacci\": ");
  auto t = start({"--state", state});
  EXPECT_EQ(t->wait(), 1) << t->out() << t->err();
  EXPECT_TRUE(contains(t->err(), state)) << t->err();
  EXPECT_FALSE(oneLine(t->err()).empty()) << "one line:\n" << t->err();
  EXPECT_FALSE(connectUnix(path("fib.sock"))) << "it never listened";
  EXPECT_EQ(readFile(state), "{\"torsion_state\": 1, \"state\": {\"fibonacci\": ")
      << "the corrupt file is kept for a human to look at";
}

TEST_F(FibonacciRestart, aStateThePluginRefusesStopsTheStartSayingWhy) {
  const std::string state = path("fib.json");
  writeFile(state, R"({"torsion_state": 1, "application": "fibonacci",
                      "state": {"fibonacci": {"a": 0, "b": 0}}})");
  auto t = start({"--state", state});
  EXPECT_EQ(t->wait(), 1) << t->out() << t->err();
  EXPECT_TRUE(contains(t->err(), "1 <= a <= b")) << t->err();
  EXPECT_FALSE(oneLine(t->err()).empty()) << "one line:\n" << t->err();
}

TEST_F(FibonacciRestart, listensOnTheTcpPortGiven) {
  const std::uint16_t port = freeTcpPort();
  RunOptions options = pluginPath(FIBONACCI_PLUGIN_DIR);
  options.cwd = dir.path().string();
  Torsiond t({"-n", "--pidfile", "", "fibonacci", "-p",
              "tcp:" + std::to_string(port) + ":interface=127.0.0.1"},
             options);
  ASSERT_TRUE(t.waitForOutput("starting up")) << t.out() << t.err();
  const Fd client = connectTcp(port);
  ASSERT_TRUE(client);
  EXPECT_EQ(next(client), "2");
  t.signal(SIGTERM);
  EXPECT_EQ(t.wait(), 0) << t.out() << t.err();
}

}  // namespace
}  // namespace torsiond::test

#endif  // FIBONACCI_PLUGIN_DIR (set when the examples are built)
