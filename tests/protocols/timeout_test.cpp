// TimeoutMixin (Twisted's TimeoutMixinTests) and TimeoutFactory (TimeoutFactoryTests), on
// testing::Clock.
#include "torsion/protocols/timeout.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "torsion/net/errors.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/protocols/timeout_factory.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using std::chrono::seconds;
using testing::AccumulatingProtocol;
using testing::Clock;
using testing::StringTransport;
using testing::StringTransportWithDisconnection;

class TimingOut : public Protocol, public TimeoutMixin {
 public:
  explicit TimingOut(IReactorTime& clock) : TimeoutMixin(clock) {}
  void timeoutConnection() override {
    ++timedOut;
    TimeoutMixin::timeoutConnection();
  }
  int timedOut = 0;
};

struct Fixture {
  Fixture() { protocol.makeConnection(transport); }
  Clock clock;
  StringTransport transport;
  TimingOut protocol{clock};
};

TEST(TimeoutMixin, timesOutWhenThePeriodRunsOut) {
  Fixture f;
  f.protocol.setTimeout(seconds(3));
  f.clock.advance(seconds(2));
  EXPECT_EQ(f.protocol.timedOut, 0);
  f.clock.advance(seconds(1));
  EXPECT_EQ(f.protocol.timedOut, 1);
  EXPECT_TRUE(f.transport.disconnecting());
  EXPECT_TRUE(f.clock.getDelayedCalls().empty());
}

TEST(TimeoutMixin, noTimeoutUntilAPeriodIsSet) {
  Fixture f;
  EXPECT_EQ(f.protocol.timeOut(), std::nullopt);
  f.protocol.resetTimeout();
  EXPECT_TRUE(f.clock.getDelayedCalls().empty());
  f.clock.advance(seconds(1000));
  EXPECT_EQ(f.protocol.timedOut, 0);
}

TEST(TimeoutMixin, resetTimeoutRestartsTheCountdown) {
  Fixture f;
  f.protocol.setTimeout(seconds(3));
  f.clock.advance(seconds(2));
  f.protocol.resetTimeout();
  f.clock.advance(seconds(2));
  EXPECT_EQ(f.protocol.timedOut, 0);
  f.clock.advance(seconds(1));
  EXPECT_EQ(f.protocol.timedOut, 1);
}

TEST(TimeoutMixin, setTimeoutReturnsThePreviousPeriod) {
  Fixture f;
  EXPECT_EQ(f.protocol.setTimeout(seconds(5)), std::nullopt);
  EXPECT_EQ(f.protocol.setTimeout(seconds(7)), Seconds(5));
  EXPECT_EQ(f.protocol.setTimeout(std::nullopt), Seconds(7));
  EXPECT_EQ(f.protocol.timeOut(), std::nullopt);
}

TEST(TimeoutMixin, setTimeoutNoneStopsTheTimeout) {
  Fixture f;
  f.protocol.setTimeout(seconds(3));
  f.protocol.setTimeout(std::nullopt);
  EXPECT_TRUE(f.clock.getDelayedCalls().empty());
  f.clock.advance(seconds(10));
  EXPECT_EQ(f.protocol.timedOut, 0);
  f.protocol.resetTimeout();
  EXPECT_TRUE(f.clock.getDelayedCalls().empty());
}

TEST(TimeoutMixin, setTimeoutWhileRunningRestartsWithTheNewPeriod) {
  Fixture f;
  f.protocol.setTimeout(seconds(3));
  f.clock.advance(seconds(2));
  f.protocol.setTimeout(seconds(5));
  f.clock.advance(seconds(4));
  EXPECT_EQ(f.protocol.timedOut, 0);
  f.clock.advance(seconds(1));
  EXPECT_EQ(f.protocol.timedOut, 1);
  EXPECT_EQ(f.clock.seconds(), 7.0);
}

TEST(TimeoutMixin, resetAfterTimingOutDoesNothing) {
  Fixture f;
  f.protocol.setTimeout(seconds(1));
  f.clock.advance(seconds(1));
  f.protocol.resetTimeout();
  EXPECT_TRUE(f.clock.getDelayedCalls().empty());
  f.clock.advance(seconds(5));
  EXPECT_EQ(f.protocol.timedOut, 1);
}

TEST(TimeoutMixin, setTimeoutAfterTimingOutStartsANewOne) {
  Fixture f;
  f.protocol.setTimeout(seconds(1));
  f.clock.advance(seconds(1));
  f.protocol.setTimeout(seconds(2));
  f.clock.advance(seconds(2));
  EXPECT_EQ(f.protocol.timedOut, 2);
}

