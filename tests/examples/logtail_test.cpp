// examples/logtail.hpp: following a file (appends, partial lines, truncation, rotation), the
// push to every client on a testing::Clock, and the backpressure bound on slow clients; one run
// over 127.0.0.1 on a real reactor.
#include "examples/logtail.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "examples/example_helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/string_transport.hpp"

using namespace std::chrono_literals;
using examples::logtail::FileFollower;
using examples::logtail::FollowOptions;
using examples::logtail::LogTailFactory;
using examples::logtail::LogTailOptions;
using examples::logtail::TailClient;
using examples::test::append;
using examples::test::overwrite;
using examples::test::TempDir;
using Lines = std::vector<std::string>;

namespace {

// ---- FileFollower --------------------------------------------------------------------------

TEST(FileFollower, skipsWhatIsThereAtStartAndReturnsLinesAppendedLater) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  append(path, "old 1\nold 2\n");
  FileFollower follower(path);
  EXPECT_EQ(follower.poll(), Lines{});
  append(path, "new 1\nnew 2\n");
  EXPECT_EQ(follower.poll(), (Lines{"new 1", "new 2"}));
  EXPECT_EQ(follower.poll(), Lines{});
  append(path, "new 3\n");
  EXPECT_EQ(follower.poll(), Lines{"new 3"});
}

TEST(FileFollower, holdsAHalfWrittenLineUntilItsNewlineArrives) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "");
  FileFollower follower(path);
  append(path, "GET /ind");
  EXPECT_EQ(follower.poll(), Lines{});
  append(path, "ex.html 200\nPOST");
  EXPECT_EQ(follower.poll(), Lines{"GET /index.html 200"});
  append(path, " /form 302\n");
  EXPECT_EQ(follower.poll(), Lines{"POST /form 302"});
}

TEST(FileFollower, dropsTheCarriageReturnOfCrlfLinesButKeepsEmptyLines) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "");
  FileFollower follower(path);
  append(path, "one\r\n\ntwo\n");
  EXPECT_EQ(follower.poll(), (Lines{"one", "", "two"}));
}

TEST(FileFollower, startsOverFromTheTopWhenTheFileIsTruncated) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "a long first line that will be cut\n");
  FileFollower follower(path);
  append(path, "second\nhalf");
  EXPECT_EQ(follower.poll(), Lines{"second"});
  overwrite(path, "fresh\n");  // copytruncate: shorter than what was read
  EXPECT_EQ(follower.poll(), Lines{"fresh"});
  EXPECT_EQ(follower.truncations(), 1u);
  append(path, "after\n");
  EXPECT_EQ(follower.poll(), Lines{"after"});
}

TEST(FileFollower, finishesTheRotatedFileThenReadsTheNewOneFromItsStart) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "");
  FileFollower follower(path);
  append(path, "one\n");
  EXPECT_EQ(follower.poll(), Lines{"one"});
  // The writer adds to the old file after it was renamed (before it reopens its log), with a
  // last line it never finishes; then the new file appears.
  ASSERT_EQ(std::rename(path.c_str(), dir.file("log.1").c_str()), 0);
  append(dir.file("log.1"), "two\nunfinished");
  append(path, "three\n");
  EXPECT_EQ(follower.poll(), (Lines{"two", "unfinished", "three"}));
  EXPECT_EQ(follower.rotations(), 1u);
  append(dir.file("log.1"), "lost\n");  // nobody follows the old file any more
  append(path, "four\n");
  EXPECT_EQ(follower.poll(), Lines{"four"});
}

TEST(FileFollower, keepsReadingTheRenamedFileUntilANewOneAppears) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "");
  FileFollower follower(path);
  ASSERT_EQ(std::rename(path.c_str(), dir.file("log.1").c_str()), 0);
  append(dir.file("log.1"), "still written\n");
  EXPECT_EQ(follower.poll(), Lines{"still written"});
  EXPECT_EQ(follower.rotations(), 0u);
}

TEST(FileFollower, waitsForAMissingFileAndReadsItFromItsStart) {
  TempDir dir;
  const std::string path = dir.file("not-yet.log");
  FileFollower follower(path);
  EXPECT_EQ(follower.poll(), Lines{});
  append(path, "first\nsecond\n");
  EXPECT_EQ(follower.poll(), (Lines{"first", "second"}));
}

