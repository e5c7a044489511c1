// NetstringReceiver: Twisted's NetstringReceiverTests (legal and illegal strings, portions,
// the MAX_LENGTH borders), plus pausing, views and what happens after a malformed string.
#include "torsion/protocols/netstring_receiver.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::StringTransport;

class Strings : public NetstringReceiver {
 public:
  void stringReceived(std::string_view data) override { received.emplace_back(data); }
  std::vector<std::string> received;
};

struct Connected {
  Connected() { protocol.makeConnection(transport); }
  StringTransport transport;
  Strings protocol;
};

TEST(NetstringReceiver, sentStringsComeBackInPiecesOfAnySize) {
  const std::vector<std::string> strings = {
      "hello", "world", "how", "are", "you123", ":today", std::string(515, 'a')};
  for (std::size_t size = 1; size < 10; ++size) {
    Connected c;
    c.protocol.maxLength = 699;
    for (const std::string& s : strings) c.protocol.sendString(s);
    const std::string out = c.transport.value();
    for (std::size_t i = 0; i < out.size(); i += size) {
      c.protocol.dataReceived(std::string_view(out).substr(i, size));
    }
    EXPECT_EQ(c.protocol.received, strings) << "pieces of " << size;
  }
}

TEST(NetstringReceiver, sendStringWritesTheNetstringInOneWrite) {
  Connected c;
  c.protocol.sendString("hello");
  c.protocol.sendString("");
  EXPECT_EQ(c.transport.value(), "5:hello,0:,");
  EXPECT_EQ(c.transport.writeCount(), 2U);
}

TEST(NetstringReceiver, receivesEmptyNetstring) {
  Connected c;
  c.protocol.dataReceived("0:,");
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{""});
}

TEST(NetstringReceiver, receivesOneAndTwoCharacterNetstrings) {
  Connected c;
  c.protocol.dataReceived("1:a,2:ab,");
  EXPECT_EQ(c.protocol.received, (std::vector<std::string>{"a", "ab"}));
}

TEST(NetstringReceiver, colonsAndCommasInsideThePayloadAreData) {
  Connected c;
  c.protocol.dataReceived("4:1:a,,");
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"1:a,"});
  EXPECT_FALSE(c.transport.disconnecting());
}

TEST(NetstringReceiver, lengthSplitAcrossReads) {
  Connected c;
  for (std::string_view part : {"1", "0:01234", "56789", ","}) c.protocol.dataReceived(part);
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"0123456789"});
}

TEST(NetstringReceiver, byteAtATime) {
  Connected c;
  for (std::string_view part : {"2", ":", "a", "b", ","}) c.protocol.dataReceived(part);
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"ab"});
  EXPECT_EQ(c.protocol.unparsedBytes(), 0U);
}

TEST(NetstringReceiver, secondLengthInTheSameReadAsTheFirstString) {
  Connected c;
  c.protocol.dataReceived("1:a,1");
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"a"});
  c.protocol.dataReceived(":b,");
  EXPECT_EQ(c.protocol.received, (std::vector<std::string>{"a", "b"}));
}

TEST(NetstringReceiver, completeStringsInOneReadAreViewsIntoIt) {
  class Pointing : public NetstringReceiver {
   public:
    void stringReceived(std::string_view data) override { starts.push_back(data.data()); }
    std::vector<const char*> starts;
  };
  StringTransport transport;
  Pointing p;
  p.makeConnection(transport);
  const std::string chunk = "2:ab,3:cde,";
  p.dataReceived(chunk);
  ASSERT_EQ(p.starts.size(), 2U);
  EXPECT_EQ(p.starts[0], chunk.data() + 2);
  EXPECT_EQ(p.starts[1], chunk.data() + 7);
}

// Twisted's illegal strings, and one per way a netstring can be malformed.
TEST(NetstringReceiver, malformedInputLosesTheConnection) {
  const std::vector<std::string> illegal = {
      "9999999999999999999999",
      "abc",
      "4:abcde",
      "51:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab,",
      "2:aaa,",  // more data than announced
      "0:a,",    // data in an empty netstring
      ":aaa,",   // no length
      "3aaa,",   // no colon
      "aaa,",    // neither
      "aaa",     // data only
      "-1:a,",   // a sign
      " 1:a,",   // a space
      "1:a;",    // not a comma
  };
  for (const std::string& s : illegal) {
    for (std::size_t size : {std::size_t{1}, s.size()}) {
      Connected c;
      c.protocol.maxLength = 50;
      for (std::size_t i = 0; i < s.size(); i += size) {
        c.protocol.dataReceived(std::string_view(s).substr(i, size));
      }
      EXPECT_TRUE(c.transport.disconnecting()) << s << " in pieces of " << size;
      EXPECT_TRUE(c.protocol.brokenPeer()) << s;
      EXPECT_TRUE(c.protocol.received.empty()) << s;
    }
  }
}