TEST(TimeoutMixin, destroyingTheMixinCancelsTheTimeout) {
  Clock clock;
  StringTransport transport;
  {
    TimingOut protocol(clock);
    protocol.makeConnection(transport);
    protocol.setTimeout(seconds(1));
    EXPECT_EQ(clock.getDelayedCalls().size(), 1U);
  }
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(2));
  EXPECT_FALSE(transport.disconnecting());
}

TEST(TimeoutMixin, defaultLosesTheConnectionOfTheProtocolItIsMixedInto) {
  class Plain : public Protocol, public TimeoutMixin {
   public:
    explicit Plain(IReactorTime& clock) : TimeoutMixin(clock) {}
    void connectionLost(const Failure& reason) override {
      lost = reason.check<ConnectionDone>();
      setTimeout(std::nullopt);
    }
    bool lost = false;
  };
  Clock clock;
  Plain protocol(clock);
  StringTransportWithDisconnection transport;
  transport.connect(protocol);
  protocol.setTimeout(seconds(1));
  clock.advance(seconds(1));
  EXPECT_TRUE(protocol.lost);
}

TEST(TimeoutMixin, withoutAProtocolTheDefaultDoesNothing) {
  class Bare : public TimeoutMixin {
   public:
    using TimeoutMixin::TimeoutMixin;
  };
  Clock clock;
  Bare bare(clock);
  bare.setTimeout(seconds(1));
  clock.advance(seconds(1));
  EXPECT_TRUE(clock.getDelayedCalls().empty());
}

// ---- TimeoutFactory ---------------------------------------------------------------------------

struct Served {
  explicit Served(std::optional<Seconds> period = seconds(3))
      : factory(std::make_shared<TimeoutFactory>(Factory::forProtocol<AccumulatingProtocol>(),
                                                 clock, period)) {
    protocol = factory->buildProtocol(transport.getPeer());
    transport.connect(*protocol);
  }
  AccumulatingProtocol& inner() const {
    return static_cast<AccumulatingProtocol&>(
        static_cast<ProtocolWrapper&>(*protocol).wrappedProtocol());
  }
  Clock clock;
  std::shared_ptr<TimeoutFactory> factory;
  StringTransportWithDisconnection transport;
  std::unique_ptr<Protocol> protocol;
};

TEST(TimeoutFactory, dropsAnIdleConnection) {
  Served s;
  s.clock.advance(seconds(2));
  EXPECT_FALSE(s.inner().closed);
  s.clock.advance(seconds(1));
  EXPECT_TRUE(s.inner().closed);
  EXPECT_TRUE(s.inner().transport->disconnecting());
}

TEST(TimeoutFactory, bytesReadRestartTheTimeout) {
  Served s;
  s.clock.advance(seconds(2));
  s.protocol->dataReceived("x");
  s.clock.advance(seconds(2));
  EXPECT_FALSE(s.inner().closed);
  EXPECT_EQ(s.inner().data, "x");
  s.clock.advance(seconds(1));
  EXPECT_TRUE(s.inner().closed);
}

TEST(TimeoutFactory, bytesWrittenRestartTheTimeout) {
  Served s;
  s.clock.advance(seconds(2));
  s.inner().transport->write("a");
  s.clock.advance(seconds(2));
  const std::string_view pieces[] = {"b", "c"};
  s.inner().transport->writeSequence(pieces);
  s.clock.advance(seconds(2));
  EXPECT_FALSE(s.inner().closed);
  EXPECT_EQ(s.transport.value(), "abc");
  s.clock.advance(seconds(1));
  EXPECT_TRUE(s.inner().closed);
}

TEST(TimeoutFactory, connectionLostStopsTheTimeout) {
  Served s;
  s.inner().transport->loseConnection();
  EXPECT_TRUE(s.inner().closed);
  EXPECT_TRUE(s.clock.getDelayedCalls().empty());
}

TEST(TimeoutFactory, noPeriodMeansNoTimeout) {
  Served s(std::nullopt);
  EXPECT_TRUE(s.clock.getDelayedCalls().empty());
  s.clock.advance(seconds(3600));
  EXPECT_FALSE(s.inner().closed);
}

TEST(TimeoutFactory, defaultPeriodIsThirtyMinutes) {
  Clock clock;
  TimeoutFactory factory(Factory::forProtocol<AccumulatingProtocol>(), clock);
  EXPECT_EQ(factory.timeoutPeriod, Seconds(1800));
}

}  // namespace
}  // namespace torsion::protocols
