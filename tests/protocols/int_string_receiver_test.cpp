// Int8/Int16/Int32StringReceiver: Twisted's IntNTestCaseMixin cases (receive, partial,
// send, length limit) for each prefix size, plus pausing, views and too-long sends.
#include "torsion/protocols/int_string_receiver.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::StringTransport;

template <class Base>
class Strings : public Base {
 public:
  void stringReceived(std::string_view data) override { received.emplace_back(data); }
  void lengthLimitExceeded(std::size_t length) override {
    exceeded.push_back(length);
    Base::lengthLimitExceeded(length);
  }
  std::vector<std::string> received;
  std::vector<std::size_t> exceeded;
};

// A big-endian prefix of `size` bytes.
std::string prefix(std::size_t length, std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = size; i-- > 0;) {
    out[i] = static_cast<char>(length & 0xFFU);
    length >>= 8U;
  }
  return out;
}

template <class Base>
class IntNStringReceiverTest : public ::testing::Test {
 protected:
  IntNStringReceiverTest() { protocol.makeConnection(transport); }
  std::size_t size() const { return protocol.prefixLength(); }
  std::string frame(std::string_view data) const {
    return prefix(data.size(), size()) + std::string(data);
  }
  StringTransport transport;
  Strings<Base> protocol;
};

using Receivers = ::testing::Types<Int8StringReceiver, Int16StringReceiver, Int32StringReceiver>;
TYPED_TEST_SUITE(IntNStringReceiverTest, Receivers);

TYPED_TEST(IntNStringReceiverTest, receivesStringsInOneRead) {
  this->protocol.dataReceived(this->frame("a") + this->frame(std::string(16, 'b')) +
                              this->frame(""));
  EXPECT_EQ(this->protocol.received, (std::vector<std::string>{"a", std::string(16, 'b'), ""}));
}

TYPED_TEST(IntNStringReceiverTest, receivesStringsInPiecesOfAnySize) {
  const std::vector<std::string> strings = {"a", std::string(16, 'b'), "", std::string(200, 'c')};
  std::string all;
  for (const std::string& s : strings) all += this->frame(s);
  for (std::size_t size = 1; size <= all.size(); ++size) {
    Strings<TypeParam> p;
    StringTransport transport;
    p.makeConnection(transport);
    for (std::size_t i = 0; i < all.size(); i += size) {
      p.dataReceived(std::string_view(all).substr(i, size));
    }
    EXPECT_EQ(p.received, strings) << "pieces of " << size;
    EXPECT_EQ(p.unparsedBytes(), 0U);
  }
}

TYPED_TEST(IntNStringReceiverTest, partialStringIsKeptUntilComplete) {
  const std::string f = this->frame("hello");
  this->protocol.dataReceived(std::string_view(f).substr(0, f.size() - 1));
  EXPECT_TRUE(this->protocol.received.empty());
  EXPECT_EQ(this->protocol.unparsedBytes(), f.size() - 1);
  this->protocol.dataReceived(std::string_view(f).substr(f.size() - 1));
  EXPECT_EQ(this->protocol.received, std::vector<std::string>{"hello"});
}

TYPED_TEST(IntNStringReceiverTest, sendStringWritesPrefixAndDataInOneWrite) {
  this->protocol.sendString("b");
  this->protocol.sendString("");
  EXPECT_EQ(this->transport.value(), this->frame("b") + this->frame(""));
  EXPECT_EQ(this->transport.writeCount(), 2U);
}

TYPED_TEST(IntNStringReceiverTest, lengthOverMaxLengthCallsLengthLimitExceeded) {
  this->protocol.maxLength = 10;
  this->protocol.dataReceived(prefix(11, this->size()));
  EXPECT_EQ(this->protocol.exceeded, std::vector<std::size_t>{11});
  EXPECT_TRUE(this->transport.disconnecting());
  EXPECT_TRUE(this->protocol.lengthExceeded());
}

TYPED_TEST(IntNStringReceiverTest, lengthOfExactlyMaxLengthIsAccepted) {
  this->protocol.maxLength = 10;
  this->protocol.dataReceived(this->frame(std::string(10, 'x')));
  EXPECT_EQ(this->protocol.received, std::vector<std::string>{std::string(10, 'x')});
  EXPECT_FALSE(this->transport.disconnecting());
}

TYPED_TEST(IntNStringReceiverTest, longStringIsNotDeliveredNorBuffered) {
  this->protocol.maxLength = 10;
  this->protocol.dataReceived(this->frame(std::string(11, 'x')));
  EXPECT_TRUE(this->protocol.received.empty());
  EXPECT_EQ(this->protocol.unparsedBytes(), 0U);
}

