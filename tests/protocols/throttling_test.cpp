// ThrottlingFactory (Twisted's ThrottlingTests), with the once-a-second checks on
// testing::Clock.
#include "torsion/protocols/throttling.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AccumulatingProtocol;
using testing::Clock;
using testing::StringTransport;
using testing::StringTransportWithDisconnection;

struct Connection {
  explicit Connection(Factory& factory) : protocol(factory.buildProtocol(transport.getPeer())) {
    if (protocol) transport.connect(*protocol);
  }
  AccumulatingProtocol& inner() const {
    return static_cast<AccumulatingProtocol&>(
        static_cast<ProtocolWrapper&>(*protocol).wrappedProtocol());
  }
  StringTransportWithDisconnection transport;
  std::unique_ptr<Protocol> protocol;
};

// A push producer that records what it was told.
class Producer : public IProducer {
 public:
  void stopProducing() override { events.emplace_back("stop"); }
  void resumeProducing() override { events.emplace_back("resume"); }
  void pauseProducing() override { events.emplace_back("pause"); }
  std::vector<std::string> events;
};

std::shared_ptr<ThrottlingFactory> throttling(Clock& clock, std::size_t maxConnections,
                                              std::optional<std::size_t> readLimit,
                                              std::optional<std::size_t> writeLimit) {
  return std::make_shared<ThrottlingFactory>(Factory::forProtocol<AccumulatingProtocol>(), clock,
                                             maxConnections, readLimit, writeLimit);
}

TEST(ThrottlingFactory, refusesConnectionsBeyondMaxConnectionCount) {
  Clock clock;
  auto factory = throttling(clock, 2, std::nullopt, std::nullopt);
  Connection a(*factory);
  Connection b(*factory);
  Connection c(*factory);
  EXPECT_NE(b.protocol, nullptr);
  EXPECT_EQ(c.protocol, nullptr);
  a.inner().transport->loseConnection();
  EXPECT_EQ(factory->connectionCount(), 1U);
  Connection d(*factory);
  EXPECT_NE(d.protocol, nullptr);
}

TEST(ThrottlingFactory, countsBytesReadAndWritten) {
  Clock clock;
  auto factory = throttling(clock, 10, std::nullopt, std::nullopt);
  Connection c(*factory);
  c.protocol->dataReceived("12345");
  c.inner().transport->write("abc");
  const std::string_view pieces[] = {"de", "f"};
  c.inner().transport->writeSequence(pieces);
  EXPECT_EQ(factory->readThisSecond(), 5U);
  EXPECT_EQ(factory->writtenThisSecond(), 6U);
  EXPECT_EQ(c.inner().data, "12345");
  EXPECT_EQ(c.transport.value(), "abcdef");
}

TEST(ThrottlingFactory, readsOverTheLimitPauseTransportsForTheExcess) {
  Clock clock;
  auto factory = throttling(clock, 10, 10, std::nullopt);
  Connection c(*factory);
  c.protocol->dataReceived(std::string(25, 'x'));
  clock.advance(milliseconds(999));
  EXPECT_EQ(c.transport.producerState(), StringTransport::kProducing);
  clock.advance(milliseconds(1));
  // 25 bytes at 10/s: paused for the 1.5 s the excess takes.
  EXPECT_EQ(c.transport.producerState(), StringTransport::kPaused);
  EXPECT_TRUE(factory->readsThrottled());
  clock.advance(milliseconds(1499));
  EXPECT_EQ(c.transport.producerState(), StringTransport::kPaused);
  clock.advance(milliseconds(1));
  EXPECT_EQ(c.transport.producerState(), StringTransport::kProducing);
  EXPECT_FALSE(factory->readsThrottled());
}

TEST(ThrottlingFactory, readsWithinTheLimitAreNotThrottled) {
  Clock clock;
  auto factory = throttling(clock, 10, 10, std::nullopt);
  Connection c(*factory);
  for (int second = 0; second < 5; ++second) {
    c.protocol->dataReceived(std::string(10, 'x'));
    clock.advance(seconds(1));
    EXPECT_EQ(c.transport.producerState(), StringTransport::kProducing);
  }
}

