// HTTP11ClientProtocol through a StringTransport: the exact bytes sent, responses fed whole and
// byte by byte, bodies (Content-Length, chunked, none, close-delimited), backpressure, the
// ways an exchange fails, and when the connection may be reused.
#include "torsion/web/client_protocol.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "torsion/defer/errors.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/log_capture.hpp"
#include "torsion/testing/string_transport.hpp"
#include "web/client_helpers.hpp"

namespace torsion::web {
namespace {

using testing::assertNoResult;
using testing::failureResultOf;
using testing::successResultOf;
using ResponsePtr = std::unique_ptr<Response>;

class ClientProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    transport.connect(protocol);
    protocol.quiescentCallback = [this](HTTP11ClientProtocol&) { ++quiescent; };
  }

  static ClientRequest req(std::string method = "GET", std::string target = "/") {
    ClientRequest r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers.addRawHeader("Host", "example.com");
    return r;
  }
  Deferred<ResponsePtr> send(ClientRequest r) { return protocol.request(std::move(r)); }
  void feed(std::string_view bytes) { protocol.dataReceived(bytes); }
  void feedBytewise(std::string_view bytes) {
    for (char c : bytes) protocol.dataReceived(std::string_view(&c, 1));
  }

  torsion::testing::StringTransportWithDisconnection transport;
  HTTP11ClientProtocol protocol;
  int quiescent = 0;
};

// ---- what is sent ----------------------------------------------------------------------------

TEST_F(ClientProtocol, sendsTheRequestLineAndHeadersExactly) {
  ClientRequest r = req("GET", "/a/b?c=d");
  r.headers.addRawHeader("Accept", "*/*");
  auto d = send(std::move(r));
  EXPECT_EQ(transport.value(), "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Waiting);
  assertNoResult(d);
  transport.loseConnection();
  failureResultOf<ResponseNeverReceived>(d);
}

TEST_F(ClientProtocol, stringBodyGoesWithItsHeadInOneWrite) {
  ClientRequest r = req("POST", "/form");
  r.body = std::make_shared<StringBodyProducer>("hello");
  auto d = send(std::move(r));
  EXPECT_EQ(transport.value(),
            "POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(transport.writeCount(), 1u);
  EXPECT_EQ(transport.producer(), nullptr);  // registered while producing, gone once done
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Waiting);
  feed(test::ok(""));
  EXPECT_EQ(successResultOf(d)->code, 200);
}

TEST_F(ClientProtocol, postAndPutWithoutBodySendContentLengthZero) {
  auto d = send(req("PUT"));
  EXPECT_EQ(transport.value(), "PUT / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n");
  feed(test::ok(""));
  successResultOf(d);
}

TEST_F(ClientProtocol, bodyOfUnknownLengthIsChunkedAndRegisteredAsProducer) {
  auto body = std::make_shared<PipeBodyProducer>();
  ClientRequest r = req("POST", "/up");
  r.body = body;
  auto d = send(std::move(r));
  EXPECT_EQ(transport.value(),
            "POST /up HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(transport.producer(), body.get());
  EXPECT_TRUE(transport.streaming());
  transport.clear();
  body->write("abc");
  body->write(std::string(17, 'x'));
  EXPECT_EQ(transport.value(), "3\r\nabc\r\n11\r\n" + std::string(17, 'x') + "\r\n");
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Transmitting);
  transport.clear();
  body->finish();
  EXPECT_EQ(transport.value(), "0\r\n\r\n");
  EXPECT_EQ(transport.producer(), nullptr);
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Waiting);
  feed(test::ok(""));
  successResultOf(d);
}

TEST_F(ClientProtocol, callersFramingFieldsAreDroppedAndNonPersistentSaysClose) {
  ClientRequest r = req("POST");
  r.headers.addRawHeader("Content-Length", "99");
  r.headers.addRawHeader("Transfer-Encoding", "gzip");
  r.body = std::make_shared<StringBodyProducer>("ab");
  r.persistent = false;
  auto d = send(std::move(r));
  EXPECT_EQ(transport.value(),
            "POST / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nContent-Length: "
            "2\r\n\r\nab");
  feed(test::ok(""));
  successResultOf(d);
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_EQ(quiescent, 0);
}