TYPED_TEST(IntNStringReceiverTest, everythingAfterARefusedLengthIsIgnored) {
  class Keeping : public Strings<TypeParam> {
    void lengthLimitExceeded(std::size_t length) override { this->exceeded.push_back(length); }
  };
  StringTransport transport;
  Keeping p;
  p.maxLength = 3;
  p.makeConnection(transport);
  p.dataReceived(this->frame("ok") + this->frame("toolong") + this->frame("ok"));
  p.dataReceived(this->frame("ok"));
  EXPECT_EQ(p.received, std::vector<std::string>{"ok"});
  EXPECT_EQ(p.exceeded, std::vector<std::size_t>{7});
  EXPECT_FALSE(transport.disconnecting());
}

TYPED_TEST(IntNStringReceiverTest, completeStringsInOneReadAreViewsIntoIt) {
  class Pointing : public TypeParam {
   public:
    void stringReceived(std::string_view data) override { starts.push_back(data.data()); }
    std::vector<const char*> starts;
  };
  StringTransport transport;
  Pointing p;
  p.makeConnection(transport);
  const std::string chunk = this->frame("ab") + this->frame("cde");
  p.dataReceived(chunk);
  ASSERT_EQ(p.starts.size(), 2U);
  EXPECT_EQ(p.starts[0], chunk.data() + this->size());
  EXPECT_EQ(p.starts[1], chunk.data() + 2 * this->size() + 2);
}

TYPED_TEST(IntNStringReceiverTest, pausingHoldsStringsBack) {
  class Pausing : public Strings<TypeParam> {
    void stringReceived(std::string_view data) override {
      Strings<TypeParam>::stringReceived(data);
      if (data == "pause") this->pauseProducing();
    }
  };
  StringTransport transport;
  Pausing p;
  p.makeConnection(transport);
  const std::string rest = this->frame("a") + this->frame("b");
  p.dataReceived(this->frame("pause") + rest.substr(0, 3));
  p.dataReceived(rest.substr(3));
  EXPECT_EQ(p.received, std::vector<std::string>{"pause"});
  EXPECT_TRUE(p.paused());
  p.resumeProducing();
  EXPECT_EQ(p.received, (std::vector<std::string>{"pause", "a", "b"}));
  EXPECT_EQ(transport.producerState(), StringTransport::kProducing);
}

TYPED_TEST(IntNStringReceiverTest, stopProducingStopsDelivery) {
  class Stopping : public Strings<TypeParam> {
    void stringReceived(std::string_view data) override {
      Strings<TypeParam>::stringReceived(data);
      this->stopProducing();
    }
  };
  StringTransport transport;
  Stopping p;
  p.makeConnection(transport);
  p.dataReceived(this->frame("one") + this->frame("two"));
  EXPECT_EQ(p.received, std::vector<std::string>{"one"});
  EXPECT_EQ(transport.producerState(), StringTransport::kStopped);
}

TEST(Int8StringReceiver, sendStringRefusesMoreThan255Bytes) {
  Strings<Int8StringReceiver> p;
  StringTransport transport;
  p.makeConnection(transport);
  p.sendString(std::string(255, 'x'));
  EXPECT_THROW(p.sendString(std::string(256, 'x')), StringTooLongError);
  EXPECT_EQ(transport.value().size(), 256U);
}

TEST(Int16StringReceiver, sendStringRefusesMoreThan65535Bytes) {
  Strings<Int16StringReceiver> p;
  StringTransport transport;
  p.makeConnection(transport);
  EXPECT_THROW(p.sendString(std::string(65536, 'x')), StringTooLongError);
  EXPECT_TRUE(transport.value().empty());
  p.sendString(std::string(65535, 'x'));
  EXPECT_EQ(transport.value().substr(0, 2), "\xFF\xFF");
}

TEST(Int32StringReceiver, prefixIsBigEndian) {
  Strings<Int32StringReceiver> p;
  StringTransport transport;
  p.makeConnection(transport);
  p.sendString(std::string(0x0102, 'x'));
  EXPECT_EQ(transport.value().substr(0, 4), std::string("\x00\x00\x01\x02", 4));
}

TEST(Int32StringReceiver, hugeAllowedLengthWaitsForItsPayload) {
  Strings<Int32StringReceiver> p;
  StringTransport transport;
  p.maxLength = 0xFFFFFFFFU;
  p.makeConnection(transport);
  p.dataReceived(std::string("\xFF\xFF\xFF\xF0", 4) + "abc");
  EXPECT_TRUE(p.received.empty());
  EXPECT_EQ(p.unparsedBytes(), 7U);
  EXPECT_FALSE(transport.disconnecting());
}

TEST(Int32StringReceiver, illegalLengthLosesTheConnection) {
  // Twisted's illegal Int32 string: a 0x10000000-byte prefix with MAX_LENGTH 50.
  Strings<Int32StringReceiver> p;
  StringTransport transport;
  p.maxLength = 50;
  p.makeConnection(transport);
  p.dataReceived(std::string("\x10\x00\x00\x00", 4) + "aaaaaa");
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_TRUE(p.received.empty());
}

}  // namespace
}  // namespace torsion::protocols
