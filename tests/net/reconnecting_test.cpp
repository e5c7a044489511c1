// ReconnectingClientFactory on a testing::Clock with a fake connector and a scripted random
// source.
#include "torsion/net/reconnecting.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "torsion/net/errors.hpp"
#include "torsion/testing/clock.hpp"

namespace torsion {
namespace {

constexpr double kE = 2.7182818284590451;

// A connector that only counts what it is asked to do.
class FakeConnector : public IConnector {
 public:
  explicit FakeConnector(int* connects = nullptr) : externalConnects_(connects) {}
  void connect() override {
    if (state_ != State::disconnected) throw std::logic_error("not disconnected");
    state_ = State::connecting;
    ++connects;
    if (externalConnects_ != nullptr) ++*externalConnects_;
  }
  void disconnect() override { state_ = State::disconnected; }
  void stopConnecting() override {
    if (state_ != State::connecting) throw std::logic_error("not connecting");
    ++stops;
    state_ = State::disconnected;
  }
  Address getDestination() const override { return Address::ip("192.0.2.1", 80); }
  State state() const noexcept override { return state_; }

  // The attempt failed (as the reactor would report it).
  void fail(ReconnectingClientFactory& f) {
    state_ = State::disconnected;
    f.clientConnectionFailed(*this, Failure(ConnectionRefusedError()));
  }

  State state_ = State::connecting;
  int connects = 0;
  int stops = 0;