TEST(NetstringReceiver, rejectsLeadingZeroLength) {
  Connected c;
  c.protocol.dataReceived("0");
  EXPECT_FALSE(c.protocol.brokenPeer());
  c.protocol.dataReceived("5:hello,");
  EXPECT_TRUE(c.protocol.brokenPeer());
  EXPECT_TRUE(c.transport.disconnecting());
  EXPECT_TRUE(c.protocol.received.empty());
}

TEST(NetstringReceiver, lengthOverMaxLengthIsRefusedBeforeItsPayload) {
  Connected c;
  const std::string tooLong = std::to_string(c.protocol.maxLength + 1);
  c.protocol.dataReceived(tooLong);
  EXPECT_TRUE(c.transport.disconnecting());
  EXPECT_EQ(c.protocol.unparsedBytes(), 0U);
}

TEST(NetstringReceiver, lengthOfExactlyMaxLengthIsAccepted) {
  Connected c;
  c.protocol.maxLength = 12;
  c.protocol.dataReceived("12:abcdefghijkl,");
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"abcdefghijkl"});
  EXPECT_FALSE(c.transport.disconnecting());
}

TEST(NetstringReceiver, lengthOfMaxLengthPlusOneIsRefused) {
  Connected c;
  c.protocol.maxLength = 11;
  c.protocol.dataReceived("12:");
  EXPECT_TRUE(c.transport.disconnecting());
}

TEST(NetstringReceiver, longLengthIsRefusedAtItsFirstExcessDigit) {
  Connected c;
  c.protocol.maxLength = 11;
  c.protocol.dataReceived("10");
  EXPECT_FALSE(c.transport.disconnecting());
  c.protocol.dataReceived("0");
  EXPECT_TRUE(c.transport.disconnecting());
}

TEST(NetstringReceiver, hugeMaxLengthCannotOverflow) {
  Connected c;
  c.protocol.maxLength = static_cast<std::size_t>(-1);
  c.protocol.dataReceived("99999999999999999999999999999");
  EXPECT_TRUE(c.protocol.brokenPeer());
}

TEST(NetstringReceiver, everythingAfterMalformedInputIsIgnored) {
  Connected c;
  c.protocol.dataReceived("1:a,x1:b,");
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"a"});
  c.protocol.dataReceived("1:c,");
  EXPECT_EQ(c.protocol.received, std::vector<std::string>{"a"});
  EXPECT_EQ(c.protocol.unparsedBytes(), 0U);
}

TEST(NetstringReceiver, stringsAfterOneThatDisconnectsStillArrive) {
  class Quitting : public Strings {
    void stringReceived(std::string_view data) override {
      Strings::stringReceived(data);
      if (data == "quit") transport->loseConnection();
    }
  };
  StringTransport transport;
  Quitting p;
  p.makeConnection(transport);
  p.dataReceived("4:quit,5:after,");
  EXPECT_EQ(p.received, (std::vector<std::string>{"quit", "after"}));
}

TEST(NetstringReceiver, pausingHoldsStringsBack) {
  class Pausing : public Strings {
    void stringReceived(std::string_view data) override {
      Strings::stringReceived(data);
      if (data == "pause") pauseProducing();
    }
  };
  StringTransport transport;
  Pausing p;
  p.makeConnection(transport);
  p.dataReceived("5:pause,1:a,1:");
  p.dataReceived("b,");
  EXPECT_EQ(p.received, std::vector<std::string>{"pause"});
  EXPECT_EQ(transport.producerState(), StringTransport::kPaused);
  p.resumeProducing();
  EXPECT_EQ(p.received, (std::vector<std::string>{"pause", "a", "b"}));
}

TEST(NetstringReceiver, reentrantDataReceivedComesAfterTheCurrentRead) {
  class Echoing : public Strings {
    void stringReceived(std::string_view data) override {
      Strings::stringReceived(data);
      if (data == "ping") dataReceived("4:pong,");
    }
  };
  StringTransport transport;
  Echoing p;
  p.makeConnection(transport);
  p.dataReceived("4:ping,4:next,");
  EXPECT_EQ(p.received, (std::vector<std::string>{"ping", "next", "pong"}));
}

TEST(NetstringReceiver, sendStringBeforeConnectingThrows) {
  Strings p;
  EXPECT_THROW(p.sendString("x"), std::logic_error);
}

}  // namespace
}  // namespace torsion::protocols
