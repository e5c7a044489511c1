// examples/chat.hpp: naming, broadcasting, joins and leaves, with several clients over the
// in-memory loopback; the limits (long lines, clients that stop reading); one room over
// 127.0.0.1 on a real reactor.
#include "examples/chat.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/line_receiver.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/string_transport.hpp"

using examples::chat::Chat;
using examples::chat::ChatFactory;
using examples::chat::ChatOptions;
using Lines = std::vector<std::string>;

namespace {

// A chat client: keeps the lines it received, and can say things.
struct Chatter : torsion::protocols::LineReceiver {
  Lines lines;
  bool lost = false;
  void lineReceived(std::string_view line) override { lines.emplace_back(line); }
  void connectionLost(const torsion::Failure&) override { lost = true; }
  void say(std::string_view line) { sendLine(line); }
  // The lines received since the last call.
  Lines take() { return std::exchange(lines, {}); }
};

// A room and its clients, each on its own loopback connection to the room's factory.
struct Room : ::testing::Test {
  ChatOptions options;
  std::shared_ptr<ChatFactory> factory;
  std::vector<torsion::testing::IOPump> pumps;
  torsion::testing::LoopbackOptions loopback;

  ChatFactory& room() {
    if (!factory) factory = std::make_shared<ChatFactory>(options);
    return *factory;
  }
  Chatter& join() {
    auto chatter = std::make_unique<Chatter>();
    Chatter* c = chatter.get();
    room();
    pumps.push_back(torsion::testing::connect(factory, std::move(chatter), loopback));
    return *c;
  }
  // A client that joined under `name` (its greeting and welcome taken).
  Chatter& joinAs(std::string_view name) {
    Chatter& c = join();
    c.say(name);
    flush();
    c.take();
    return c;
  }
  // Moves everything on every connection until nothing moves.
  void flush() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& pump : pumps) moved = pump.pump() || moved;
      if (!moved) return;
    }
    FAIL() << "the connections never went quiet";
  }
};

TEST(Chat, asksForANameAsSoonAsAClientConnects) {
  ChatFactory room;
  torsion::testing::StringTransport transport;
  auto chat = room.buildProtocol(transport.getPeer());
  chat->makeConnection(transport);
  EXPECT_EQ(transport.value(), "What's your name?\r\n");
}

TEST_F(Room, greetsANewClientWithTheQuestion) {
  Chatter& alice = join();
  EXPECT_EQ(alice.take(), Lines{"What's your name?"});
}

TEST_F(Room, welcomesAFreeNameAndAnnouncesTheJoinToTheOthers) {
  Chatter& alice = joinAs("alice");
  Chatter& bob = join();
  bob.say("bob");
  flush();
  EXPECT_EQ(bob.take(), (Lines{"What's your name?", "Welcome, bob!"}));
  EXPECT_EQ(alice.take(), Lines{"* bob has joined"});
  EXPECT_EQ(room().names(), (std::vector<std::string>{"alice", "bob"}));
}

TEST_F(Room, refusesATakenNameUntilTheClientPicksAnother) {
  Chatter& alice = joinAs("alice");
  Chatter& other = join();
  other.take();
  other.say("alice");
  flush();
  EXPECT_EQ(other.take(), Lines{"Name taken, please choose another."});
  EXPECT_EQ(alice.take(), Lines{}) << "nobody joined";
  other.say("alice2");
  flush();
  EXPECT_EQ(other.take(), Lines{"Welcome, alice2!"});
  EXPECT_EQ(alice.take(), Lines{"* alice2 has joined"});
}

TEST_F(Room, refusesAnEmptyName) {
  Chatter& c = join();
  c.take();
  c.say("");
  flush();
  EXPECT_EQ(c.take(), Lines{"Names cannot be empty, please choose another."});
  EXPECT_TRUE(room().names().empty());
}

TEST_F(Room, sendsEachLineToEveryoneElseAsNameAndMessage) {
  Chatter& alice = joinAs("alice");
  Chatter& bob = joinAs("bob");
  Chatter& carol = joinAs("carol");
  alice.take();
  bob.take();
  alice.say("hi all");
  bob.say("hello alice");
  flush();
  EXPECT_EQ(alice.take(), Lines{"<bob> hello alice"});
  EXPECT_EQ(bob.take(), Lines{"<alice> hi all"});
  EXPECT_EQ(carol.take(), (Lines{"<alice> hi all", "<bob> hello alice"}));
}

TEST_F(Room, aClientStillChoosingANameHearsNothing) {
  Chatter& alice = joinAs("alice");
  Chatter& shy = join();
  shy.take();
  alice.say("anyone?");
  flush();
  EXPECT_EQ(shy.take(), Lines{});
}

TEST_F(Room, announcesADepartureAndFreesTheName) {
  Chatter& alice = joinAs("alice");
  Chatter& bob = joinAs("bob");
  alice.take();
  bob.transport->loseConnection();
  flush();
  EXPECT_TRUE(bob.lost);
  EXPECT_EQ(alice.take(), Lines{"* bob has left"});
  EXPECT_EQ(room().names(), std::vector<std::string>{"alice"});
  Chatter& bob2 = join();
  bob2.take();
  bob2.say("bob");
  flush();
  EXPECT_EQ(bob2.take(), Lines{"Welcome, bob!"});
}