TEST_F(ClientProtocol, refusesAnInvalidMethodOrTarget) {
  failureResultOf<std::invalid_argument>(send(req("GE T")));
  failureResultOf<InvalidURL>(send(req("GET", "/a b")));
  failureResultOf<InvalidURL>(send(req("GET", "/a\r\nX: y")));
  failureResultOf<InvalidURL>(send(req("GET", "/%zz")));
  EXPECT_EQ(transport.value(), "");
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Quiescent);
}

TEST_F(ClientProtocol, aSecondRequestWhileBusyIsNotSent) {
  auto first = send(req());
  failureResultOf<RequestNotSent>(send(req()));
  assertNoResult(first);
  feed(test::ok(""));
  successResultOf(first);
}

// ---- responses ---------------------------------------------------------------------------------

TEST_F(ClientProtocol, responseFedByteByByte) {
  auto d = send(req());
  feedBytewise("HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhel");
  ResponsePtr r = successResultOf(d);
  EXPECT_EQ(r->code, 201);
  EXPECT_EQ(r->phrase, "Created");
  EXPECT_EQ(r->version.minor, 1);
  EXPECT_EQ(r->headers.getHeader("x-a"), "b");
  EXPECT_EQ(r->length, 5u);
  EXPECT_EQ(r->request.method, "GET");
  auto body = readBody(std::move(r));
  assertNoResult(body);
  feedBytewise("lo");
  EXPECT_EQ(successResultOf(body), "hello");
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Quiescent);
  EXPECT_EQ(quiescent, 1);
  EXPECT_FALSE(transport.disconnecting());
}

TEST_F(ClientProtocol, chunkedBodyIsDeChunkedAndHasNoLength) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n");
  ResponsePtr r = successResultOf(d);
  EXPECT_FALSE(r->length.has_value());
  auto body = readBody(std::move(r));
  feedBytewise("0\r\nTrailer: x\r\n\r\n");
  EXPECT_EQ(successResultOf(body), "hello world");
  EXPECT_EQ(quiescent, 1);
}

TEST_F(ClientProtocol, headResponseHasNoBodyWhateverItsContentLength) {
  auto d = send(req("HEAD"));
  feed("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
  ResponsePtr r = successResultOf(d);
  EXPECT_EQ(r->length, 0u);
  EXPECT_EQ(r->headers.getHeader("Content-Length"), "1000");
  // The connection is free again without the body being asked for.
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Quiescent);
  EXPECT_EQ(quiescent, 1);
  EXPECT_EQ(successResultOf(readBody(std::move(r))), "");
}

TEST_F(ClientProtocol, noBodyFor204And304) {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    auto d = send(req());
    feed(std::string("HTTP/1.1 ") + status + "\r\n\r\n");
    ResponsePtr r = successResultOf(d);
    EXPECT_EQ(r->length, 0u);
    auto log = test::deliverTo(*r);
    ASSERT_TRUE(log->end.has_value());
    EXPECT_TRUE(log->end->check<ResponseDone>());
    EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Quiescent);
  }
  EXPECT_EQ(quiescent, 2);
}

TEST_F(ClientProtocol, interimResponsesAreSkipped) {
  auto d = send(req());
  feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n");
  assertNoResult(d);
  feed("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ResponsePtr r = successResultOf(d);
  EXPECT_EQ(r->code, 200);
  EXPECT_FALSE(r->headers.hasHeader("Link"));
  EXPECT_EQ(successResultOf(readBody(std::move(r))), "ok");
}

TEST_F(ClientProtocol, closeDelimitedBodyEndsWithPotentialDataLoss) {
  auto d = send(req());
  feed("HTTP/1.0 200 OK\r\n\r\nabc");
  ResponsePtr r = successResultOf(d);
  EXPECT_EQ(r->version.minor, 0);
  EXPECT_FALSE(r->length.has_value());
  auto log = test::deliverTo(*r);
  feed("def");
  EXPECT_FALSE(log->end.has_value());
  transport.loseConnection();
  EXPECT_EQ(log->data, "abcdef");
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<PotentialDataLoss>());
  EXPECT_EQ(quiescent, 0);
}

