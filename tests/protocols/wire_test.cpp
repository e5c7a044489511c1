// The wire services (Twisted's test_wire), over StringTransport.
#include "torsion/protocols/wire.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>

#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::StringTransport;

std::chrono::system_clock::time_point at(std::int64_t unixSeconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unixSeconds));
}

TEST(Echo, writesBackWhatItReceives) {
  StringTransport transport;
  Echo p;
  p.makeConnection(transport);
  p.dataReceived("hello");
  p.dataReceived(std::string_view("\0 world", 7));
  EXPECT_EQ(transport.value(), std::string("hello\0 world", 12));
  EXPECT_FALSE(transport.disconnecting());
}

TEST(Discard, writesNothing) {
  StringTransport transport;
  Discard p;
  p.makeConnection(transport);
  p.dataReceived("hello");
  EXPECT_EQ(transport.value(), "");
  EXPECT_FALSE(transport.disconnecting());
}

TEST(Chargen, registersAsAPullProducerOfItsTransport) {
  StringTransport transport;
  Chargen p;
  p.makeConnection(transport);
  EXPECT_EQ(transport.producer(), &p);
  EXPECT_FALSE(transport.streaming());
  EXPECT_EQ(transport.value(), "");
}

TEST(Chargen, writesOnePeriodOfThePatternPerRequest) {
  StringTransport transport;
  Chargen p;
  p.makeConnection(transport);
  transport.producer()->resumeProducing();
  EXPECT_EQ(transport.value(), Chargen::pattern());
  transport.producer()->resumeProducing();
  EXPECT_EQ(transport.value().size(), 2 * Chargen::pattern().size());
  EXPECT_EQ(transport.writeCount(), 2U);
}

TEST(Chargen, patternIsRfc864sRotatingLines) {
  const std::string_view pattern = Chargen::pattern();
  ASSERT_EQ(pattern.size(), 95U * 74U);
  EXPECT_EQ(pattern.substr(0, 74),
            " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n");
  EXPECT_EQ(pattern.substr(74, 74),
            "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n");
  // The last line wraps from '~' back to ' '.
  EXPECT_EQ(pattern.substr(94 * 74, 3), "~ !");
  for (std::size_t line = 0; line < 95; ++line) {
    EXPECT_EQ(pattern.substr(line * 74 + 72, 2), "\r\n");
  }
}

TEST(Chargen, writesNothingAfterStopProducing) {
  StringTransport transport;
  Chargen p;
  p.makeConnection(transport);
  p.stopProducing();
  p.resumeProducing();
  EXPECT_EQ(transport.value(), "");
}

TEST(QOTD, sendsTheQuoteAndHangsUp) {
  StringTransport transport;
  QOTD p;
  p.makeConnection(transport);
  EXPECT_EQ(transport.value(), "An apple a day keeps the doctor away.\r\n");
  EXPECT_TRUE(transport.disconnecting());
}

TEST(QOTD, quoteCanBeGivenOrChosenPerConnection) {
  StringTransport transport;
  QOTD given("Carpe diem.\r\n");
  given.makeConnection(transport);
  EXPECT_EQ(transport.value(), "Carpe diem.\r\n");

  class Counting : public QOTD {
    std::string getQuote() override { return "quote " + std::to_string(++n) + "\r\n"; }
    int n = 0;
  };
  StringTransport other;
  Counting chosen;
  chosen.makeConnection(other);
  EXPECT_EQ(other.value(), "quote 1\r\n");
}

TEST(Who, sendsTheUsersAndHangsUp) {
  StringTransport transport;
  Who p;
  p.makeConnection(transport);
  EXPECT_EQ(transport.value(), "root\r\n");
  EXPECT_TRUE(transport.disconnecting());
}

TEST(Daytime, sendsTheUtcTimeInAsctimeFormAndHangsUp) {
  StringTransport transport;
  Daytime p([] { return at(0); });
  p.makeConnection(transport);
  EXPECT_EQ(transport.value(), "Thu Jan  1 00:00:00 1970\r\n");
  EXPECT_TRUE(transport.disconnecting());
}

TEST(Daytime, formatMatchesAsctime) {
  // time.asctime(time.gmtime(1614834367)) == 'Thu Mar  4 05:06:07 2021'
  EXPECT_EQ(Daytime::format(at(1614834367)), "Thu Mar  4 05:06:07 2021\r\n");
  // time.asctime(time.gmtime(1700000000)) == 'Tue Nov 14 22:13:20 2023'
  EXPECT_EQ(Daytime::format(at(1700000000)), "Tue Nov 14 22:13:20 2023\r\n");
}

TEST(Time, sendsSecondsSince1900BigEndianAndHangsUp) {
  StringTransport transport;
  Time p([] { return at(0); });
  p.makeConnection(transport);
  // 1970-01-01 is 2208988800 = 0x83AA7E80 seconds after 1900-01-01.
  EXPECT_EQ(transport.value(), std::string("\x83\xAA\x7E\x80", 4));
  EXPECT_TRUE(transport.disconnecting());
}

TEST(Time, wrapsModulo2To32) {
  // 2036-02-07 06:28:16 UTC is 2^32 seconds after 1900: the counter is back at 0.
  EXPECT_EQ(Time::encode(at(4294967296 - 2208988800)), std::string(4, '\0'));
  EXPECT_EQ(Time::encode(at(1700000000)), std::string("\xE8\xFE\x6F\x80", 4));
}

}  // namespace
}  // namespace torsion::protocols
