// RelayProtocol: two connections spliced into one stream each way, driven through
// StringTransports (what each end asks of its transport) and through the in-memory loopback
// (backpressure and memory with transports that really buffer).
#include "torsion/protocols/relay.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "protocols/relay_helpers.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::StringTransport;
using testing::StringTransportWithDisconnection;

// Two relay ends, each on its own StringTransport, not spliced yet.
struct Ends {
  StringTransport ta;
  StringTransport tb;
  RelayProtocol a;
  RelayProtocol b;
  Ends() {
    a.makeConnection(ta);
    b.makeConnection(tb);
  }
};

TEST(Relay, splicedEndsForwardBytesBothWaysInOrder) {
  Ends e;
  RelayProtocol::splice(e.a, e.b);
  e.a.dataReceived("one ");
  e.b.dataReceived("reply ");
  e.a.dataReceived("two");
  e.b.dataReceived("again");
  EXPECT_EQ(e.tb.value(), "one two");
  EXPECT_EQ(e.ta.value(), "reply again");
  EXPECT_EQ(e.a.peer(), &e.b);
  EXPECT_EQ(e.b.peer(), &e.a);
}

TEST(Relay, bytesReadBeforeTheSpliceAreHandedOverAtTheSpliceBeforeLaterOnes) {
  Ends e;
  e.a.dataReceived("early ");
  e.b.dataReceived("first ");
  EXPECT_EQ(e.a.pendingBytes(), 6u);
  EXPECT_EQ(e.tb.value(), "");
  RelayProtocol::splice(e.a, e.b);
  EXPECT_EQ(e.a.pendingBytes(), 0u);
  e.a.dataReceived("late");
  e.b.dataReceived("second");
  EXPECT_EQ(e.tb.value(), "early late");
  EXPECT_EQ(e.ta.value(), "first second");
}

TEST(Relay, readingPausesWhenTooMuchIsKeptForAPeerNotSplicedYet) {
  StringTransport ta;
  StringTransport tb;
  RelayProtocol a(10);
  RelayProtocol b;
  a.makeConnection(ta);
  b.makeConnection(tb);
  a.dataReceived("12345");
  EXPECT_EQ(ta.producerState(), StringTransport::kProducing);
  a.dataReceived("67890");
  EXPECT_EQ(ta.producerState(), StringTransport::kPaused);
  EXPECT_TRUE(a.readingPaused());
  RelayProtocol::splice(a, b);
  EXPECT_EQ(tb.value(), "1234567890");
  EXPECT_EQ(ta.producerState(), StringTransport::kProducing);
}

TEST(Relay, awaitPeerPausesReadingUntilTheSplice) {
  Ends e;
  e.a.awaitPeer();
  EXPECT_EQ(e.ta.producerState(), StringTransport::kPaused);
  RelayProtocol::splice(e.a, e.b);
  EXPECT_EQ(e.ta.producerState(), StringTransport::kProducing);
  EXPECT_EQ(e.tb.producerState(), StringTransport::kProducing);
}

TEST(Relay, eachEndIsTheStreamingProducerOfTheOthersTransport) {
  Ends e;
  RelayProtocol::splice(e.a, e.b);
  EXPECT_EQ(e.tb.producer(), &e.a);
  EXPECT_TRUE(e.tb.streaming());
  EXPECT_EQ(e.ta.producer(), &e.b);
  EXPECT_TRUE(e.ta.streaming());
}

TEST(Relay, aFullTransportPausesReadingOnTheOtherSideUntilItDrains) {
  Ends e;
  RelayProtocol::splice(e.a, e.b);
  // b's transport is over its high-water mark: a must stop reading.
  e.tb.producer()->pauseProducing();
  EXPECT_EQ(e.ta.producerState(), StringTransport::kPaused);
  EXPECT_EQ(e.tb.producerState(), StringTransport::kProducing);
  e.tb.producer()->resumeProducing();
  EXPECT_EQ(e.ta.producerState(), StringTransport::kProducing);
  // And the other direction.
  e.ta.producer()->pauseProducing();
  EXPECT_EQ(e.tb.producerState(), StringTransport::kPaused);
  e.ta.producer()->resumeProducing();
  EXPECT_EQ(e.tb.producerState(), StringTransport::kProducing);
}

