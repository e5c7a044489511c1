// ClientService with a scripted endpoint (the test decides how each attempt ends) on a
// testing::Clock, and once over TCP4ClientEndpoint and MemoryReactor.
#include "torsion/app/client_service.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/wrapping_protocol.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::app {
namespace {

using testing::assertNoResult;
using testing::failureResultOf;
using testing::StringTransport;
using testing::StringTransportWithDisconnection;
using testing::successResultOf;

class Client : public Protocol {
 public:
  explicit Client(int id) : id(id) {}
  void connectionLost(const Failure&) override { lost = true; }
  int id;
  bool lost = false;
};

// Numbers the protocols it builds: 1, 2, 3...
class NumberingFactory : public Factory {
 public:
  std::unique_ptr<Protocol> buildProtocol(const Address&) override {
    auto p = std::make_unique<Client>(++built);
    p->factory = this;
    return p;
  }
  int built = 0;
};

// An endpoint whose attempts wait for the test.
class ScriptedEndpoint : public IStreamClientEndpoint {
 public:
  struct Attempt {
    std::shared_ptr<Factory> factory;
    Deferred<Protocol*> deferred;
    bool cancelled = false;
    std::unique_ptr<Protocol> protocol;  // what the connection would own
    std::unique_ptr<StringTransportWithDisconnection> transport;
  };

  Deferred<Protocol*> connect(std::shared_ptr<Factory> factory) override {
    auto a = std::make_shared<Attempt>();
    a->factory = std::move(factory);
    a->deferred = Deferred<Protocol*>([weak = std::weak_ptr<Attempt>(a)](Deferred<Protocol*>&) {
      if (auto x = weak.lock()) x->cancelled = true;
    });
    attempts.push_back(a);
    return a->deferred;
  }

  // The latest attempt connects; returns the protocol the service should hand out.
  Client* succeedLatest() {
    Attempt& a = *attempts.back();
    a.protocol = a.factory->buildProtocol(Address::ip("192.0.2.1", 80));
    a.transport = std::make_unique<StringTransportWithDisconnection>();
    a.transport->connect(*a.protocol);
    a.deferred.callback(a.protocol.get());
    return client(a);
  }
  void failLatest(const Failure& f) { attempts.back()->deferred.errback(f); }
  // The connection of attempt i goes away on its own.
  void loseConnection(std::size_t i) { attempts[i]->transport->loseConnection(); }

  static Client* client(Attempt& a) {
    auto* w = dynamic_cast<WrappingProtocol*>(a.protocol.get());
    return w ? dynamic_cast<Client*>(&w->wrapped()) : nullptr;
  }

  std::vector<std::shared_ptr<Attempt>> attempts;
};

class ClientServiceTest : public ::testing::Test {
 protected:
  // A policy that records its arguments and waits `attempt` seconds.
  RetryPolicy recordingPolicy() {
    return [this](int attempt) {
      policyCalls.push_back(attempt);
      return Seconds(attempt);
    };
  }

