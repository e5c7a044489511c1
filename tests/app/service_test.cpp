// The service tree: order of start and stop, names, parents, waiting for children, state,
// Application under a real reactor; StreamServerEndpointService and TimerService on fakes.
#include "torsion/app/service.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "torsion/app/internet.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/protocols/wire.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/log_capture.hpp"
#include "torsion/testing/memory_reactor.hpp"

namespace torsion::app {
namespace {

using testing::assertNoResult;
using testing::successResultOf;

// Records start and stop calls in a shared journal; stopService() may be held open.
class Recorder : public Service {
 public:
  Recorder(std::string name, std::vector<std::string>& journal)
      : Service(std::move(name)), journal_(journal) {}

  void privilegedStartService() override { journal_.push_back("privileged " + name()); }
  void startService() override {
    if (throwOnStart) {
      throw std::runtime_error("cannot start " + name());
    }
    Service::startService();
    journal_.push_back("start " + name());
  }
  Deferred<void> stopService() override {
    Service::stopService();
    journal_.push_back("stop " + name());
    if (failStop) {
      return fail<void>(std::runtime_error("stop failed: " + name()));
    }
    if (holdStop) {
      pendingStop.emplace();
      return *pendingStop;
    }
    return succeed();
  }

  std::optional<nlohmann::json> saveState() const override { return state; }
  void restoreState(const nlohmann::json& s) override { state = s; }

  bool throwOnStart = false;
  bool failStop = false;
  bool holdStop = false;
  std::optional<Deferred<void>> pendingStop;
  std::optional<nlohmann::json> state;

 private:
  std::vector<std::string>& journal_;
};

std::vector<std::string> journal;

class ServiceTree : public ::testing::Test {
 protected:
  void SetUp() override { journal.clear(); }