TEST(Relay, backpressureBeforeTheSpliceEndsKeepsReadingPausedUntilDrained) {
  Ends e;
  e.a.awaitPeer();
  RelayProtocol::splice(e.a, e.b);
  e.tb.producer()->pauseProducing();
  EXPECT_EQ(e.ta.producerState(), StringTransport::kPaused);
  // A pause from the peer and the end of the wait are separate reasons: resuming one keeps
  // the other.
  e.tb.producer()->resumeProducing();
  EXPECT_EQ(e.ta.producerState(), StringTransport::kProducing);
}

TEST(Relay, aHalfCloseIsPassedOnAndTheReaderStopsProducingForThePeer) {
  Ends e;
  RelayProtocol::splice(e.a, e.b);
  e.a.dataReceived("last words");
  e.a.readConnectionLost();
  EXPECT_TRUE(e.tb.writeConnectionLost());
  EXPECT_EQ(e.tb.value(), "last words");
  // Nothing more comes from a: b's transport must not wait for it to close its write side.
  EXPECT_EQ(e.tb.producer(), nullptr);
  EXPECT_FALSE(e.ta.writeConnectionLost());
  EXPECT_FALSE(e.ta.disconnecting());
  // The other direction goes on.
  e.b.dataReceived("answer");
  EXPECT_EQ(e.ta.value(), "answer");
}

TEST(Relay, aHalfCloseReadBeforeTheSpliceIsPassedOnAfterTheKeptBytes) {
  Ends e;
  e.a.dataReceived("request");
  e.a.readConnectionLost();
  EXPECT_FALSE(e.tb.writeConnectionLost());
  RelayProtocol::splice(e.a, e.b);
  EXPECT_EQ(e.tb.value(), "request");
  EXPECT_TRUE(e.tb.writeConnectionLost());
}

TEST(Relay, anEndWhoseBothDirectionsAreShutLosesItsConnection) {
  Ends e;
  RelayProtocol::splice(e.a, e.b);
  e.a.readConnectionLost();
  EXPECT_FALSE(e.ta.disconnecting());
  e.a.writeConnectionLost();
  EXPECT_TRUE(e.ta.disconnecting());
  // The same in the other order.
  e.b.writeConnectionLost();
  EXPECT_FALSE(e.tb.disconnecting());
  e.b.readConnectionLost();
  EXPECT_TRUE(e.tb.disconnecting());
}

TEST(Relay, aLostConnectionLosesThePeersAfterItsBufferAndDetachesBoth) {
  StringTransportWithDisconnection ta;
  StringTransport tb;
  RelayProtocol a;
  RelayProtocol b;
  ta.connect(a);
  b.makeConnection(tb);
  RelayProtocol::splice(a, b);
  a.dataReceived("flushed before the close");
  ta.loseConnection();  // a's connectionLost runs inside
  EXPECT_TRUE(tb.disconnecting());
  EXPECT_FALSE(tb.aborted());  // loseConnection, which sends what b's transport holds
  EXPECT_EQ(tb.value(), "flushed before the close");
  EXPECT_EQ(a.peer(), nullptr);
  EXPECT_EQ(b.peer(), nullptr);
  // Neither transport keeps a producer that is going away.
  EXPECT_EQ(tb.producer(), nullptr);
  EXPECT_EQ(ta.producer(), nullptr);
  // What b still reads has nowhere to go.
  b.dataReceived("dropped");
  EXPECT_EQ(ta.value(), "");
  EXPECT_EQ(b.pendingBytes(), 0u);
}

