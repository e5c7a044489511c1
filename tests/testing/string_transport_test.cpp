// StringTransport, StringTransportWithDisconnection and AccumulatingProtocol: Twisted's
// recording fakes, as protocol tests use them.
#include "torsion/testing/string_transport.hpp"

#include <gtest/gtest.h>

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/testing/accumulating_protocol.hpp"

namespace torsion::testing {
namespace {

// Writes back what it receives and counts the producer calls it gets.
class Echo : public Protocol {
 public:
  void dataReceived(std::string_view data) override { transport->write(data); }
};

class CountingProducer : public IProducer {
 public:
  void stopProducing() override { ++stops; }
  void resumeProducing() override { ++resumes; }
  void pauseProducing() override { ++pauses; }
  int stops = 0;
  int resumes = 0;
  int pauses = 0;
};

TEST(StringTransport, recordsWritesInOrder) {
  StringTransport transport;
  transport.write("hello, ");
  transport.write("world");
  EXPECT_EQ(transport.value(), "hello, world");
  EXPECT_EQ(transport.writeCount(), 2u);
}

TEST(StringTransport, writeSequenceAppendsEveryPieceAsOneWrite) {
  StringTransport transport;
  const std::array<std::string_view, 3> pieces{"a", "", "bc"};
  transport.writeSequence(pieces);
  EXPECT_EQ(transport.value(), "abc");
  EXPECT_EQ(transport.writeCount(), 1u);
}

TEST(StringTransport, keepsBinaryDataIntact) {
  StringTransport transport;
  const std::string bytes("\0\xff\r\n\0", 5);
  transport.write(bytes);
  EXPECT_EQ(transport.value(), bytes);
}

TEST(StringTransport, clearForgetsWhatWasWrittenButNotTheState) {
  StringTransport transport;
  transport.write("old");
  transport.loseConnection();
  transport.clear();
  EXPECT_EQ(transport.value(), "");
  transport.write("new");
  EXPECT_EQ(transport.value(), "new");
  EXPECT_TRUE(transport.disconnecting());
}

TEST(StringTransport, defaultAddressesAreTwisteds) {
  StringTransport transport;
  EXPECT_EQ(transport.getHost(), Address::ip("10.0.0.1", 12345));
  EXPECT_EQ(transport.getPeer(), Address::ip("192.168.1.1", 54321));
  EXPECT_EQ(transport.getHost().family(), Address::Family::ipv4);
  EXPECT_EQ(transport.getHost().type(), Address::Type::stream);
}

TEST(StringTransport, reportsTheAddressesItWasGiven) {
  StringTransport transport(Address::unix("/tmp/server.sock"), Address::ip("::1", 7));
  EXPECT_EQ(transport.getHost(), Address::unix("/tmp/server.sock"));
  EXPECT_EQ(transport.getPeer(), Address::ip("::1", 7));
  transport.setPeer(Address::ip("127.0.0.2", 8));
  EXPECT_EQ(transport.getPeer(), Address::ip("127.0.0.2", 8));
}

TEST(StringTransport, drivesAProtocolThroughMakeConnection) {
  StringTransport transport;
  Echo protocol;
  protocol.makeConnection(transport);
  EXPECT_EQ(protocol.transport, &transport);
  EXPECT_TRUE(protocol.connected);
  protocol.dataReceived("ping");
  EXPECT_EQ(transport.value(), "ping");
}

TEST(StringTransport, loseConnectionOnlyMarksItDisconnecting) {
  StringTransport transport;
  AccumulatingProtocol protocol;
  protocol.makeConnection(transport);
  EXPECT_FALSE(transport.disconnecting());
  transport.loseConnection();
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_FALSE(transport.aborted());
  EXPECT_FALSE(protocol.closed);  // the test delivers connectionLost itself
  transport.loseConnection();     // a second call changes nothing
  EXPECT_TRUE(transport.disconnecting());
}

TEST(StringTransport, recordsWritesAfterLoseConnectionSoThatATestSeesThem) {
  StringTransport transport;
  transport.loseConnection();
  transport.write("late");
  EXPECT_EQ(transport.value(), "late");
}

TEST(StringTransport, abortConnectionMarksItAbortedAndDisconnecting) {
  StringTransport transport;
  transport.abortConnection();
  EXPECT_TRUE(transport.aborted());
  EXPECT_TRUE(transport.disconnecting());
}

TEST(StringTransport, loseWriteConnectionIsRecordedWithoutDisconnecting) {
  StringTransport transport;
  EXPECT_FALSE(transport.writeConnectionLost());
  transport.loseWriteConnection();
  EXPECT_TRUE(transport.writeConnectionLost());
  EXPECT_FALSE(transport.disconnecting());
}

TEST(StringTransport, remembersTheRegisteredProducerAndItsKind) {
  StringTransport transport;
  CountingProducer producer;
  EXPECT_EQ(transport.producer(), nullptr);
  transport.registerProducer(producer, true);
  EXPECT_EQ(transport.producer(), &producer);
  EXPECT_TRUE(transport.streaming());
  transport.unregisterProducer();
  EXPECT_EQ(transport.producer(), nullptr);
  EXPECT_FALSE(transport.streaming());
  transport.registerProducer(producer, false);
  EXPECT_FALSE(transport.streaming());
}

TEST(StringTransport, leavesAPullProducerForTheTestToDrive) {
  StringTransport transport;
  CountingProducer producer;
  transport.registerProducer(producer, false);
  EXPECT_EQ(producer.resumes, 0);
  EXPECT_EQ(producer.stops, 0);
}

TEST(StringTransport, registeringASecondProducerThrows) {
  StringTransport transport;
  CountingProducer first;
  CountingProducer second;
  transport.registerProducer(first, true);
  EXPECT_THROW(transport.registerProducer(second, false), std::logic_error);
  EXPECT_EQ(transport.producer(), &first);
  EXPECT_TRUE(transport.streaming());
}

TEST(StringTransport, unregisteringWithoutAProducerThrows) {
  StringTransport transport;
  EXPECT_THROW(transport.unregisterProducer(), std::logic_error);
}

TEST(StringTransport, readSideStateFollowsPauseResumeAndStop) {
  StringTransport transport;
  EXPECT_EQ(transport.producerState(), "producing");
  transport.pauseProducing();
  EXPECT_EQ(transport.producerState(), "paused");
  transport.resumeProducing();
  EXPECT_EQ(transport.producerState(), "producing");
  transport.stopProducing();
  EXPECT_EQ(transport.producerState(), "stopped");
}

TEST(StringTransport, pausingOrResumingAfterLoseConnectionThrows) {
  StringTransport transport;
  transport.loseConnection();
  EXPECT_THROW(transport.pauseProducing(), std::logic_error);
  EXPECT_THROW(transport.resumeProducing(), std::logic_error);
  EXPECT_EQ(transport.producerState(), "producing");
}

TEST(StringTransport, resumingAStoppedReadSideThrows) {
  StringTransport transport;
  transport.stopProducing();
  EXPECT_THROW(transport.resumeProducing(), std::logic_error);
  EXPECT_THROW(transport.pauseProducing(), std::logic_error);
  EXPECT_EQ(transport.producerState(), "stopped");
}

TEST(StringTransport, recordsDescriptorsPassedToIt) {
  StringTransport transport;
  transport.sendFileDescriptor(7);
  transport.sendFileDescriptor(3);
  EXPECT_EQ(transport.fileDescriptors(), (std::vector<int>{7, 3}));
}

TEST(StringTransport, remembersSocketOptionsAndBufferSize) {
  StringTransport transport;
  EXPECT_FALSE(transport.getTcpNoDelay());
  EXPECT_FALSE(transport.getTcpKeepAlive());
  EXPECT_EQ(transport.writeBufferSize(), 64u * 1024u);
  transport.setTcpNoDelay(true);
  transport.setTcpKeepAlive(true);
  transport.setWriteBufferSize(10);
  EXPECT_TRUE(transport.getTcpNoDelay());
  EXPECT_TRUE(transport.getTcpKeepAlive());
  EXPECT_EQ(transport.writeBufferSize(), 10u);
  EXPECT_EQ(transport.bufferedBytes(), 0u);
}

TEST(StringTransportWithDisconnection, loseConnectionDeliversConnectionDoneOnce) {
  AccumulatingProtocol protocol;
  StringTransportWithDisconnection transport;
  transport.connect(protocol);
  EXPECT_TRUE(protocol.made);
  EXPECT_EQ(transport.protocol(), &protocol);
  transport.loseConnection();
  ASSERT_TRUE(protocol.closed);
  ASSERT_TRUE(protocol.closedReason.has_value());
  EXPECT_TRUE(protocol.closedReason->check<ConnectionDone>());
  EXPECT_FALSE(protocol.connected);
  EXPECT_FALSE(transport.connected());
  EXPECT_TRUE(transport.disconnecting());

  protocol.closed = false;
  transport.loseConnection();
  transport.abortConnection();
  EXPECT_FALSE(protocol.closed);
}

TEST(StringTransportWithDisconnection, abortConnectionDeliversConnectionAborted) {
  AccumulatingProtocol protocol;
  StringTransportWithDisconnection transport(protocol);
  protocol.makeConnection(transport);
  transport.abortConnection();
  ASSERT_TRUE(protocol.closedReason.has_value());
  EXPECT_TRUE(protocol.closedReason->check<ConnectionAborted>());
  EXPECT_TRUE(transport.aborted());
}

TEST(StringTransportWithDisconnection, withoutAProtocolOnlyRecordsTheClose) {
  StringTransportWithDisconnection transport;
  transport.loseConnection();
  EXPECT_FALSE(transport.connected());
  EXPECT_TRUE(transport.disconnecting());
}

TEST(StringTransportWithDisconnection, aProtocolClosingItselfFromDataReceivedSeesConnectionLost) {
  class Quitter : public AccumulatingProtocol {
   public:
    void dataReceived(std::string_view data) override {
      AccumulatingProtocol::dataReceived(data);
      if (data == "QUIT") {
        transport->write("bye");
        transport->loseConnection();
      }
    }
  };
  Quitter protocol;
  StringTransportWithDisconnection transport;
  transport.connect(protocol);
  protocol.dataReceived("QUIT");
  EXPECT_EQ(transport.value(), "bye");
  EXPECT_TRUE(protocol.closed);
}

TEST(AccumulatingProtocol, recordsDataAndTheConnectionEvents) {
  AccumulatingProtocol protocol;
  StringTransport transport;
  EXPECT_FALSE(protocol.made);
  protocol.makeConnection(transport);
  EXPECT_TRUE(protocol.made);
  EXPECT_FALSE(protocol.closed);
  protocol.dataReceived("ab");
  protocol.dataReceived("c");
  EXPECT_EQ(protocol.data, "abc");
  protocol.connectionLost(Failure(ConnectionLost()));
  EXPECT_TRUE(protocol.closed);
  ASSERT_TRUE(protocol.closedReason.has_value());
  EXPECT_TRUE(protocol.closedReason->check<ConnectionLost>());
}

TEST(AccumulatingProtocol, firesItsDeferredsOnceAndDropsThem) {
  AccumulatingProtocol protocol;
  StringTransport transport;
  Deferred<void> made;
  Deferred<void> closed;
  int madeCalls = 0;
  int closedCalls = 0;
  made.addCallback([&] { ++madeCalls; });
  closed.addCallback([&] { ++closedCalls; });
  protocol.madeDeferred = made;
  protocol.closedDeferred = closed;

  protocol.makeConnection(transport);
  EXPECT_EQ(madeCalls, 1);
  EXPECT_FALSE(protocol.madeDeferred);
  EXPECT_EQ(closedCalls, 0);

  protocol.connectionLost(Failure(ConnectionDone()));
  EXPECT_EQ(closedCalls, 1);
  EXPECT_FALSE(protocol.closedDeferred);
  protocol.connectionLost(Failure(ConnectionDone()));  // no second firing (AlreadyCalledError)
  EXPECT_EQ(closedCalls, 1);
}

TEST(AccumulatingProtocol, aCallbackMaySetTheNextDeferred) {
  AccumulatingProtocol protocol;
  Deferred<void> first;
  Deferred<void> second;
  first.addCallback([&] { protocol.closedDeferred = second; });
  protocol.closedDeferred = first;
  protocol.connectionLost(Failure(ConnectionDone()));
  EXPECT_TRUE(first.called());
  EXPECT_FALSE(second.called());
  EXPECT_TRUE(protocol.closedDeferred == second);
  protocol.connectionLost(Failure(ConnectionDone()));
  EXPECT_TRUE(second.called());
}

}  // namespace
}  // namespace torsion::testing
