// examples/fibonacci.hpp: the seed's sequence (2, 3, 5, 8, ... from a = b = 1), shared by
// every client of one factory, the wrap after the last 64-bit number, the state saved and
// restored through the service, and restored states that are refused.
#include "examples/fibonacci.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "torsion/net/endpoints.hpp"
#include "torsion/testing/memory_reactor.hpp"
#include "torsion/testing/string_transport.hpp"

using examples::fibonacci::FibonacciFactory;
using examples::fibonacci::FibonacciService;
using examples::fibonacci::Sequence;

namespace {

// A client connection to `factory` over a StringTransport.
struct Client {
  torsion::testing::StringTransport transport;
  std::unique_ptr<torsion::Protocol> protocol;

  explicit Client(FibonacciFactory& factory)
      : protocol(factory.buildProtocol(torsion::Address::ip("127.0.0.1", 40000))) {
    protocol->makeConnection(transport);
  }
  // Sends one request and returns the answer.
  std::string ask() {
    transport.clear();
    protocol->dataReceived("?");
    return transport.value();
  }
};

TEST(FibonacciSequence, startsAsTheSeedsServerDoes) {
  Sequence sequence;
  std::vector<std::uint64_t> got;
  for (int i = 0; i < 8; ++i) got.push_back(sequence.next());
  EXPECT_EQ(got, (std::vector<std::uint64_t>{2, 3, 5, 8, 13, 21, 34, 55}));
  EXPECT_EQ(sequence.a(), 34u);
  EXPECT_EQ(sequence.b(), 55u);
}

TEST(FibonacciSequence, wrapsToTheStartAfterTheLastNumberThatFits) {
  Sequence sequence;
  std::uint64_t last = 0;
  int answers = 0;
  for (;;) {
    const std::uint64_t number = sequence.next();
    if (number < last) {
      EXPECT_EQ(number, 2u) << "a new round starts from a = b = 1";
      break;
    }
    last = number;
    ASSERT_LT(++answers, 200) << "never wrapped";
  }
  EXPECT_EQ(last, 12200160415121876738ull) << "F(93), the largest Fibonacci number in 64 bits";
  EXPECT_EQ(answers, 91);
  EXPECT_EQ(sequence.next(), 3u);
}

TEST(FibonacciSequence, refusesPairsThatCannotGoOn) {
  EXPECT_THROW(Sequence(0, 0), std::invalid_argument);
  EXPECT_THROW(Sequence(0, 1), std::invalid_argument);
  EXPECT_THROW(Sequence(5, 3), std::invalid_argument);
  EXPECT_NO_THROW(Sequence(8, 13));
}

TEST(FibonacciSequence, jsonRoundTrip) {
  Sequence sequence;
  for (int i = 0; i < 10; ++i) sequence.next();
  const nlohmann::json state = sequence.toJson();
  EXPECT_EQ(state, nlohmann::json({{"a", 89}, {"b", 144}}));
  Sequence restored = Sequence::fromJson(nlohmann::json::parse(state.dump()));
  EXPECT_EQ(restored.next(), sequence.next());
}

TEST(FibonacciSequence, fromJsonRefusesWhatIsNotASavedSequence) {
  const char* bad[] = {R"([1, 2])",
                       R"({"a": 1})",
                       R"({"b": 1})",
                       R"({"a": -1, "b": 2})",
                       R"({"a": 1.5, "b": 2})",
                       R"({"a": "1", "b": 2})",
                       R"({"a": 3, "b": 2})",
                       R"(null)"};
  for (const char* text : bad) {
    SCOPED_TRACE(text);
    EXPECT_THROW(Sequence::fromJson(nlohmann::json::parse(text)), std::invalid_argument);
  }
}

TEST(Fibonacci, answersEachReadWithTheNextNumberAndCrLf) {
  FibonacciFactory factory;
  Client client(factory);
  EXPECT_EQ(client.ask(), "2\r\n");
  EXPECT_EQ(client.ask(), "3\r\n");
  EXPECT_EQ(client.ask(), "5\r\n");
}

TEST(Fibonacci, clientsShareOneSequenceAndNeverGetTheSameNumber) {
  FibonacciFactory factory;
  Client first(factory);
  Client second(factory);
  EXPECT_EQ(first.ask(), "2\r\n");
  EXPECT_EQ(second.ask(), "3\r\n");
  EXPECT_EQ(second.ask(), "5\r\n");
  EXPECT_EQ(first.ask(), "8\r\n");
}

TEST(Fibonacci, anotherFactoryHasItsOwnSequence) {
  FibonacciFactory one, two;
  Client a(one), b(two);
  EXPECT_EQ(a.ask(), "2\r\n");
  EXPECT_EQ(b.ask(), "2\r\n");
}

TEST(FibonacciService, savesTheSequenceAndAFreshServiceContinuesIt) {
  torsion::testing::MemoryReactor reactor;
  auto factory = std::make_shared<FibonacciFactory>();
  auto service =
      std::make_shared<FibonacciService>(torsion::serverFromString(reactor, "tcp:8888"), factory);
  Client client(*factory);
  client.ask();
  client.ask();
  client.ask();  // 2, 3, 5
  const auto state = service->saveState();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(*state, nlohmann::json({{"a", 3}, {"b", 5}}));

  auto freshFactory = std::make_shared<FibonacciFactory>();
  auto fresh = std::make_shared<FibonacciService>(torsion::serverFromString(reactor, "tcp:8888"),
                                                  freshFactory);
  fresh->restoreState(*state);
  Client later(*freshFactory);
  EXPECT_EQ(later.ask(), "8\r\n");
}

TEST(FibonacciService, aRefusedStateLeavesTheSequenceAlone) {
  torsion::testing::MemoryReactor reactor;
  auto factory = std::make_shared<FibonacciFactory>();
  FibonacciService service(torsion::serverFromString(reactor, "tcp:8888"), factory);
  EXPECT_THROW(service.restoreState({{"a", 0}, {"b", 0}}), std::invalid_argument);
  EXPECT_EQ(factory->sequence().a(), 1u);
  EXPECT_EQ(factory->sequence().b(), 1u);
}

TEST(FibonacciService, listensWithItsFactoryWhenStarted) {
  torsion::testing::MemoryReactor reactor;
  auto factory = std::make_shared<FibonacciFactory>();
  FibonacciService service(torsion::serverFromString(reactor, "tcp:8888"), factory);
  service.startService();
  ASSERT_EQ(reactor.tcpServers.size(), 1u);
  EXPECT_EQ(reactor.tcpServers[0].port, 8888);
  EXPECT_EQ(reactor.tcpServers[0].factory, factory);
  service.stopService();
}

}  // namespace