  std::shared_ptr<Recorder> child(MultiService& parent, std::string name) {
    auto c = std::make_shared<Recorder>(std::move(name), journal);
    c->setServiceParent(parent);
    return c;
  }
};

TEST_F(ServiceTree, startsChildrenInOrderAndStopsThemInReverse) {
  MultiService root("root");
  auto a = child(root, "a");
  auto b = child(root, "b");
  auto c = child(root, "c");
  root.privilegedStartService();
  root.startService();
  EXPECT_TRUE(root.running() && a->running() && b->running() && c->running());
  successResultOf(root.stopService());
  EXPECT_EQ(journal,
            (std::vector<std::string>{"privileged a", "privileged b", "privileged c", "start a",
                                      "start b", "start c", "stop c", "stop b", "stop a"}));
  EXPECT_FALSE(root.running() || a->running() || b->running() || c->running());
}

TEST_F(ServiceTree, stopWaitsForEveryChild) {
  MultiService root;
  auto a = child(root, "a");
  auto b = child(root, "b");
  a->holdStop = b->holdStop = true;
  root.startService();
  auto stopped = root.stopService();
  assertNoResult(stopped);
  a->pendingStop->callback();
  assertNoResult(stopped);
  b->pendingStop->callback();
  successResultOf(stopped);
}

TEST_F(ServiceTree, aChildThatFailsToStopIsLoggedAndTheOthersStillStop) {
  MultiService root;
  auto a = child(root, "a");
  auto b = child(root, "b");
  b->failStop = true;
  root.startService();
  successResultOf(root.stopService());
  EXPECT_EQ(journal.back(), "stop a");
  EXPECT_EQ(testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST_F(ServiceTree, aChildThatFailsToStartStopsTheStartedOnesAndPropagates) {
  MultiService root;
  auto a = child(root, "a");
  auto b = child(root, "b");
  auto c = child(root, "c");
  b->throwOnStart = true;
  EXPECT_THROW(root.startService(), std::runtime_error);
  EXPECT_EQ(journal, (std::vector<std::string>{"start a", "stop a"}));
  EXPECT_FALSE(root.running());
  EXPECT_FALSE(c->running());
}

TEST_F(ServiceTree, siblingsCannotShareAName) {
  MultiService root;
  child(root, "a");
  auto other = std::make_shared<Recorder>("a", journal);
  EXPECT_THROW(other->setServiceParent(root), ServiceError);
  EXPECT_EQ(root.services().size(), 1u);
  // Unnamed services may repeat.
  child(root, "");
  child(root, "");
  EXPECT_EQ(root.services().size(), 3u);
}

TEST_F(ServiceTree, aNameCannotChangeUnderAParent) {
  MultiService root;
  auto a = child(root, "a");
  EXPECT_THROW(a->setName("b"), ServiceError);
  successResultOf(a->disownServiceParent());
  a->setName("b");
  EXPECT_EQ(a->name(), "b");
  EXPECT_EQ(root.getServiceNamed("a"), nullptr);
}

TEST_F(ServiceTree, aChildAddedToARunningParentStartsAtOnce) {
  MultiService root;
  root.startService();
  auto a = child(root, "a");
  EXPECT_TRUE(a->running());
  EXPECT_EQ(journal, (std::vector<std::string>{"privileged a", "start a"}));
}

TEST_F(ServiceTree, removingAChildOfARunningParentStopsItAndReturnsItsDeferred) {
  MultiService root;
  auto a = child(root, "a");
  a->holdStop = true;
  root.startService();
  auto removed = root.removeService(*a);
  assertNoResult(removed);
  EXPECT_EQ(a->parent(), nullptr);
  EXPECT_TRUE(root.services().empty());
  a->pendingStop->callback();
  successResultOf(removed);
  EXPECT_THROW(root.removeService(*a), ServiceError);
}

TEST_F(ServiceTree, moveToAnotherParent) {
  MultiService first, second;
  auto a = child(first, "a");
  a->setServiceParent(second);
  EXPECT_EQ(a->parent(), &second);
  EXPECT_TRUE(first.services().empty());
  EXPECT_EQ(second.getServiceNamed("a"), a);
}

TEST_F(ServiceTree, aServiceOutlivingItsParentHasNoParent) {
  auto a = std::make_shared<Recorder>("a", journal);
  {
    MultiService root;
    a->setServiceParent(root);
  }
  EXPECT_EQ(a->parent(), nullptr);
}

TEST_F(ServiceTree, stateIsSavedAndRestoredByName) {
  MultiService root;
  auto a = child(root, "a");
  auto b = child(root, "b");
  auto inner = std::make_shared<MultiService>("inner");
  inner->setServiceParent(root);
  auto c = child(*inner, "c");
  a->state = nlohmann::json{{"count", 3}};
  c->state = nlohmann::json::array({1, 2});
  auto saved = root.saveState();
  ASSERT_TRUE(saved);
  EXPECT_EQ(*saved, (nlohmann::json{{"a", {{"count", 3}}}, {"inner", {{"c", {1, 2}}}}}));

  MultiService again;
  auto a2 = child(again, "a");
  auto b2 = child(again, "b");
  auto inner2 = std::make_shared<MultiService>("inner");
  inner2->setServiceParent(again);
  auto c2 = child(*inner2, "c");
  again.restoreState(*saved);
  EXPECT_EQ(a2->state, a->state);
  EXPECT_FALSE(b2->state);
  EXPECT_EQ(c2->state, c->state);
  EXPECT_THROW(again.restoreState(nlohmann::json::array()), ServiceError);
}

TEST_F(ServiceTree, aTreeWithoutStateSavesNothing) {
  MultiService root;
  child(root, "a");
  EXPECT_FALSE(root.saveState());
}

TEST_F(ServiceTree, applicationStopsBeforeTheReactorGoesDown) {
  Reactor reactor(Reactor::Options{.poller = "", .installSignalHandlers = false});
  auto app = std::make_shared<Application>("app");
  auto a = child(*app, "a");
  a->holdStop = true;
  app->start(reactor);
  EXPECT_TRUE(a->running());
  bool shutdownDuring = false;
  bool released = false;
  reactor.addSystemEventTrigger(Reactor::Phase::during, "shutdown", [&] {
    shutdownDuring = true;
    EXPECT_TRUE(released) << "the before-shutdown phase must wait for the tree to stop";
  });
  reactor.callWhenRunning([&] { reactor.stop(); });
  reactor.callLater(Seconds(0.01), [&] {
    ASSERT_TRUE(a->pendingStop);
    EXPECT_FALSE(shutdownDuring);
    released = true;
    a->pendingStop->callback();
  });
  reactor.run();
  EXPECT_TRUE(shutdownDuring);
  EXPECT_FALSE(app->running());
}

// ---- StreamServerEndpointService ----------------------------------------------------------

TEST(StreamServerEndpointService, listensInThePrivilegedStartAndStopsListening) {
  testing::MemoryReactor reactor;
  auto factory = Factory::forProtocol<protocols::Echo>();
  StreamServerEndpointService service(serverFromString(reactor, "tcp:8080:interface=127.0.0.1"),
                                      factory);
  service.privilegedStartService();
  ASSERT_EQ(reactor.tcpServers.size(), 1u);
  EXPECT_EQ(reactor.tcpServers[0].port, 8080);
  EXPECT_EQ(reactor.tcpServers[0].interface, "127.0.0.1");
  EXPECT_EQ(reactor.tcpServers[0].factory, factory);
  service.startService();
  EXPECT_EQ(reactor.tcpServers.size(), 1u) << "startService must not listen twice";
  EXPECT_EQ(service.port(), reactor.tcpServers[0].listeningPort);
  successResultOf(service.stopService());
  EXPECT_FALSE(reactor.tcpServers[0].listeningPort->listening());
  EXPECT_EQ(service.port(), nullptr);
}

TEST(StreamServerEndpointService, startListensWhenThePrivilegedStartWasSkipped) {
  testing::MemoryReactor reactor;
  StreamServerEndpointService service(serverFromString(reactor, "tcp:0"),
                                      Factory::forProtocol<protocols::Echo>());
  service.startService();
  EXPECT_EQ(reactor.tcpServers.size(), 1u);
  EXPECT_TRUE(service.running());
}

TEST(StreamServerEndpointService, aListenFailureIsThrownFromTheStart) {
  testing::RaisingMemoryReactor reactor(
      std::make_exception_ptr(CannotListenError("127.0.0.1", "80", "Address already in use")));
  StreamServerEndpointService service(serverFromString(reactor, "tcp:80"),
                                      Factory::forProtocol<protocols::Echo>());
  EXPECT_THROW(service.privilegedStartService(), CannotListenError);
}

TEST(StreamServerEndpointService, aListenFailureIsLoggedWhenNotRaisedSynchronously) {
  testing::RaisingMemoryReactor reactor(
      std::make_exception_ptr(CannotListenError("127.0.0.1", "80", "Address already in use")));
  StreamServerEndpointService service(serverFromString(reactor, "tcp:80"),
                                      Factory::forProtocol<protocols::Echo>());
  service.setRaiseSynchronously(false);
  service.startService();
  EXPECT_EQ(testing::flushLoggedErrors<CannotListenError>().size(), 1u);
  EXPECT_EQ(service.port(), nullptr);
}

// ---- TimerService -----------------------------------------------------------------------

TEST(TimerService, callsAtOnceThenEveryIntervalUntilStopped) {
  testing::Clock clock;
  int calls = 0;
  TimerService service(clock, Seconds(5), [&] { ++calls; });
  service.startService();
  EXPECT_EQ(calls, 1);
  clock.advance(Seconds(5));
  clock.advance(Seconds(5));
  EXPECT_EQ(calls, 3);
  successResultOf(service.stopService());
  clock.advance(Seconds(50));
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST(TimerService, stopWaitsForACallInProgress) {
  testing::Clock clock;
  std::optional<Deferred<void>> inProgress;
  TimerService service(clock, Seconds(1), [&]() -> Deferred<void> {
    inProgress.emplace();
    return *inProgress;
  });
  service.startService();
  auto stopped = service.stopService();
  assertNoResult(stopped);
  inProgress->callback();
  successResultOf(stopped);
}

TEST(TimerService, anErrorIsLoggedAndEndsTheCalls) {
  testing::Clock clock;
  int calls = 0;
  TimerService service(clock, Seconds(1), [&] {
    if (++calls == 2) {
      throw std::runtime_error("boom");
    }
  });
  service.startService();
  clock.advance(Seconds(1));
  EXPECT_EQ(testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
  clock.advance(Seconds(10));
  EXPECT_EQ(calls, 2);
  successResultOf(service.stopService());
  // Started again, it calls again.
  service.startService();
  EXPECT_EQ(calls, 3);
  successResultOf(service.stopService());
}

}  // namespace
}  // namespace torsion::app