TEST_F(Room, aClientThatLeavesBeforeNamingItselfIsNotAnnounced) {
  Chatter& alice = joinAs("alice");
  Chatter& shy = join();
  shy.transport->loseConnection();
  flush();
  EXPECT_EQ(alice.take(), Lines{});
}

TEST_F(Room, linesArriveWholeWhenTheBytesComeOneAtATime) {
  loopback.readSize = 1;
  Chatter& alice = joinAs("alice");
  Chatter& bob = joinAs("bob");
  alice.take();
  bob.say("split into many reads");
  flush();
  EXPECT_EQ(alice.take(), Lines{"<bob> split into many reads"});
}

TEST_F(Room, dropsAClientWhoseLineIsTooLong) {
  options.maxLineLength = 16;
  Chatter& alice = joinAs("alice");
  Chatter& bob = joinAs("bob");
  alice.take();
  bob.say(std::string(17, 'x'));
  flush();
  EXPECT_TRUE(bob.lost);
  EXPECT_EQ(alice.take(), Lines{"* bob has left"});
}

TEST_F(Room, dropsAListenerThatStopsReadingAndTheRestGoOn) {
  options.maxBufferedBytes = 4 * 1024;
  loopback.socketBufferSize = 1024;
  Chatter& alice = joinAs("alice");
  Chatter& bob = joinAs("bob");
  Chatter& sleepy = joinAs("sleepy");
  alice.take();
  sleepy.transport->pauseProducing();  // sleepy stops reading
  const std::string message(100, 'm');
  int sent = 0;
  for (; sent < 200 && room().droppedClients() == 0; ++sent) {
    bob.say(message);
    flush();
  }
  EXPECT_EQ(room().droppedClients(), 1u);
  EXPECT_LT(sent, 200);
  EXPECT_EQ(room().names(), (std::vector<std::string>{"alice", "bob"}));
  const Lines got = alice.take();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(sent) + 1);
  EXPECT_EQ(got.back(), "* sleepy has left");
  EXPECT_EQ(got.front(), "<bob> " + message);
}

TEST(ChatOverTcp, twoClientsTalkThroughTheServer) {
  torsion::Reactor reactor(torsion::Reactor::Options{.poller = "", .installSignalHandlers = false});
  auto& net = torsion::network(reactor);
  auto port =
      net.listenTCP(0, std::make_shared<ChatFactory>(), {.backlog = 5, .interface = "127.0.0.1"});

  // Clients whose lines land in shared vectors (the connections own the protocols).
  struct Client : torsion::protocols::LineReceiver {
    std::shared_ptr<Lines> into;
    std::shared_ptr<torsion::ITransport*> out;
    Client(std::shared_ptr<Lines> l, std::shared_ptr<torsion::ITransport*> t)
        : into(std::move(l)), out(std::move(t)) {}
    void connectionMade() override { *out = transport; }
    void lineReceived(std::string_view line) override { into->emplace_back(line); }
    void connectionLost(const torsion::Failure&) override { *out = nullptr; }
  };
  auto aliceLines = std::make_shared<Lines>();
  auto bobLines = std::make_shared<Lines>();
  auto alice = std::make_shared<torsion::ITransport*>(nullptr);
  auto bob = std::make_shared<torsion::ITransport*>(nullptr);
  auto aliceConnector =
      net.connectTCP("127.0.0.1", port->getHost().port(),
                     torsion::ClientFactory::forProtocol<Client>(aliceLines, alice));
  auto bobConnector = net.connectTCP("127.0.0.1", port->getHost().port(),
                                     torsion::ClientFactory::forProtocol<Client>(bobLines, bob));
  auto spinUntil = [&](auto pred) {
    for (int i = 0; i < 400 && !pred(); ++i) reactor.iterate(torsion::Seconds(0.05));
    return pred();
  };
  ASSERT_TRUE(spinUntil([&] { return aliceLines->size() == 1 && bobLines->size() == 1; }));
  (*alice)->write("alice\r\n");
  ASSERT_TRUE(spinUntil([&] { return aliceLines->size() == 2; }));
  (*bob)->write("bob\r\nhi alice\r\n");
  ASSERT_TRUE(spinUntil([&] { return aliceLines->size() == 4; }));
  EXPECT_EQ(*aliceLines,
            (Lines{"What's your name?", "Welcome, alice!", "* bob has joined", "<bob> hi alice"}));
  bobConnector->disconnect();
  ASSERT_TRUE(spinUntil([&] { return aliceLines->size() == 5; }));
  EXPECT_EQ(aliceLines->back(), "* bob has left");
  aliceConnector->disconnect();
  EXPECT_TRUE(spinUntil([&] { return *alice == nullptr; }));
  port->stopListening();
  reactor.iterate(torsion::Seconds(0));
}

}  // namespace