TEST(FileFollower, cutsALineLongerThanTheLimitIntoPieces) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "");
  FileFollower follower(path, FollowOptions{.maxLineLength = 4, .maxReadPerPoll = 1024});
  append(path, "abcdefghij");
  EXPECT_EQ(follower.poll(), (Lines{"abcd", "efgh"}));
  append(path, "\nxy\n");
  EXPECT_EQ(follower.poll(), (Lines{"ij", "xy"}));
}

TEST(FileFollower, readsAtMostMaxReadPerPollAndTheRestNextTime) {
  TempDir dir;
  const std::string path = dir.file("log");
  overwrite(path, "");
  FileFollower follower(path, FollowOptions{.maxLineLength = 1024, .maxReadPerPoll = 8});
  append(path, "aaa\nbbb\nccc\nddd\n");
  EXPECT_EQ(follower.poll(), (Lines{"aaa", "bbb"}));
  EXPECT_EQ(follower.poll(), (Lines{"ccc", "ddd"}));
  EXPECT_EQ(follower.poll(), Lines{});
}

// ---- LogTailFactory over StringTransports and a Clock ---------------------------------------

struct LogTail : ::testing::Test {
  TempDir dir;
  std::string path = dir.file("access.log");
  torsion::testing::Clock clock;
  LogTailOptions options{.pollInterval = 1s, .maxPendingBytes = 20, .follow = {}};
  std::shared_ptr<LogTailFactory> factory;

  void SetUp() override {
    overwrite(path, "before the server started\n");
    factory = std::make_shared<LogTailFactory>(clock, path, options);
    factory->doStart();  // as listenTCP does
  }
  void TearDown() override {
    if (factory->numPorts() > 0) factory->doStop();
  }

  // A client connected through `transport` (which must outlive it).
  std::unique_ptr<TailClient> connect(torsion::testing::StringTransport& transport) {
    std::unique_ptr<torsion::Protocol> p = factory->buildProtocol(transport.getPeer());
    std::unique_ptr<TailClient> client(static_cast<TailClient*>(p.release()));
    client->makeConnection(transport);
    return client;
  }
  // The same, with a transport whose loseConnection/abortConnection report connectionLost.
  std::unique_ptr<TailClient> connect(
      torsion::testing::StringTransportWithDisconnection& transport) {
    std::unique_ptr<torsion::Protocol> p = factory->buildProtocol(transport.getPeer());
    std::unique_ptr<TailClient> client(static_cast<TailClient*>(p.release()));
    transport.connect(*client);
    return client;
  }
};

TEST_F(LogTail, pushesEachNewLineToEveryClientAtTheNextPoll) {
  torsion::testing::StringTransport t1, t2;
  auto c1 = connect(t1);
  auto c2 = connect(t2);
  EXPECT_EQ(factory->clientCount(), 2u);
  append(path, "GET / 200\nGET /a 404\n");
  clock.advance(0.5s);
  EXPECT_EQ(t1.value(), "") << "nothing before the poll interval";
  clock.advance(0.5s);
  EXPECT_EQ(t1.value(), "GET / 200\r\nGET /a 404\r\n");
  EXPECT_EQ(t2.value(), "GET / 200\r\nGET /a 404\r\n");
  append(path, "GET /b 200\n");
  clock.advance(1s);
  EXPECT_EQ(t2.value(), "GET / 200\r\nGET /a 404\r\nGET /b 200\r\n");
}

TEST_F(LogTail, aClientGetsOnlyLinesWrittenAfterItConnected) {
  torsion::testing::StringTransport t1, t2;
  auto c1 = connect(t1);
  append(path, "early\n");
  clock.advance(1s);
  auto c2 = connect(t2);
  append(path, "late\n");
  clock.advance(1s);
  EXPECT_EQ(t1.value(), "early\r\nlate\r\n");
  EXPECT_EQ(t2.value(), "late\r\n");
}

TEST_F(LogTail, aDisconnectedClientIsForgotten) {
  torsion::testing::StringTransport t1, t2;
  auto c1 = connect(t1);
  auto c2 = connect(t2);
  c1->connectionLost(torsion::Failure(torsion::ConnectionDone()));
  EXPECT_EQ(factory->clientCount(), 1u);
  t1.clear();
  append(path, "x\n");
  clock.advance(1s);
  EXPECT_EQ(t1.value(), "");
  EXPECT_EQ(t2.value(), "x\r\n");
}

TEST_F(LogTail, stopsPollingWhenTheLastPortStops) {
  EXPECT_EQ(clock.getDelayedCalls().size(), 1u);
  factory->doStop();
  EXPECT_TRUE(clock.getDelayedCalls().empty());
  EXPECT_EQ(factory->follower(), nullptr);
}