TEST_F(ClientProtocol, readBodyOfCloseDelimitedBodyIsPartialDownloadErrorWithTheBody) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc");
  auto body = readBody(successResultOf(d));
  transport.loseConnection();
  Failure f = failureResultOf<PartialDownloadError>(body);
  EXPECT_EQ(f.value<PartialDownloadError>()->body(), "abc");
  EXPECT_EQ(f.value<PartialDownloadError>()->code(), 200);
}

TEST_F(ClientProtocol, bodyThatEndedBeforeDeliverBodyIsDeliveredWhole) {
  auto d = send(req());
  ResponsePtr r;
  d.addCallback([&](ResponsePtr got) { r = std::move(got); });
  feed("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nfirst ");
  ASSERT_TRUE(r);
  // Nobody asked for the body yet: the connection stops reading, and keeps what it has.
  EXPECT_EQ(transport.producerState(), torsion::testing::StringTransport::kPaused);
  feed("second");
  transport.loseConnection();
  auto log = test::deliverTo(*r);
  EXPECT_EQ(log->data, "first second");
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<PotentialDataLoss>());
}

TEST_F(ClientProtocol, invalidResponseFailsWithTheParsersReason) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\nx");
  Failure f = failureResultOf<ResponseFailed>(d);
  const auto* e = f.value<ResponseFailed>();
  ASSERT_TRUE(e->hasReason<ResponseParseError>());
  EXPECT_NE(std::string(e->what()).find("bare LF"), std::string::npos) << e->what();
  EXPECT_TRUE(transport.aborted());
  EXPECT_EQ(quiescent, 0);
}

TEST_F(ClientProtocol, invalidChunkInTheBodyFailsTheReceiver) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  auto log = test::deliverTo(*successResultOf(d));
  feed("zz\r\n");
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<ResponseFailed>());
  EXPECT_TRUE(log->end->value<ResponseFailed>()->hasReason<ResponseParseError>());
  EXPECT_TRUE(transport.aborted());
}

TEST_F(ClientProtocol, unexpected101IsAFailure) {
  auto d = send(req());
  feed("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n");
  failureResultOf<ResponseFailed>(d);
  EXPECT_TRUE(transport.aborted());
}

// ---- reuse -------------------------------------------------------------------------------------

TEST_F(ClientProtocol, sequentialRequestsShareTheConnection) {
  for (int i = 0; i < 3; ++i) {
    transport.clear();
    auto d = send(req("GET", "/" + std::to_string(i)));
    EXPECT_EQ(transport.value().substr(0, 7), "GET /" + std::to_string(i) + " ");
    feed(test::ok(std::to_string(i)));
    EXPECT_EQ(successResultOf(readBody(successResultOf(d))), std::to_string(i));
  }
  EXPECT_EQ(quiescent, 3);
  EXPECT_FALSE(transport.disconnecting());
}

TEST_F(ClientProtocol, nextRequestFromTheBodysEndGoesOnTheSameConnection) {
  auto d = send(req("GET", "/1"));
  feed(test::ok("one"));
  Deferred<ResponsePtr> second = nullptr;
  auto body = readBody(successResultOf(d)).addCallback([&](std::string b) {
    EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Quiescent);
    second = send(req("GET", "/2"));
    return b;
  });
  EXPECT_EQ(successResultOf(body), "one");
  ASSERT_TRUE(second);
  feed(test::ok("two"));
  EXPECT_EQ(successResultOf(readBody(successResultOf(second))), "two");
}

TEST_F(ClientProtocol, connectionCloseResponseIsNotReused) {
  auto d = send(req());
  feed(test::ok("x", "Connection: close\r\n"));
  EXPECT_EQ(successResultOf(readBody(successResultOf(d))), "x");
  EXPECT_EQ(quiescent, 0);
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Closed);
}

