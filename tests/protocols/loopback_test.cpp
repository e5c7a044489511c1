// The protocols between a client and a server over the in-memory loopback (testing/loopback),
// whose FakeTransport keeps the real transports' contract: byte-by-byte delivery, flow
// control of a pull producer, policies wrapping a real conversation.
#include "torsion/testing/loopback.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/net/factory.hpp"
#include "torsion/protocols/basic.hpp"
#include "torsion/protocols/policies.hpp"
#include "torsion/protocols/wire.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/clock.hpp"

namespace torsion::protocols {
namespace {

using std::chrono::seconds;
using testing::AccumulatingProtocol;
using testing::Clock;
using testing::connectedServerAndClient;
using testing::LoopbackOptions;

// Answers each line with "you said: <line>"; "bye" closes.
class Chat : public LineReceiver {
 public:
  void lineReceived(std::string_view line) override {
    if (line == "bye") {
      transport->loseConnection();
      return;
    }
    sendLine("you said: " + std::string(line));
  }
};

class Lines : public LineReceiver {
 public:
  void lineReceived(std::string_view line) override { lines.emplace_back(line); }
  void connectionLost(const Failure& reason) override {
    (void)reason;
    lost = true;
  }
  std::vector<std::string> lines;
  bool lost = false;
};

TEST(ProtocolsOverLoopback, lineChatByteByByte) {
  LoopbackOptions options;
  options.readSize = 1;
  auto c = connectedServerAndClient(std::make_unique<Chat>(), std::make_unique<Lines>(), options);
  c.client->sendLine("hello");
  c.client->sendLine("");
  c.client->sendLine("bye");
  c.client->sendLine("ignored");
  c.pump.flush();
  EXPECT_EQ(c.client->lines, (std::vector<std::string>{"you said: hello", "you said: "}));
  EXPECT_TRUE(c.client->lost);
}

class Strings : public Int32StringReceiver {
 public:
  void stringReceived(std::string_view data) override { received.emplace_back(data); }
  std::vector<std::string> received;
};

class Reverser : public Int32StringReceiver {
 public:
  void stringReceived(std::string_view data) override {
    sendString(std::string(data.rbegin(), data.rend()));
  }
};

TEST(ProtocolsOverLoopback, int32StringsInOddReads) {
  LoopbackOptions options;
  options.readSize = 3;
  auto c =
      connectedServerAndClient(std::make_unique<Reverser>(), std::make_unique<Strings>(), options);
  const std::string big(70000, 'z');
  c.client->sendString("abc");
  c.client->sendString("");
  c.client->sendString(big + "a");
  c.pump.flush();
  EXPECT_EQ(c.client->received, (std::vector<std::string>{"cba", "", "a" + big}));
}

class NetstringEcho : public NetstringReceiver {
 public:
  void stringReceived(std::string_view data) override { sendString(data); }
};

class Netstrings : public NetstringReceiver {
 public:
  void stringReceived(std::string_view data) override { received.emplace_back(data); }
  std::vector<std::string> received;
};

TEST(ProtocolsOverLoopback, malformedNetstringClosesTheConnection) {
  auto c = connectedServerAndClient(std::make_unique<NetstringEcho>(),
                                    std::make_unique<AccumulatingProtocol>());
  c.client->transport->write("5:hello,");
  c.pump.flush();
  EXPECT_EQ(c.client->data, "5:hello,");
  c.client->transport->write("05:hello,");
  c.pump.flush();
  EXPECT_TRUE(c.client->closed);
}

TEST(ProtocolsOverLoopback, chargenHoldsAtMostOneChunkForAReaderThatStopped) {
  LoopbackOptions options;
  options.socketBufferSize = 16 * 1024;
  options.greet = false;  // a flush would never end: Chargen writes for as long as one reads
  auto c = connectedServerAndClient(std::make_unique<Chargen>(),
                                    std::make_unique<AccumulatingProtocol>(), options);
  c.pump.clientTransport().pauseProducing();  // the client stops reading
  for (int i = 0; i < 50; ++i) c.pump.pump();
  EXPECT_LE(c.pump.serverTransport().bufferedBytes(), Chargen::pattern().size());
  EXPECT_EQ(c.pump.serverTransport().inFlightBytes(), options.socketBufferSize);
  const std::size_t before = c.client->data.size();

  c.pump.clientTransport().resumeProducing();
  for (int i = 0; i < 50; ++i) c.pump.pump();
  EXPECT_GT(c.client->data.size(), before + 2 * Chargen::pattern().size());
  EXPECT_EQ(std::string_view(c.client->data).substr(0, Chargen::pattern().size()),
            Chargen::pattern());

  c.client->transport->loseConnection();
  c.pump.flush();
  EXPECT_TRUE(c.pump.serverTransport().disconnected());
}

TEST(ProtocolsOverLoopback, timeoutFactoryDropsAnIdleClient) {
  Clock clock;
  LoopbackOptions options;
  options.clock = &clock;
  auto factory = std::make_shared<TimeoutFactory>(Factory::forProtocol<Chat>(), clock, seconds(5));
  auto c = connectedServerAndClient(factory, std::make_unique<Lines>(), options);
  clock.advance(seconds(4));
  c.client->sendLine("still here");
  c.pump.flush();
  clock.advance(seconds(4));
  c.pump.flush();
  EXPECT_FALSE(c.client->lost);
  EXPECT_EQ(c.client->lines, std::vector<std::string>{"you said: still here"});
  clock.advance(seconds(1));
  c.pump.flush();
  EXPECT_TRUE(c.client->lost);
  EXPECT_TRUE(factory->protocols().empty());
}

TEST(ProtocolsOverLoopback, throttledReadsHoldTheClientsBytesBack) {
  Clock clock;
  LoopbackOptions options;
  options.clock = &clock;
  auto factory = std::make_shared<ThrottlingFactory>(Factory::forProtocol<AccumulatingProtocol>(),
                                                     clock, 10, 100, std::nullopt);
  auto c = connectedServerAndClient(factory, std::make_unique<AccumulatingProtocol>(), options);
  auto& server = static_cast<AccumulatingProtocol&>(
      static_cast<ProtocolWrapper&>(*c.server).wrappedProtocol());
  c.client->transport->write(std::string(300, 'x'));
  c.pump.flush();
  EXPECT_EQ(server.data.size(), 300U);
  clock.advance(seconds(1));  // 300 bytes at 100/s: reads stop for 2 s
  c.client->transport->write("later");
  c.pump.flush();
  EXPECT_EQ(server.data.size(), 300U);
  clock.advance(seconds(2));
  c.pump.flush();
  EXPECT_EQ(server.data.size(), 305U);
}

}  // namespace
}  // namespace torsion::protocols