 private:
  int* externalConnects_;
};

struct Draw {
  double mean;
  double stddev;
};

// A random source that records what it was asked and answers mean * scale.
ReconnectingClientFactory::NormalVariate scripted(std::vector<Draw>& draws, double scale = 1.0) {
  return [&draws, scale](double mean, double stddev) {
    draws.push_back({mean, stddev});
    return mean * scale;
  };
}

class ReconnectingTest : public ::testing::Test {
 protected:
  testing::Clock clock;
  std::vector<Draw> draws;
  std::shared_ptr<ReconnectingClientFactory> factory =
      std::make_shared<ReconnectingClientFactory>(clock, nullptr, scripted(draws));
  std::shared_ptr<FakeConnector> connector = std::make_shared<FakeConnector>();
};

TEST_F(ReconnectingTest, hasTwistedsConstants) {
  EXPECT_EQ(factory->maxDelay, 3600);
  EXPECT_EQ(factory->initialDelay, 1.0);
  EXPECT_EQ(factory->factor, kE);
  EXPECT_EQ(factory->jitter, 0.119626565582);
  EXPECT_EQ(factory->delay, 1.0);
  EXPECT_EQ(factory->retries, 0);
  EXPECT_FALSE(factory->maxRetries.has_value());
  EXPECT_TRUE(factory->continueTrying());
}

TEST_F(ReconnectingTest, firstRetryWaitsInitialDelayTimesFactor) {
  connector->fail(*factory);
  ASSERT_TRUE(factory->pendingRetry().active());
  EXPECT_DOUBLE_EQ(factory->pendingRetry().getTime(), kE);
  clock.advance(Seconds(kE - 0.01));
  EXPECT_EQ(connector->connects, 0);
  clock.advance(Seconds(0.01));
  EXPECT_EQ(connector->connects, 1);
  EXPECT_EQ(factory->retries, 1);
}

TEST_F(ReconnectingTest, jitterDrawsAroundTheGrownDelay) {
  std::vector<Draw> mine;
  auto f = std::make_shared<ReconnectingClientFactory>(clock, nullptr, scripted(mine, 1.1));
  connector->fail(*f);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_DOUBLE_EQ(mine[0].mean, kE);
  EXPECT_DOUBLE_EQ(mine[0].stddev, kE * 0.119626565582);
  EXPECT_DOUBLE_EQ(f->delay, kE * 1.1);
  EXPECT_DOUBLE_EQ(f->pendingRetry().getTime(), kE * 1.1);

  clock.advance(Seconds(f->delay));
  connector->fail(*f);
  ASSERT_EQ(mine.size(), 2u);
  // The next delay grows from the jittered one, as in Twisted.
  EXPECT_DOUBLE_EQ(mine[1].mean, kE * 1.1 * kE);
}

TEST_F(ReconnectingTest, noJitterMeansNoDraw) {
  factory->jitter = 0;
  connector->fail(*factory);
  EXPECT_TRUE(draws.empty());
  EXPECT_DOUBLE_EQ(factory->delay, kE);
}

TEST_F(ReconnectingTest, delayGrowsByFactorUntilMaxDelay) {
  factory->maxDelay = 10;
  const std::vector<double> expected = {kE, kE * kE, 10, 10};
  for (const double d : expected) {
    connector->fail(*factory);
    EXPECT_DOUBLE_EQ(factory->delay, d);
    clock.advance(Seconds(factory->delay));
    EXPECT_EQ(connector->state(), IConnector::State::connecting);
  }
  EXPECT_EQ(connector->connects, 4);
  EXPECT_EQ(factory->retries, 4);
}

TEST_F(ReconnectingTest, givesUpAfterMaxRetries) {
  factory->maxRetries = 2;
  connector->fail(*factory);
  clock.advance(Seconds(100));
  connector->fail(*factory);
  clock.advance(Seconds(100));
  EXPECT_EQ(connector->connects, 2);
  connector->fail(*factory);
  EXPECT_FALSE(factory->pendingRetry().active());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  EXPECT_EQ(connector->connects, 2);
}

TEST_F(ReconnectingTest, lostConnectionIsRetriedToo) {
  connector->state_ = IConnector::State::disconnected;
  factory->clientConnectionLost(*connector, Failure(ConnectionLost()));
  clock.advance(Seconds(kE));
  EXPECT_EQ(connector->connects, 1);
}

TEST_F(ReconnectingTest, stopTryingCancelsThePendingRetry) {
  connector->fail(*factory);
  factory->stopTrying();
  EXPECT_FALSE(factory->continueTrying());
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(Seconds(100));
  EXPECT_EQ(connector->connects, 0);
  // Later failures are not retried either.
  connector->fail(*factory);
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

TEST_F(ReconnectingTest, stopTryingStopsAnAttemptInProgress) {
  connector->fail(*factory);
  clock.advance(Seconds(kE));
  ASSERT_EQ(connector->state(), IConnector::State::connecting);
  factory->stopTrying();
  EXPECT_EQ(connector->stops, 1);
  EXPECT_EQ(connector->state(), IConnector::State::disconnected);
}

TEST_F(ReconnectingTest, stopTryingLeavesAnEstablishedConnectionAlone) {
  connector->fail(*factory);
  clock.advance(Seconds(kE));
  connector->state_ = IConnector::State::connected;
  factory->stopTrying();
  EXPECT_EQ(connector->stops, 0);
  EXPECT_EQ(connector->state(), IConnector::State::connected);
}

TEST_F(ReconnectingTest, resetDelayStartsOverAndTurnsTryingBackOn) {
  connector->fail(*factory);
  clock.advance(Seconds(kE));
  connector->fail(*factory);
  EXPECT_EQ(factory->retries, 2);
  factory->stopTrying();
  factory->resetDelay();
  EXPECT_EQ(factory->retries, 0);
  EXPECT_EQ(factory->delay, 1.0);
  EXPECT_TRUE(factory->continueTrying());
  connector->fail(*factory);
  EXPECT_DOUBLE_EQ(factory->delay, kE);
}

TEST_F(ReconnectingTest, retryWithoutConnectorThrows) {
  EXPECT_THROW(factory->retry(), std::logic_error);
  FakeConnector onStack;
  EXPECT_THROW(factory->retry(&onStack), std::logic_error);
}

TEST_F(ReconnectingTest, retryWithoutArgumentUsesTheLastConnector) {
  connector->fail(*factory);
  clock.advance(Seconds(kE));
  connector->state_ = IConnector::State::disconnected;
  factory->retry();
  clock.advance(Seconds(100));
  EXPECT_EQ(connector->connects, 2);
}

TEST_F(ReconnectingTest, keepsTheConnectorAliveUntilTheRetryRan) {
  int connects = 0;
  auto c = std::make_shared<FakeConnector>(&connects);
  std::weak_ptr<FakeConnector> weak = c;
  c->fail(*factory);
  c.reset();
  EXPECT_FALSE(weak.expired());
  clock.advance(Seconds(kE));
  EXPECT_EQ(connects, 1);
  // Afterwards the factory holds it weakly only (the connector owns the factory).
  EXPECT_TRUE(weak.expired());
}

TEST_F(ReconnectingTest, destroyingTheFactoryCancelsThePendingRetry) {
  connector->fail(*factory);
  ASSERT_EQ(clock.getDelayedCalls().size(), 1u);
  factory.reset();
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(Seconds(100));
  EXPECT_EQ(connector->connects, 0);
}

TEST_F(ReconnectingTest, buildsProtocolsLikeAnyFactory) {
  struct P : Protocol {};
  auto f = ReconnectingClientFactory::forProtocol<P>(clock);
  auto p = f->buildProtocol(Address::ip("127.0.0.1", 1));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->factory, f.get());
}

TEST_F(ReconnectingTest, defaultRandomStaysNearTheDelay) {
  // Not a statistics test: one draw with sigma = 12% lands within 10 sigma.
  auto f = std::make_shared<ReconnectingClientFactory>(clock);
  connector->fail(*f);
  EXPECT_NEAR(f->delay, kE, 10 * kE * f->jitter);
}

}  // namespace
}  // namespace torsion