TEST_F(ClientProtocol, http10ResponseWithoutKeepAliveIsNotReused) {
  auto d = send(req());
  feed("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(successResultOf(readBody(successResultOf(d))), "x");
  EXPECT_EQ(quiescent, 0);
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(ClientProtocol, bytesAfterTheResponseCloseTheConnection) {
  auto d = send(req());
  feed(test::ok("x") + "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(successResultOf(readBody(successResultOf(d))), "x");
  EXPECT_EQ(quiescent, 0);
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(ClientProtocol, bytesOnAnIdleConnectionAbortIt) {
  feed("HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_TRUE(transport.aborted());
}

// ---- backpressure --------------------------------------------------------------------------

TEST_F(ClientProtocol, receiverPausesAndResumesTheBody) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
  auto log = std::make_shared<test::BodyLog>();
  log->onData = [](test::BodyLog& l) { l.producer->pauseProducing(); };
  successResultOf(d)->deliverBody(std::make_unique<test::RecordingReceiver>(log));
  feed("abc");
  EXPECT_EQ(log->data, "abc");
  EXPECT_EQ(transport.producerState(), torsion::testing::StringTransport::kPaused);
  feed("def");  // already in flight when the transport was paused: kept
  EXPECT_EQ(log->data, "abc");
  log->onData = nullptr;
  log->producer->resumeProducing();
  EXPECT_EQ(log->data, "abcdef");
  EXPECT_EQ(transport.producerState(), torsion::testing::StringTransport::kProducing);
  feed("ghi");
  EXPECT_EQ(log->data, "abcdefghi");
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<ResponseDone>());
  EXPECT_EQ(quiescent, 1);
}

TEST_F(ClientProtocol, pauseInsideOneReadStopsDeliveryAtThatChunk) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  auto log = std::make_shared<test::BodyLog>();
  log->onData = [](test::BodyLog& l) { l.producer->pauseProducing(); };
  successResultOf(d)->deliverBody(std::make_unique<test::RecordingReceiver>(log));
  feed("2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n");
  EXPECT_EQ(log->data, "ab");
  EXPECT_FALSE(log->end.has_value());
  log->producer->resumeProducing();  // pauses again at the next chunk
  EXPECT_EQ(log->data, "abcd");
  log->onData = nullptr;
  log->producer->resumeProducing();
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<ResponseDone>());
}

TEST_F(ClientProtocol, receiverStopProducingAbortsTheConnection) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  auto log = std::make_shared<test::BodyLog>();
  log->onData = [](test::BodyLog& l) { l.producer->stopProducing(); };
  successResultOf(d)->deliverBody(std::make_unique<test::RecordingReceiver>(log));
  feed("abc");
  EXPECT_TRUE(transport.aborted());
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<ResponseFailed>());
  EXPECT_EQ(quiescent, 0);
}

TEST_F(ClientProtocol, receiverThatThrowsIsLoggedAndTheBodyFails) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  auto log = std::make_shared<test::BodyLog>();
  log->onData = [](test::BodyLog&) { throw std::runtime_error("receiver bug"); };
  successResultOf(d)->deliverBody(std::make_unique<test::RecordingReceiver>(log));
  feed("abc");
  EXPECT_TRUE(transport.aborted());
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<ResponseFailed>());
  EXPECT_EQ(torsion::testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST_F(ClientProtocol, destroyedResponseDiscardsTheBodyAndFreesTheConnection) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
  successResultOf(d);  // dropped at once
  EXPECT_EQ(quiescent, 0);
  feed("56789");
  EXPECT_EQ(quiescent, 1);
  EXPECT_FALSE(transport.disconnecting());
}

TEST_F(ClientProtocol, discardingALargeBodyClosesTheConnectionInstead) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
  successResultOf(d);
  feed(std::string(HTTP11ClientProtocol::kMaxDiscardBytes + 1, 'x'));
  EXPECT_TRUE(transport.aborted());
  EXPECT_EQ(quiescent, 0);
}

