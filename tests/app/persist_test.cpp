// State files (torsiond --state): the round trip, the atomic replace, and the errors that
// name the file; saving and restoring a small service tree through one.
#include "torsion/app/persist.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/runner_support.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::app {
namespace {

using test::readFile;
using test::TempDir;
using test::writeFile;

std::vector<std::string> directoryEntries(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The StateFileError that `f` throws (the test fails if it throws nothing or something else).
template <class F>
std::string stateFileError(F&& f) {
  try {
    f();
  } catch (const StateFileError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw something else: " << e.what();
    return {};
  }
  ADD_FAILURE() << "threw nothing";
  return {};
}

TEST(StateFile, roundTripsTheState) {
  TempDir dir;
  const std::string path = dir / "app.state";
  const nlohmann::json state = {
      {"counter", {{"a", 1}, {"b", 2}}}, {"names", {"x", "y"}}, {"big", 18446744073709551615ull}};
  writeStateFile(path, "myapp", state);
  const auto read = readStateFile(path);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, state);
  EXPECT_EQ((*read)["big"].get<std::uint64_t>(), 18446744073709551615ull)
      << "64-bit unsigned values survive";
}

TEST(StateFile, holdsTheFormatVersionAndTheApplicationsName) {
  TempDir dir;
  writeStateFile(dir / "app.state", "myapp", {{"k", "v"}});
  const auto doc = nlohmann::json::parse(readFile(dir / "app.state"));
  EXPECT_EQ(doc["torsion_state"], 1);
  EXPECT_EQ(doc["application"], "myapp");
  EXPECT_EQ(doc["state"], nlohmann::json({{"k", "v"}}));
}

TEST(StateFile, isWrittenWithMode0600) {
  TempDir dir;
  const mode_t previous = ::umask(0);
  writeStateFile(dir / "app.state", "a", nlohmann::json::object());
  ::umask(previous);
  struct stat info {};
  ASSERT_EQ(::stat((dir / "app.state").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST(StateFile, replacingItLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeStateFile(path, "a", {{"n", 1}});
  writeStateFile(path, "a", {{"n", 2}});
  EXPECT_EQ(directoryEntries(dir.path()), std::vector<std::string>{"app.state"});
  EXPECT_EQ(readStateFile(path), nlohmann::json({{"n", 2}}));
}

TEST(StateFile, replacingItSwapsTheInodeInsteadOfRewritingInPlace) {
  // A reader holding the old file open still reads the whole old state: the new one arrived
  // by rename(), never by truncating and rewriting the file.
  TempDir dir;
  const std::string path = dir / "app.state";
  writeStateFile(path, "a", {{"n", 1}});
  struct stat before {};
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  writeStateFile(path, "a", {{"n", 2}});
  struct stat after {};
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
}

TEST(StateFile, aStaleTemporaryFileIsOverwritten) {
  // A crash between writing the temporary file and renaming it leaves "<path>.new" behind.
  TempDir dir;
  const std::string path = dir / "app.state";
  writeFile(path + ".new", "half a state");
  writeStateFile(path, "a", {{"n", 3}});
  EXPECT_EQ(directoryEntries(dir.path()), std::vector<std::string>{"app.state"});
  EXPECT_EQ(readStateFile(path), nlohmann::json({{"n", 3}}));
}

TEST(StateFile, aMissingFileIsNoState) {
  TempDir dir;
  EXPECT_EQ(readStateFile(dir / "none.state"), std::nullopt);
}

TEST(StateFile, invalidJsonIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeFile(path, "{\"torsion_state\": 1, \"state\": {");
  const std::string what = stateFileError([&] { readStateFile(path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_NE(what.find("JSON"), std::string::npos) << what;
}

TEST(StateFile, anEmptyFileIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeFile(path, "");
  EXPECT_NE(stateFileError([&] { readStateFile(path); }).find(path), std::string::npos);
}

TEST(StateFile, jsonThatIsNotAStateFileIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string path = dir / "app.state";
  for (const char* text :
       {"[1, 2, 3]", "{\"a\": 1, \"b\": 2}", "{\"state\": {}}", "{\"torsion_state\": 1}", "42"}) {
    SCOPED_TRACE(text);
    writeFile(path, text);
    const std::string what = stateFileError([&] { readStateFile(path); });
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("not a torsion state file"), std::string::npos) << what;
  }
}

TEST(StateFile, anotherFormatVersionIsAnErrorNamingTheFileAndTheVersion) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeFile(path, R"({"torsion_state": 2, "application": "a", "state": {}})");
  const std::string what = stateFileError([&] { readStateFile(path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_NE(what.find('2'), std::string::npos) << what;
}

TEST(StateFile, aDirectoryIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir / "sub";
  std::filesystem::create_directory(path);
  EXPECT_NE(stateFileError([&] { readStateFile(path); }).find(path), std::string::npos);
}

TEST(StateFile, writingIntoAMissingDirectoryIsAnErrorNamingTheFile) {
  TempDir dir;
  const std::string path = dir / "missing" / "app.state";
  const std::string what = stateFileError([&] { writeStateFile(path, "a", {}); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
}

TEST(StateFile, aFailedRenameLeavesTheOldStateAndNoTemporaryFile) {
  // The path is a non-empty directory: the temporary file is written, rename() fails.
  TempDir dir;
  const std::filesystem::path path = dir / "app.state";
  std::filesystem::create_directory(path);
  writeFile(path / "keep", "x");
  const std::string what = stateFileError([&] { writeStateFile(path, "a", {{"n", 1}}); });
  EXPECT_NE(what.find(path.string()), std::string::npos) << what;
  EXPECT_EQ(directoryEntries(dir.path()), std::vector<std::string>{"app.state"});
  EXPECT_EQ(readFile(path / "keep"), "x");
}

// ---- a service tree through a state file -------------------------------------------------

// A service with a counter as its state; restoring anything without "n" throws.
class Counter : public Service {
 public:
  using Service::Service;
  std::optional<nlohmann::json> saveState() const override { return nlohmann::json{{"n", n}}; }
  void restoreState(const nlohmann::json& state) override {
    if (!state.is_object() || !state.contains("n")) {
      throw std::invalid_argument("Counter: no \"n\" in " + state.dump());
    }
    n = state["n"].get<int>();
    ++restores;
  }
  int n = 0;
  int restores = 0;
};

// app
// ├── outer (MultiService)
// │   ├── counter (Counter)
// │   └── (unnamed, no state)
// └── top (Counter)
struct Tree {
  std::shared_ptr<Application> app = std::make_shared<Application>("app");
  std::shared_ptr<MultiService> outer = std::make_shared<MultiService>("outer");
  std::shared_ptr<Counter> counter = std::make_shared<Counter>("counter");
  std::shared_ptr<Counter> top = std::make_shared<Counter>("top");
  Tree() {
    outer->setServiceParent(*app);
    counter->setServiceParent(*outer);
    std::make_shared<Service>()->setServiceParent(*outer);
    top->setServiceParent(*app);
  }
};

TEST(PersistApplication, savesAndRestoresTheTreeByName) {
  TempDir dir;
  const std::string path = dir / "app.state";
  {
    Tree before;
    before.counter->n = 5;
    before.top->n = 8;
    saveApplication(*before.app, path);
  }
  EXPECT_EQ(readStateFile(path),
            nlohmann::json({{"outer", {{"counter", {{"n", 5}}}}}, {"top", {{"n", 8}}}}));
  Tree after;
  EXPECT_TRUE(restoreApplication(*after.app, path));
  EXPECT_EQ(after.counter->n, 5);
  EXPECT_EQ(after.top->n, 8);
  EXPECT_EQ(after.counter->restores, 1);
}

TEST(PersistApplication, theFileNamesTheApplication) {
  TempDir dir;
  Tree tree;
  saveApplication(*tree.app, dir / "app.state");
  EXPECT_EQ(nlohmann::json::parse(readFile(dir / "app.state"))["application"], "app");
}

TEST(PersistApplication, restoringFromAMissingFileChangesNothing) {
  TempDir dir;
  Tree tree;
  tree.counter->n = 3;
  EXPECT_FALSE(restoreApplication(*tree.app, dir / "none.state"));
  EXPECT_EQ(tree.counter->n, 3);
  EXPECT_EQ(tree.counter->restores, 0);
}

TEST(PersistApplication, anApplicationWithoutStateSavesAnEmptyObjectAndRestoresFromIt) {
  TempDir dir;
  const std::string path = dir / "app.state";
  Application empty("empty");
  std::make_shared<Service>("plain")->setServiceParent(empty);
  saveApplication(empty, path);
  EXPECT_EQ(readStateFile(path), nlohmann::json::object());
  // A tree that has state now (a new version of the program) starts fresh from it.
  Tree tree;
  tree.counter->n = 4;
  EXPECT_TRUE(restoreApplication(*tree.app, path));
  EXPECT_EQ(tree.counter->n, 4);
  EXPECT_EQ(tree.counter->restores, 0);
}

TEST(PersistApplication, aServiceRefusingItsStatePropagates) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeStateFile(path, "app", {{"top", {{"m", 1}}}});
  Tree tree;
  EXPECT_THROW(restoreApplication(*tree.app, path), std::invalid_argument);
}

TEST(PersistApplication, aStateThatIsNotAnObjectIsRefusedByTheTree) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeStateFile(path, "app", nlohmann::json::array({1, 2}));
  Tree tree;
  EXPECT_THROW(restoreApplication(*tree.app, path), ServiceError);
}

TEST(PersistApplication, aCorruptFileIsAStateFileError) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeFile(path, "garbage");
  Tree tree;
  const std::string what = stateFileError([&] { restoreApplication(*tree.app, path); });
  EXPECT_NE(what.find(path), std::string::npos) << what;
  EXPECT_EQ(tree.counter->restores, 0);
}

TEST(PersistApplication, entriesWithoutAServiceAreIgnored) {
  TempDir dir;
  const std::string path = dir / "app.state";
  writeStateFile(path, "app", {{"gone", {{"n", 1}}}, {"top", {{"n", 2}}}});
  Tree tree;
  EXPECT_TRUE(restoreApplication(*tree.app, path));
  EXPECT_EQ(tree.top->n, 2);
  EXPECT_EQ(tree.counter->restores, 0);
}

}  // namespace
}  // namespace torsion::app