TEST_F(LogTail, eachClientIsTheStreamingProducerOfItsTransport) {
  torsion::testing::StringTransport t;
  auto c = connect(t);
  EXPECT_EQ(t.producer(), c.get());
  EXPECT_TRUE(t.streaming());
}

TEST_F(LogTail, linesWaitWhileTheTransportIsPausedAndGoOutOnResume) {
  torsion::testing::StringTransport t;
  auto c = connect(t);
  t.producer()->pauseProducing();  // as the transport does over its high-water mark
  append(path, "one\ntwo\n");
  clock.advance(1s);
  EXPECT_EQ(t.value(), "");
  EXPECT_EQ(c->pendingBytes(), 10u);
  t.producer()->resumeProducing();
  EXPECT_EQ(t.value(), "one\r\ntwo\r\n");
  EXPECT_EQ(c->pendingBytes(), 0u);
  append(path, "three\n");
  clock.advance(1s);
  EXPECT_EQ(t.value(), "one\r\ntwo\r\nthree\r\n");
}

TEST_F(LogTail, aClientThatFallsTooFarBehindIsDroppedAndTheOthersGoOn) {
  torsion::testing::StringTransportWithDisconnection slowT, fastT;
  auto slow = connect(slowT);
  auto fast = connect(fastT);
  slowT.producer()->pauseProducing();
  append(path, "0123456789\n");  // 12 bytes queued: under the limit of 20
  clock.advance(1s);
  EXPECT_FALSE(slowT.aborted());
  append(path, "0123456789\n");  // 24 bytes: over it
  clock.advance(1s);
  EXPECT_TRUE(slowT.aborted());
  EXPECT_FALSE(slowT.connected());
  EXPECT_EQ(slow->pendingBytes(), 0u) << "its queue is freed";
  EXPECT_EQ(factory->droppedClients(), 1u);
  EXPECT_EQ(factory->clientCount(), 1u);
  EXPECT_EQ(fastT.value(), "0123456789\r\n0123456789\r\n");
  append(path, "more\n");
  clock.advance(1s);
  EXPECT_EQ(fastT.value(), "0123456789\r\n0123456789\r\nmore\r\n");
}

TEST_F(LogTail, dropsEverySlowClientOfOnePollSafely) {
  // Each abort reports connectionLost at once here, inside the broadcast loop.
  torsion::testing::StringTransportWithDisconnection t1, t2, t3;
  auto c1 = connect(t1);
  auto c2 = connect(t2);
  auto c3 = connect(t3);
  t1.producer()->pauseProducing();
  t3.producer()->pauseProducing();
  append(path, "a line long enough to pass the limit\nand another\n");
  clock.advance(1s);
  EXPECT_TRUE(t1.aborted());
  EXPECT_FALSE(t2.aborted());
  EXPECT_TRUE(t3.aborted());
  EXPECT_EQ(factory->clientCount(), 1u);
  EXPECT_EQ(t2.value(), "a line long enough to pass the limit\r\nand another\r\n");
}

TEST_F(LogTail, aStoppedProducerSendsNothingMore) {
  torsion::testing::StringTransport t;
  auto c = connect(t);
  c->stopProducing();
  append(path, "x\n");
  clock.advance(1s);
  EXPECT_EQ(t.value(), "");
}

// ---- over the in-memory loopback -------------------------------------------------------------