TEST_F(ClientProtocol, readBodyWithAMaximumStopsALongerBody) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  auto body = readBody(successResultOf(d), 4);
  feed("3\r\nabc\r\n3\r\ndef\r\n");
  Failure f = failureResultOf<BodyTooLarge>(body);
  EXPECT_EQ(f.value<BodyTooLarge>()->maxSize(), 4u);
  EXPECT_TRUE(transport.aborted());
}

TEST_F(ClientProtocol, readBodyRefusesAnnouncedLengthOverTheMaximumAtOnce) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
  failureResultOf<BodyTooLarge>(readBody(successResultOf(d), 9));
  EXPECT_TRUE(transport.aborted());
}

TEST_F(ClientProtocol, cancellingReadBodyAbortsTheConnection) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
  auto body = readBody(successResultOf(d));
  body.cancel();
  failureResultOf<CancelledError>(body);
  EXPECT_TRUE(transport.aborted());
}

// ---- failures --------------------------------------------------------------------------------

TEST_F(ClientProtocol, connectionLostBeforeAnyResponseByteIsResponseNeverReceived) {
  auto d = send(req());
  transport.loseConnection();
  Failure f = failureResultOf<ResponseNeverReceived>(d);
  EXPECT_TRUE(f.value<ResponseNeverReceived>()->hasReason<ConnectionDone>());
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Closed);
}

TEST_F(ClientProtocol, connectionLostInTheHeadIsResponseFailed) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-");
  transport.loseConnection();
  Failure f = failureResultOf<ResponseFailed>(d);
  EXPECT_FALSE(f.check<ResponseNeverReceived>());
}

TEST_F(ClientProtocol, connectionLostMidBodyFailsTheReceiver) {
  auto d = send(req());
  feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  auto log = test::deliverTo(*successResultOf(d));
  protocol.connectionLost(Failure(ConnectionLost()));
  EXPECT_EQ(log->data, "abc");
  ASSERT_TRUE(log->end.has_value());
  EXPECT_TRUE(log->end->check<ResponseFailed>());
  EXPECT_TRUE(log->end->value<ResponseFailed>()->hasReason<ConnectionLost>());
}

TEST_F(ClientProtocol, connectionLostWhileSendingTheBodyIsRequestTransmissionFailed) {
  auto body = std::make_shared<PipeBodyProducer>(10);
  ClientRequest r = req("POST");
  r.body = body;
  auto d = send(std::move(r));
  body->write("abc");
  protocol.connectionLost(Failure(ConnectionLost()));
  failureResultOf<RequestTransmissionFailed>(d);
  EXPECT_TRUE(body->stopped());
}

TEST_F(ClientProtocol, producerWritingTooMuchIsWrongBodyLength) {
  auto body = std::make_shared<PipeBodyProducer>(3);
  ClientRequest r = req("POST");
  r.body = body;
  auto d = send(std::move(r));
  body->write("abcd");
  Failure f = failureResultOf<RequestTransmissionFailed>(d);
  EXPECT_TRUE(f.value<RequestTransmissionFailed>()->hasReason<WrongBodyLength>());
  EXPECT_TRUE(transport.aborted());
  EXPECT_TRUE(body->stopped());
}

TEST_F(ClientProtocol, aProducerOwnedOnlyByTheRequestOutlivesTheWriteThatFailsIt) {
  // Once the request is under way the exchange holds the only reference to this producer, and
  // its too-long write (later, as FileBodyProducer writes from a timer) fails the exchange
  // from inside the write: the producer must still exist when the write returns.
  struct Overwriter final : IBodyProducer {
    bool* destroyedWhileWriting;
    IConsumer* consumer = nullptr;
    bool writing = false;
    explicit Overwriter(bool* flag) : destroyedWhileWriting(flag) {}
    ~Overwriter() override {
      if (writing) *destroyedWhileWriting = true;
    }
    std::optional<std::uint64_t> length() const override { return 3; }
    Deferred<void> startProducing(IConsumer& c) override {
      consumer = &c;
      return Deferred<void>();
    }
    void writeTooMuch() {
      writing = true;
      consumer->write("abcd");
      writing = false;
    }
    void pauseProducing() override {}
    void resumeProducing() override {}
    void stopProducing() override {}
  };
  bool destroyedWhileWriting = false;
  auto body = std::make_shared<Overwriter>(&destroyedWhileWriting);
  Overwriter* producer = body.get();
  ClientRequest r = req("POST");
  r.body = std::move(body);
  auto d = send(std::move(r));
  producer->writeTooMuch();
  EXPECT_FALSE(destroyedWhileWriting);
  Failure f = failureResultOf<RequestTransmissionFailed>(d);
  EXPECT_TRUE(f.value<RequestTransmissionFailed>()->hasReason<WrongBodyLength>());
}