  testing::Clock clock;
  std::shared_ptr<ScriptedEndpoint> endpoint = std::make_shared<ScriptedEndpoint>();
  std::shared_ptr<NumberingFactory> factory = std::make_shared<NumberingFactory>();
  std::vector<int> policyCalls;
  std::unique_ptr<ClientService> service =
      std::make_unique<ClientService>(endpoint, factory, clock, recordingPolicy());
};

// ---- backoffPolicy
// --------------------------------------------------------------------------------

TEST(BackoffPolicy, growsByFactorUpToMaxDelayPlusJitter) {
  auto policy = backoffPolicy(1.0, 60.0, 1.5, [] { return 0.25; });
  EXPECT_DOUBLE_EQ(policy(1).count(), 1.5 + 0.25);
  EXPECT_DOUBLE_EQ(policy(2).count(), 2.25 + 0.25);
  EXPECT_DOUBLE_EQ(policy(10).count(), std::pow(1.5, 10) + 0.25);
  EXPECT_DOUBLE_EQ(policy(11).count(), 60.25);
  EXPECT_DOUBLE_EQ(policy(1000000).count(), 60.25);
}

TEST(BackoffPolicy, capsWhenTheGrowthOverflows) {
  auto policy = backoffPolicy(1e300, 5.0, 1e10, [] { return 0.0; });
  EXPECT_DOUBLE_EQ(policy(100).count(), 5.0);
}

TEST(BackoffPolicy, defaultJitterIsWithinOneSecond) {
  auto policy = backoffPolicy();
  for (int i = 0; i < 20; ++i) {
    const double d = policy(1).count();
    EXPECT_GE(d, 1.5);
    EXPECT_LT(d, 2.5);
  }
}

// ---- connecting
// ------------------------------------------------------------------------------------

TEST_F(ClientServiceTest, startServiceConnectsAndWhenConnectedFiresWithTheProtocol) {
  auto early = service->whenConnected();
  EXPECT_TRUE(endpoint->attempts.empty());
  service->startService();
  EXPECT_TRUE(service->running());
  ASSERT_EQ(endpoint->attempts.size(), 1u);
  assertNoResult(early);
  Client* c = endpoint->succeedLatest();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(successResultOf(early), c);
  EXPECT_EQ(c->id, 1);
  EXPECT_EQ(c->factory, factory.get());
}

TEST_F(ClientServiceTest, whenConnectedWhileConnectedFiresAtOnce) {
  service->startService();
  Client* c = endpoint->succeedLatest();
  EXPECT_EQ(successResultOf(service->whenConnected()), c);
}

TEST_F(ClientServiceTest, duplicateStartDoesNotConnectTwice) {
  service->startService();
  service->startService();
  EXPECT_EQ(endpoint->attempts.size(), 1u);
}

TEST_F(ClientServiceTest, retriesAFailedAttemptAfterThePolicysDelay) {
  service->startService();
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  EXPECT_EQ(policyCalls, std::vector<int>{1});
  clock.advance(Seconds(0.99));
  EXPECT_EQ(endpoint->attempts.size(), 1u);
  clock.advance(Seconds(0.01));
  ASSERT_EQ(endpoint->attempts.size(), 2u);
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  EXPECT_EQ(policyCalls, (std::vector<int>{1, 2}));
  clock.advance(Seconds(2));
  EXPECT_EQ(endpoint->attempts.size(), 3u);
}

TEST_F(ClientServiceTest, reconnectsAfterTheConnectionIsLost) {
  service->startService();
  Client* first = endpoint->succeedLatest();
  endpoint->loseConnection(0);
  EXPECT_TRUE(first->lost);
  auto next = service->whenConnected();
  assertNoResult(next);
  clock.advance(Seconds(1));
  ASSERT_EQ(endpoint->attempts.size(), 2u);
  Client* second = endpoint->succeedLatest();
  EXPECT_EQ(successResultOf(next), second);
  EXPECT_EQ(second->id, 2);
}

TEST_F(ClientServiceTest, aSuccessResetsTheFailureCount) {
  service->startService();
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  clock.advance(Seconds(1));
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  clock.advance(Seconds(2));
  endpoint->succeedLatest();
  endpoint->loseConnection(2);
  EXPECT_EQ(policyCalls, (std::vector<int>{1, 2, 1}));
}

TEST_F(ClientServiceTest, whenConnectedFailsAfterTheGivenNumberOfFailures) {
  service->startService();
  auto afterOne = service->whenConnected(1);
  auto afterTwo = service->whenConnected(2);
  auto never = service->whenConnected();
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  failureResultOf<ConnectionRefusedError>(afterOne);
  assertNoResult(afterTwo);
  clock.advance(Seconds(1));
  endpoint->failLatest(Failure(DNSLookupError("nowhere")));
  failureResultOf<DNSLookupError>(afterTwo);
  assertNoResult(never);
  clock.advance(Seconds(2));
  Client* c = endpoint->succeedLatest();
  EXPECT_EQ(successResultOf(never), c);
}

// ---- stopping
// --------------------------------------------------------------------------------------

TEST_F(ClientServiceTest, stopBeforeStartFiresAtOnce) {
  successResultOf(service->stopService());
  failureResultOf<CancelledError>(service->whenConnected());
  EXPECT_TRUE(endpoint->attempts.empty());
}

TEST_F(ClientServiceTest, stopWhileConnectingCancelsTheAttempt) {
  service->startService();
  auto waiter = service->whenConnected();
  auto stopped = service->stopService();
  EXPECT_FALSE(service->running());
  EXPECT_TRUE(endpoint->attempts[0]->cancelled);
  successResultOf(stopped);
  failureResultOf<CancelledError>(waiter);
  clock.advance(Seconds(100));
  EXPECT_EQ(endpoint->attempts.size(), 1u);
}

TEST_F(ClientServiceTest, stopWhileWaitingDropsTheRetry) {
  service->startService();
  auto waiter = service->whenConnected();
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  ASSERT_EQ(clock.getDelayedCalls().size(), 1u);
  successResultOf(service->stopService());
  failureResultOf<CancelledError>(waiter);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(Seconds(100));
  EXPECT_EQ(endpoint->attempts.size(), 1u);
}

TEST_F(ClientServiceTest, stopWhileConnectedLosesTheConnectionAndWaitsForIt) {
  service->startService();
  endpoint->succeedLatest();
  auto& attempt = *endpoint->attempts[0];
  // A transport that does not report the loss at once.
  auto slow = std::make_unique<StringTransport>();
  attempt.protocol->transport = slow.get();
  ScriptedEndpoint::client(attempt)->transport = slow.get();
  auto stopped = service->stopService();
  EXPECT_TRUE(slow->disconnecting());
  assertNoResult(stopped);
  auto waiter = service->whenConnected();
  assertNoResult(waiter);
  attempt.protocol->connectionLost(Failure(ConnectionDone()));
  successResultOf(stopped);
  failureResultOf<CancelledError>(waiter);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  failureResultOf<CancelledError>(service->whenConnected());
}

TEST_F(ClientServiceTest, everyStopWaitsForTheSameDisconnection) {
  service->startService();
  endpoint->succeedLatest();
  auto& attempt = *endpoint->attempts[0];
  StringTransport slow;
  attempt.protocol->transport = &slow;
  ScriptedEndpoint::client(attempt)->transport = &slow;
  auto first = service->stopService();
  auto second = service->stopService();
  assertNoResult(first);
  assertNoResult(second);
  attempt.protocol->connectionLost(Failure(ConnectionDone()));
  successResultOf(first);
  successResultOf(second);
}

TEST_F(ClientServiceTest, startWhileDisconnectingReconnectsOnceTheOldConnectionIsGone) {
  service->startService();
  endpoint->succeedLatest();
  auto& attempt = *endpoint->attempts[0];
  StringTransport slow;
  attempt.protocol->transport = &slow;
  ScriptedEndpoint::client(attempt)->transport = &slow;
  auto stopped = service->stopService();
  service->startService();
  EXPECT_EQ(endpoint->attempts.size(), 1u);
  attempt.protocol->connectionLost(Failure(ConnectionDone()));
  successResultOf(stopped);
  ASSERT_EQ(endpoint->attempts.size(), 2u);  // at once, not after a delay
  Client* c = endpoint->succeedLatest();
  EXPECT_EQ(successResultOf(service->whenConnected()), c);
}

TEST_F(ClientServiceTest, restartAfterStopConnectsAgain) {
  service->startService();
  endpoint->succeedLatest();
  successResultOf(service->stopService());  // StringTransportWithDisconnection: lost at once
  service->startService();
  ASSERT_EQ(endpoint->attempts.size(), 2u);
  Client* c = endpoint->succeedLatest();
  EXPECT_EQ(c->id, 2);
}

TEST_F(ClientServiceTest, destroyingTheServiceStopsEverything) {
  service->startService();
  auto waiter = service->whenConnected();
  endpoint->failLatest(Failure(ConnectionRefusedError()));
  ASSERT_EQ(clock.getDelayedCalls().size(), 1u);
  service.reset();
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  failureResultOf<CancelledError>(waiter);
}

TEST_F(ClientServiceTest, destroyingTheServiceWhileConnectingCancelsTheAttempt) {
  service->startService();
  service.reset();
  EXPECT_TRUE(endpoint->attempts[0]->cancelled);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST_F(ClientServiceTest, destroyingTheServiceClosesTheConnection) {
  service->startService();
  Client* c = endpoint->succeedLatest();
  service.reset();
  EXPECT_TRUE(c->lost);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

// ---- over a real endpoint
// --------------------------------------------------------------------------

TEST(ClientServiceOverEndpoint, keepsAConnectionUpThroughTCP4ClientEndpoint) {
  testing::MemoryReactor reactor;
  auto endpointFactory = std::make_shared<NumberingFactory>();
  ClientService service(std::make_shared<TCP4ClientEndpoint>(reactor, "192.0.2.1", 80),
                        endpointFactory, reactor,
                        backoffPolicy(1.0, 60.0, 1.5, [] { return 0.0; }));
  service.startService();
  ASSERT_EQ(reactor.tcpClients.size(), 1u);

  // The first attempt is refused; the retry comes 1.5 s later.
  auto& first = reactor.tcpClients[0];
  first.connector->setState(IConnector::State::disconnected);
  first.factory->clientConnectionFailed(*first.connector, Failure(ConnectionRefusedError()));
  reactor.advance(Seconds(1.49));
  EXPECT_EQ(reactor.tcpClients.size(), 1u);
  reactor.advance(Seconds(0.01));
  ASSERT_EQ(reactor.tcpClients.size(), 2u);

  auto& second = reactor.tcpClients[1];
  auto owned = second.factory->buildProtocol(Address::ip("192.0.2.1", 80));
  StringTransportWithDisconnection transport;
  second.connector->setState(IConnector::State::connected);
  transport.connect(*owned);
  Protocol* p = successResultOf(service.whenConnected());
  auto* client = dynamic_cast<Client*>(p);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->id, 1);
  EXPECT_EQ(client->transport, &transport);

  successResultOf(service.stopService());
  EXPECT_TRUE(client->lost);
  reactor.advance(Seconds(100));
  EXPECT_EQ(reactor.tcpClients.size(), 2u);
}

}  // namespace
}  // namespace torsion::app