TEST_F(LogTail, aClientThatStopsReadingCostsABoundedAmountThenIsDropped) {
  // Real sizes: the transport pauses the producer over 64 KiB, the client may then have
  // 256 KiB waiting in its queue.
  factory->doStop();
  options.maxPendingBytes = 256 * 1024;
  factory = std::make_shared<LogTailFactory>(clock, path, options);
  factory->doStart();
  torsion::testing::LoopbackOptions small;
  small.socketBufferSize = 16 * 1024;
  auto slow =
      torsion::testing::connect(factory, std::make_unique<examples::test::Received>(), small);
  auto fast =
      torsion::testing::connect(factory, std::make_unique<examples::test::Received>(), small);
  auto* fastClient = static_cast<examples::test::Received*>(fast.client());
  auto* slowServer = static_cast<TailClient*>(slow.server());
  slow.clientTransport().pauseProducing();  // the slow client stops reading

  const std::string line(99, 'x');  // 101 bytes on the wire
  std::size_t sent = 0;
  std::size_t mostHeld = 0;
  for (int poll = 0; poll < 200 && factory->droppedClients() == 0; ++poll) {
    std::string chunk;
    for (int i = 0; i < 100; ++i) chunk += line + "\n";
    append(path, chunk);
    clock.advance(1s);
    sent += 100;
    slow.flush();
    fast.flush();
    if (factory->droppedClients() == 0) {
      mostHeld =
          std::max(mostHeld, slow.serverTransport().bufferedBytes() + slowServer->pendingBytes());
      // The queue only fills while the transport holds the producer back.
      if (slowServer->pendingBytes() > 0) {
        EXPECT_TRUE(slowServer->paused());
      }
    }
  }
  EXPECT_EQ(factory->droppedClients(), 1u);
  // Held for the slow client: at most the high-water mark plus one write of the queue, and
  // the queue's limit.
  EXPECT_LE(mostHeld, 64 * 1024 + 101 + 256 * 1024 + 101);
  EXPECT_GT(mostHeld, 256 * 1024) << "the queue filled before the drop";
  slow.flush();
  EXPECT_TRUE(slow.serverTransport().disconnected());
  EXPECT_EQ(fastClient->data.size(), sent * 101) << "the reader got every line";
  EXPECT_FALSE(fastClient->lost);
}

TEST_F(LogTail, aClientThatCatchesUpGetsEverythingInOrder) {
  torsion::testing::LoopbackOptions small;
  small.socketBufferSize = 1024;
  options.maxPendingBytes = 1024 * 1024;
  factory->doStop();
  factory = std::make_shared<LogTailFactory>(clock, path, options);
  factory->doStart();
  auto pair =
      torsion::testing::connect(factory, std::make_unique<examples::test::Received>(), small);
  auto* client = static_cast<examples::test::Received*>(pair.client());
  pair.clientTransport().pauseProducing();
  std::string expected;
  for (int poll = 0; poll < 20; ++poll) {
    std::string chunk;
    for (int i = 0; i < 100; ++i) {
      const std::string line = "poll " + std::to_string(poll) + " line " + std::to_string(i);
      chunk += line + "\n";
      expected += line + "\r\n";
    }
    append(path, chunk);
    clock.advance(1s);
    pair.flush();
  }
  EXPECT_LT(client->data.size(), expected.size());
  pair.clientTransport().resumeProducing();
  pair.flush();
  EXPECT_EQ(client->data, expected);
  EXPECT_EQ(factory->droppedClients(), 0u);
}

// ---- on a real reactor over 127.0.0.1 --------------------------------------------------------

TEST(LogTailOverTcp, aConnectedClientReceivesLinesAsTheyAreAppended) {
  TempDir dir;
  const std::string path = dir.file("access.log");
  overwrite(path, "old\n");
  torsion::Reactor reactor(torsion::Reactor::Options{.poller = "", .installSignalHandlers = false});
  auto& net = torsion::network(reactor);
  auto factory = std::make_shared<LogTailFactory>(
      reactor, path, LogTailOptions{.pollInterval = 10ms, .maxPendingBytes = 1024, .follow = {}});
  auto port = net.listenTCP(0, factory, {.backlog = 5, .interface = "127.0.0.1"});

  auto received = std::make_shared<std::string>();
  struct Client : torsion::Protocol {
    std::shared_ptr<std::string> into;
    explicit Client(std::shared_ptr<std::string> s) : into(std::move(s)) {}
    void dataReceived(std::string_view d) override { into->append(d); }
  };
  auto connector = net.connectTCP("127.0.0.1", port->getHost().port(),
                                  torsion::ClientFactory::forProtocol<Client>(received));
  auto spinUntil = [&](auto pred) {
    for (int i = 0; i < 400 && !pred(); ++i) reactor.iterate(torsion::Seconds(0.05));
    return pred();
  };
  ASSERT_TRUE(spinUntil([&] { return factory->clientCount() == 1; }));
  append(path, "GET /index.html 200\n");
  ASSERT_TRUE(spinUntil([&] { return received->size() >= 21; }));
  append(path, "GET /favicon.ico 404\n");
  ASSERT_TRUE(spinUntil([&] { return received->size() >= 43; }));
  EXPECT_EQ(*received, "GET /index.html 200\r\nGET /favicon.ico 404\r\n");
  connector->disconnect();
  EXPECT_TRUE(spinUntil([&] { return factory->clientCount() == 0; }));
  port->stopListening();
  reactor.iterate(torsion::Seconds(0));
}

}  // namespace
