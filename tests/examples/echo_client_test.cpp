// examples/echo_client.hpp: the lines it sends, what makes `done` fire or fail (every echo
// back, a wrong echo, an early close, a failed connection) over StringTransport and a
// MemoryReactor with the loopback; and over 127.0.0.1 on a real reactor, a round trip with an
// echo server and a refused connection.
#include "examples/echo_client.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/wire.hpp"
#include "torsion/testing/connection_completer.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/testing/string_transport.hpp"

using examples::echoclient::EchoClientFactory;
using examples::echoclient::EchoMismatch;
using examples::echoclient::IncompleteEcho;
using torsion::testing::assertNoResult;
using torsion::testing::failureResultOf;
using torsion::testing::successResultOf;
using Lines = std::vector<std::string>;

namespace {

TEST(EchoClient, sendsEachMessageAsALineWhenConnected) {
  auto factory = std::make_shared<EchoClientFactory>(Lines{"hello", "fine day"});
  torsion::testing::StringTransport transport;
  auto client = factory->buildProtocol(transport.getPeer());
  client->makeConnection(transport);
  EXPECT_EQ(transport.value(), "hello\r\nfine day\r\n");
}

TEST(EchoClient, hangsUpOnlyOnceTheLastLineCameBack) {
  Lines echoed;
  auto factory = std::make_shared<EchoClientFactory>(
      Lines{"one", "two"}, [&](std::string_view line) { echoed.emplace_back(line); });
  torsion::testing::StringTransport transport;
  auto client = factory->buildProtocol(transport.getPeer());
  client->makeConnection(transport);
  client->dataReceived("one\r\ntw");
  EXPECT_EQ(echoed, Lines{"one"});
  EXPECT_FALSE(transport.disconnecting());
  client->dataReceived("o\r\n");
  EXPECT_EQ(echoed, (Lines{"one", "two"}));
  EXPECT_TRUE(transport.disconnecting());
}

TEST(EchoClient, withNothingToSendItHangsUpAtOnce) {
  auto factory = std::make_shared<EchoClientFactory>(Lines{});
  torsion::testing::StringTransport transport;
  auto client = factory->buildProtocol(transport.getPeer());
  client->makeConnection(transport);
  EXPECT_EQ(transport.value(), "");
  EXPECT_TRUE(transport.disconnecting());
}

TEST(EchoClient, sendsTwistedsThreeLinesByDefault) {
  EXPECT_EQ(examples::echoclient::defaultMessages(),
            (Lines{"Hello, world!", "What a fine day it is.", "Bye-bye!"}));
}

// The client connects through a MemoryReactor; the test decides how the attempt ends.
struct EchoClientOnMemoryReactor : ::testing::Test {
  torsion::testing::MemoryReactor reactor;
  Lines echoed;
  std::shared_ptr<EchoClientFactory> client = std::make_shared<EchoClientFactory>(
      Lines{"Hello, world!", "Bye-bye!"}, [this](std::string_view l) { echoed.emplace_back(l); });