TEST(ThrottlingFactory, readLimitIsSharedByAllConnections) {
  Clock clock;
  auto factory = throttling(clock, 10, 10, std::nullopt);
  Connection a(*factory);
  Connection b(*factory);
  a.protocol->dataReceived(std::string(6, 'x'));
  b.protocol->dataReceived(std::string(6, 'x'));
  clock.advance(seconds(1));
  EXPECT_EQ(a.transport.producerState(), StringTransport::kPaused);
  EXPECT_EQ(b.transport.producerState(), StringTransport::kPaused);
}

TEST(ThrottlingFactory, connectionMadeWhileReadsAreThrottledStartsThrottled) {
  Clock clock;
  auto factory = throttling(clock, 10, 10, std::nullopt);
  Connection a(*factory);
  a.protocol->dataReceived(std::string(30, 'x'));
  clock.advance(seconds(1));
  Connection b(*factory);
  EXPECT_EQ(b.transport.producerState(), StringTransport::kPaused);
  clock.advance(seconds(2));
  EXPECT_EQ(b.transport.producerState(), StringTransport::kProducing);
}

TEST(ThrottlingFactory, writesOverTheLimitPauseTheRegisteredProducer) {
  Clock clock;
  auto factory = throttling(clock, 10, std::nullopt, 10);
  Connection c(*factory);
  Producer producer;
  c.inner().transport->registerProducer(producer, true);
  EXPECT_EQ(c.transport.producer(), &producer);
  c.inner().transport->write(std::string(20, 'x'));
  clock.advance(seconds(1));
  EXPECT_EQ(producer.events, std::vector<std::string>{"pause"});
  EXPECT_TRUE(factory->writesThrottled());
  clock.advance(seconds(1));
  EXPECT_EQ(producer.events, (std::vector<std::string>{"pause", "resume"}));
  // Reads are not touched by a write limit.
  EXPECT_EQ(c.transport.producerState(), StringTransport::kProducing);
}

TEST(ThrottlingFactory, writesWithoutAProducerAreNotSlowed) {
  Clock clock;
  auto factory = throttling(clock, 10, std::nullopt, 10);
  Connection c(*factory);
  c.inner().transport->write(std::string(100, 'x'));
  clock.advance(seconds(1));
  EXPECT_TRUE(factory->writesThrottled());
  c.inner().transport->write("more");
  EXPECT_EQ(c.transport.value().size(), 104U);
}

TEST(ThrottlingFactory, producerRegisteredWhileWritesAreThrottledStartsPaused) {
  Clock clock;
  auto factory = throttling(clock, 10, std::nullopt, 10);
  Connection c(*factory);
  c.inner().transport->write(std::string(100, 'x'));
  clock.advance(seconds(1));
  Producer producer;
  c.inner().transport->registerProducer(producer, true);
  EXPECT_EQ(producer.events, std::vector<std::string>{"pause"});
  c.inner().transport->unregisterProducer();
  clock.advance(seconds(10));
  EXPECT_EQ(producer.events, std::vector<std::string>{"pause"});
}

TEST(ThrottlingFactory, checksStopWithTheLastConnection) {
  Clock clock;
  auto factory = throttling(clock, 10, 10, 10);
  Connection a(*factory);
  EXPECT_EQ(clock.getDelayedCalls().size(), 2U);
  a.protocol->dataReceived(std::string(100, 'x'));
  clock.advance(seconds(1));
  EXPECT_EQ(clock.getDelayedCalls().size(), 3U);
  a.inner().transport->loseConnection();
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  EXPECT_FALSE(factory->readsThrottled());
}

TEST(ThrottlingFactory, destroyingTheFactoryCancelsItsChecks) {
  Clock clock;
  {
    auto factory = throttling(clock, 10, 10, 10);
    factory->checkReadBandwidth();
    factory->checkWriteBandwidth();
    EXPECT_EQ(clock.getDelayedCalls().size(), 2U);
  }
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  clock.advance(seconds(2));
}

TEST(ThrottlingFactory, zeroLimitIsRefused) {
  Clock clock;
  EXPECT_THROW(throttling(clock, 10, 0, std::nullopt), std::invalid_argument);
  EXPECT_THROW(throttling(clock, 10, std::nullopt, 0), std::invalid_argument);
}

}  // namespace
}  // namespace torsion::protocols