TEST_F(ClientProtocol, producerFinishingShortIsWrongBodyLength) {
  auto body = std::make_shared<PipeBodyProducer>(3);
  ClientRequest r = req("POST");
  r.body = body;
  auto d = send(std::move(r));
  body->write("ab");
  body->finish();
  Failure f = failureResultOf<RequestTransmissionFailed>(d);
  EXPECT_TRUE(f.value<RequestTransmissionFailed>()->hasReason<WrongBodyLength>());
  EXPECT_TRUE(transport.aborted());
}

TEST_F(ClientProtocol, producerFailureIsRequestGenerationFailed) {
  auto body = std::make_shared<PipeBodyProducer>();
  ClientRequest r = req("POST");
  r.body = body;
  auto d = send(std::move(r));
  body->fail(Failure(std::runtime_error("disk gone")));
  Failure f = failureResultOf<RequestGenerationFailed>(d);
  EXPECT_TRUE(f.value<RequestGenerationFailed>()->hasReason<std::runtime_error>());
  EXPECT_TRUE(transport.aborted());
}

TEST_F(ClientProtocol, earlyResponseStopsTheBodyAndIsNotReused) {
  auto body = std::make_shared<PipeBodyProducer>();
  ClientRequest r = req("POST");
  r.body = body;
  auto d = send(std::move(r));
  body->write("part");
  feed("HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!");
  ResponsePtr resp = successResultOf(d);
  EXPECT_EQ(resp->code, 413);
  EXPECT_TRUE(body->stopped());
  EXPECT_EQ(transport.producer(), nullptr);
  EXPECT_EQ(successResultOf(readBody(std::move(resp))), "big!");
  EXPECT_EQ(quiescent, 0);
  EXPECT_TRUE(transport.disconnecting());
}

TEST_F(ClientProtocol, cancellingBeforeTheResponseAbortsAndIsCancelledError) {
  auto d = send(req());
  feed("HTTP/1.1 200");
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_TRUE(transport.aborted());
  EXPECT_EQ(quiescent, 0);
  EXPECT_EQ(protocol.state(), HTTP11ClientProtocol::State::Closed);
}

TEST_F(ClientProtocol, cancellingStopsTheBodyProducer) {
  auto body = std::make_shared<PipeBodyProducer>();
  ClientRequest r = req("POST");
  r.body = body;
  auto d = send(std::move(r));
  d.cancel();
  failureResultOf<CancelledError>(d);
  EXPECT_TRUE(body->stopped());
  EXPECT_TRUE(transport.aborted());
}

TEST_F(ClientProtocol, lostCallbackRunsOnceAtTheEnd) {
  int lost = 0;
  protocol.lostCallback = [&](HTTP11ClientProtocol&) { ++lost; };
  transport.loseConnection();
  EXPECT_EQ(lost, 1);
  failureResultOf<RequestNotSent>(send(req()));
}

TEST(ClientProtocolLifetime, destroyedProtocolFailsTheWaitingRequest) {
  torsion::testing::StringTransport transport;
  auto protocol = std::make_unique<HTTP11ClientProtocol>();
  protocol->makeConnection(transport);
  ClientRequest r;
  r.headers.addRawHeader("Host", "h");
  auto d = protocol->request(std::move(r));
  protocol.reset();
  failureResultOf<ResponseFailed>(d);
}

}  // namespace
}  // namespace torsion::web