  void connect() { reactor.connectTCP("127.0.0.1", 8000, client); }
};

TEST_F(EchoClientOnMemoryReactor, doneFiresOnceEveryLineCameBackAndTheConnectionClosed) {
  reactor.listenTCP(8000, torsion::Factory::forProtocol<torsion::protocols::Echo>());
  connect();
  torsion::testing::ConnectionCompleter completer(reactor);
  torsion::testing::IOPump* pump = completer.succeedOnce();
  ASSERT_NE(pump, nullptr);
  pump->flush();
  EXPECT_EQ(echoed, (Lines{"Hello, world!", "Bye-bye!"}));
  successResultOf(client->done());
  EXPECT_EQ(reactor.tcpClients.at(0).connector->state(), torsion::IConnector::State::disconnected);
}

TEST_F(EchoClientOnMemoryReactor, doneFailsWithTheReasonTheConnectionFailed) {
  connect();
  torsion::testing::ConnectionCompleter completer(reactor);
  assertNoResult(client->done());
  ASSERT_TRUE(completer.failOnce(torsion::Failure(torsion::ConnectionRefusedError())));
  failureResultOf<torsion::ConnectionRefusedError>(client->done());
  EXPECT_TRUE(echoed.empty());
}

// An "echo" server that answers every line in upper case.
struct Shouter : torsion::protocols::LineReceiver {
  void lineReceived(std::string_view line) override {
    std::string up(line);
    for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    sendLine(up);
  }
};

TEST_F(EchoClientOnMemoryReactor, doneFailsWhenALineComesBackChanged) {
  reactor.listenTCP(8000, torsion::Factory::forProtocol<Shouter>());
  connect();
  torsion::testing::ConnectionCompleter completer(reactor);
  completer.succeedOnce()->flush();
  torsion::Failure f = failureResultOf<EchoMismatch>(client->done());
  EXPECT_EQ(f.getErrorMessage(), "expected \"Hello, world!\", the server sent \"HELLO, WORLD!\"");
  EXPECT_TRUE(echoed.empty());
}

// A server that answers the first line and hangs up.
struct Impatient : torsion::protocols::LineReceiver {
  void lineReceived(std::string_view line) override {
    sendLine(line);
    transport->loseConnection();
  }
};

TEST_F(EchoClientOnMemoryReactor, doneFailsWhenTheServerHangsUpEarly) {
  reactor.listenTCP(8000, torsion::Factory::forProtocol<Impatient>());
  connect();
  torsion::testing::ConnectionCompleter completer(reactor);
  completer.succeedOnce()->flush();
  torsion::Failure f = failureResultOf<IncompleteEcho>(client->done());
  EXPECT_EQ(f.getErrorMessage(),
            "the connection ended after 1 of 2 lines came back: Connection was closed cleanly.");
  EXPECT_EQ(echoed, Lines{"Hello, world!"});
}

// ---- on a real reactor over 127.0.0.1 --------------------------------------------------------

struct EchoClientOverTcp : ::testing::Test {
  torsion::Reactor reactor{torsion::Reactor::Options{.poller = "", .installSignalHandlers = false}};
  torsion::IReactorNet& net = torsion::network(reactor);

  // Runs the reactor until `d` fired (bounded).
  bool waitFor(const torsion::Deferred<void>& d) {
    for (int i = 0; i < 400 && !d.called(); ++i) reactor.iterate(torsion::Seconds(0.05));
    return d.called();
  }
};

TEST_F(EchoClientOverTcp, everyLineComesBackFromTheEchoServerEvenOneLongerThanMaxLength) {
  auto port = net.listenTCP(0, torsion::Factory::forProtocol<torsion::protocols::Echo>(),
                            {.backlog = 5, .interface = "127.0.0.1"});
  Lines echoed;
  auto client = std::make_shared<EchoClientFactory>(
      Lines{"Hello, world!", std::string(100000, 'x'), "Bye-bye!"},
      [&](std::string_view l) { echoed.emplace_back(l); });
  net.connectTCP("127.0.0.1", port->getHost().port(), client);
  ASSERT_TRUE(waitFor(client->done()));
  successResultOf(client->done());
  EXPECT_EQ(echoed, client->messages());
  port->stopListening();
  reactor.iterate(torsion::Seconds(0));
}

TEST_F(EchoClientOverTcp, aRefusedConnectionFailsDone) {
  // A port that was just free: listen on an ephemeral one, then close it.
  auto port = net.listenTCP(0, std::make_shared<torsion::Factory>(),
                            {.backlog = 5, .interface = "127.0.0.1"});
  const std::uint16_t number = port->getHost().port();
  port->stopListening();
  reactor.iterate(torsion::Seconds(0));
  auto client = std::make_shared<EchoClientFactory>(Lines{"anyone?"});
  net.connectTCP("127.0.0.1", number, client);
  ASSERT_TRUE(waitFor(client->done()));
  failureResultOf<torsion::ConnectionRefusedError>(client->done());
}

}  // namespace