TEST(Relay, stopProducingFromThePeersTransportLosesThisEnd) {
  Ends e;
  RelayProtocol::splice(e.a, e.b);
  // b's transport is gone (as a real transport does when its connection closes).
  e.tb.producer()->stopProducing();
  EXPECT_TRUE(e.ta.disconnecting());
  EXPECT_EQ(e.a.peer(), nullptr);
  EXPECT_EQ(e.b.peer(), nullptr);
  EXPECT_EQ(e.ta.producer(), nullptr);
}

TEST(Relay, anEndLostBeforeTheSpliceCannotBeSplicedAndKeepsNothing) {
  StringTransportWithDisconnection ta;
  StringTransport tb;
  RelayProtocol a;
  RelayProtocol b;
  ta.connect(a);
  b.makeConnection(tb);
  a.dataReceived("kept");
  ta.loseConnection();
  EXPECT_EQ(a.pendingBytes(), 0u);
  EXPECT_THROW(RelayProtocol::splice(a, b), std::logic_error);
  EXPECT_EQ(b.peer(), nullptr);
}

TEST(Relay, spliceRefusesAnEndAlreadySplicedOrItself) {
  Ends e;
  StringTransport tc;
  RelayProtocol c;
  c.makeConnection(tc);
  EXPECT_THROW(RelayProtocol::splice(e.a, e.a), std::logic_error);
  RelayProtocol::splice(e.a, e.b);
  EXPECT_THROW(RelayProtocol::splice(e.a, c), std::logic_error);
  EXPECT_THROW(RelayProtocol::splice(c, e.b), std::logic_error);
}

TEST(Relay, destroyingAnEndDetachesItsPeerAndUnregistersFromItsTransport) {
  StringTransport ta;
  StringTransport tb;
  RelayProtocol b;
  b.makeConnection(tb);
  {
    RelayProtocol a;
    a.makeConnection(ta);
    RelayProtocol::splice(a, b);
  }
  EXPECT_EQ(b.peer(), nullptr);
  EXPECT_EQ(tb.producer(), nullptr);
}

// ---- over the loopback: transports that buffer -------------------------------------------

TEST(Relay, aPeerThatStopsReadingHoldsTheRelayToBoundedMemory) {
  testing::LoopbackOptions options;
  options.greet = false;
  RelayProtocol near;  // faces the slow reader
  RelayProtocol far;   // faces the fast writer
  test::Sink reader;
  test::Firehose writer(8 * 1024 * 1024);
  testing::IOPump readerSide = testing::connect(near, reader, options);
  testing::IOPump writerSide = testing::connect(writer, far, options);
  RelayProtocol::splice(near, far);
  readerSide.clientTransport().pauseProducing();  // the reader reads nothing

  std::size_t most = 0;
  for (int i = 0; i < 2000; ++i) {
    const bool writerMoved = writerSide.pump();
    const bool moved = readerSide.pump() || writerMoved;
    most = std::max(most, readerSide.serverTransport().bufferedBytes());
    if (!moved) break;
  }
  // At most the high-water mark plus one read (64 KiB each) waits in the near transport, and
  // the far side has stopped reading, which stopped the writer.
  EXPECT_LE(most, 2u * 64 * 1024);
  EXPECT_TRUE(writerSide.clientTransport().readPaused());
  EXPECT_TRUE(writerSide.serverTransport().producerPaused());
  EXPECT_LT(writer.sent(), 1024u * 1024);

  // Once the reader reads again, everything arrives, in order.
  readerSide.clientTransport().resumeProducing();
  for (int i = 0; i < 100000; ++i) {
    const bool writerMoved = writerSide.pump();
    const bool moved = readerSide.pump() || writerMoved;
    if (!moved) break;
  }
  EXPECT_EQ(writer.sent(), 8u * 1024 * 1024);
  EXPECT_EQ(reader.received.size(), 8u * 1024 * 1024);
  EXPECT_TRUE(test::Firehose::matches(reader.received));
}

}  // namespace
}  // namespace torsion::protocols
