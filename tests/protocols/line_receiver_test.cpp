// LineReceiver and LineOnlyReceiver: Twisted's test_basic cases (packet sizes 1..9 over the
// same scripts, pausing, raw mode, the MAX_LENGTH borders), plus what a string_view parser must
// get right (delimiters straddling reads, re-entrancy, views into the read buffer).
#include "torsion/protocols/line_receiver.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/testing/clock.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::protocols {
namespace {

using testing::Clock;
using testing::StringTransport;
using testing::StringTransportWithDisconnection;

// Feeds `data` in pieces of `size` bytes.
template <class P>
void feed(P& protocol, std::string_view data, std::size_t size) {
  for (std::size_t i = 0; i < data.size(); i += size) protocol.dataReceived(data.substr(i, size));
}

// Records lines and raw data.
class Lines : public LineReceiver {
 public:
  void lineReceived(std::string_view line) override { lines.emplace_back(line); }
  void rawDataReceived(std::string_view data) override { raw += data; }
  std::vector<std::string> lines;
  std::string raw;
};

// Twisted's LineTester: "" switches to raw mode, "len N" sets how many raw bytes to take,
// "pause" and "rawpause" pause and resume on the next clock tick, "stop" stops producing,
// "produce"/"unproduce" register the receiver as its transport's producer.
class LineTester : public LineReceiver {
 public:
  explicit LineTester(Clock* clock = nullptr) : clock_(clock) {
    delimiter = "\n";
    maxLength = 64;
  }

  void lineReceived(std::string_view line) override {
    received.emplace_back(line);
    if (line.empty()) {
      setRawMode();
    } else if (line == "pause") {
      pauseProducing();
      clock_->callLater(std::chrono::seconds(0), [this] { resumeProducing(); });
    } else if (line == "rawpause") {
      pauseProducing();
      setRawMode();
      received.emplace_back();
      clock_->callLater(std::chrono::seconds(0), [this] { resumeProducing(); });
    } else if (line == "stop") {
      stopProducing();
    } else if (line.starts_with("len ")) {
      length = std::stoul(std::string(line.substr(4)));
    } else if (line.starts_with("produce")) {
      transport->registerProducer(*this, false);
    } else if (line.starts_with("unproduce")) {
      transport->unregisterProducer();
    }
  }

  void rawDataReceived(std::string_view data) override {
    const std::string_view mine = data.substr(0, length);
    const std::string_view rest = data.substr(mine.size());
    length -= mine.size();
    received.back() += mine;
    if (length == 0) setLineMode(rest);
  }

  void lineLengthExceeded(std::string_view data) override {
    if (data.size() > maxLength + 1) setLineMode(data.substr(maxLength + 1));
  }

  std::vector<std::string> received;
  std::size_t length = 0;

 private:
  Clock* clock_;
};

// The script of Twisted's LineReceiverTests.test_buffer.
constexpr std::string_view kScript =
    "len 10\n"
    "\n"
    "0123456789len 5\n"
    "\n"
    "1234\n"
    "len 20\n"
    "foo 123\n"
    "\n"
    "0123456789\n"
    "012345678len 0\n"
    "foo 5\n"
    "\n"
    "1234567890123456789012345678901234567890123456789012345678901234567890\n"
    "len 1\n"
    "\n"
    "a";

const std::vector<std::string> kScriptOutput = {
    "len 10", "0123456789", "len 5", "1234\n", "len 20", "foo 123", "0123456789\n012345678",
    "len 0",  "foo 5",      "",      "67890",  "len 1",  "a"};

TEST(LineReceiver, deliversEachLineWithoutItsDelimiter) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived("one\r\ntwo\r\n\r\nthree");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"one", "two", ""}));
  p.dataReceived("\r\n");
  EXPECT_EQ(p.lines.back(), "three");
}

TEST(LineReceiver, splitsLinesAcrossReads) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived("hel");
  p.dataReceived("lo\r\nwor");
  EXPECT_EQ(p.lines, std::vector<std::string>{"hello"});
  p.dataReceived("ld\r\n");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"hello", "world"}));
}

TEST(LineReceiver, delimiterSplitAcrossReads) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived("abc\r");
  EXPECT_TRUE(p.lines.empty());
  p.dataReceived("\ndef\r");
  EXPECT_EQ(p.lines, std::vector<std::string>{"abc"});
  p.dataReceived("x\r\n");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"abc", "def\rx"}));
}

TEST(LineReceiver, longDelimiterSplitOverThreeReads) {
  StringTransport transport;
  Lines p;
  p.delimiter = "<END>";
  p.makeConnection(transport);
  for (std::string_view piece : {"a<E", "N", "D>b<", "EN", "D", ">"}) p.dataReceived(piece);
  EXPECT_EQ(p.lines, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.unparsedBytes(), 0U);
}

TEST(LineReceiver, falseDelimiterStartAcrossReadsStaysInTheLine) {
  StringTransport transport;
  Lines p;
  p.delimiter = "<END>";
  p.makeConnection(transport);
  p.dataReceived("a<EN");
  p.dataReceived("<END>");
  EXPECT_EQ(p.lines, std::vector<std::string>{"a<EN"});
}

TEST(LineReceiver, byteAtATimeDeliversTheSameAsOneRead) {
  const std::string data = "alpha\r\nbeta\r\n\r\ngamma delta\r\nrest";
  for (std::size_t size = 1; size <= data.size(); ++size) {
    StringTransport transport;
    Lines p;
    p.makeConnection(transport);
    feed(p, data, size);
    EXPECT_EQ(p.lines, (std::vector<std::string>{"alpha", "beta", "", "gamma delta"}))
        << "pieces of " << size;
    EXPECT_EQ(p.clearLineBuffer(), "rest");
  }
}

TEST(LineReceiver, scriptOfLinesAndRawDataInPiecesOfOneToNineBytes) {
  for (std::size_t size = 1; size < 10; ++size) {
    StringTransport transport;
    LineTester p;
    p.makeConnection(transport);
    feed(p, kScript, size);
    EXPECT_EQ(p.received, kScriptOutput) << "pieces of " << size;
  }
}

TEST(LineReceiver, pausingHoldsLinesBackUntilResumed) {
  const std::string_view data = "twiddle1\ntwiddle2\npause\ntwiddle3\n";
  for (std::size_t size = 1; size < 10; ++size) {
    Clock clock;
    StringTransport transport;
    LineTester p(&clock);
    p.makeConnection(transport);
    feed(p, data, size);
    EXPECT_EQ(p.received, (std::vector<std::string>{"twiddle1", "twiddle2", "pause"}));
    EXPECT_TRUE(p.paused());
    EXPECT_EQ(transport.producerState(), StringTransport::kPaused);
    clock.advance(std::chrono::seconds(0));
    EXPECT_EQ(p.received, (std::vector<std::string>{"twiddle1", "twiddle2", "pause", "twiddle3"}));
    EXPECT_EQ(transport.producerState(), StringTransport::kProducing);
  }
}

TEST(LineReceiver, pausingInRawModeHoldsRawDataBack) {
  const std::string_view data = "twiddle1\ntwiddle2\nlen 5\nrawpause\n12345twiddle3\n";
  for (std::size_t size = 1; size < 10; ++size) {
    Clock clock;
    StringTransport transport;
    LineTester p(&clock);
    p.makeConnection(transport);
    feed(p, data, size);
    EXPECT_EQ(p.received,
              (std::vector<std::string>{"twiddle1", "twiddle2", "len 5", "rawpause", ""}));
    clock.advance(std::chrono::seconds(0));
    EXPECT_EQ(p.received, (std::vector<std::string>{"twiddle1", "twiddle2", "len 5", "rawpause",
                                                    "12345", "twiddle3"}));
  }
}

TEST(LineReceiver, stopProducingDeliversNothingMore) {
  const std::string_view data = "twiddle1\ntwiddle2\nstop\nmore\nstuff\n";
  for (std::size_t size = 1; size < 10; ++size) {
    StringTransport transport;
    LineTester p;
    p.makeConnection(transport);
    feed(p, data, size);
    EXPECT_EQ(p.received, (std::vector<std::string>{"twiddle1", "twiddle2", "stop"}));
    EXPECT_EQ(transport.producerState(), StringTransport::kStopped);
  }
}

TEST(LineReceiver, registersAsItsTransportsProducer) {
  StringTransport transport;
  LineTester p;
  p.makeConnection(transport);
  p.dataReceived("produce\nhello world\n");
  EXPECT_EQ(transport.producer(), &p);
  EXPECT_FALSE(transport.streaming());
  p.dataReceived("unproduce\ngoodbye\n");
  EXPECT_EQ(transport.producer(), nullptr);
  EXPECT_EQ(p.received,
            (std::vector<std::string>{"produce", "hello world", "unproduce", "goodbye"}));
}

TEST(LineReceiver, pausedFromOutsideQueuesLaterReads) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived("a\r\nb");
  p.pauseProducing();
  p.dataReceived("\r\nc\r\n");
  EXPECT_EQ(p.lines, std::vector<std::string>{"a"});
  EXPECT_EQ(p.unparsedBytes(), 6U);
  p.resumeProducing();
  EXPECT_EQ(p.lines, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(p.unparsedBytes(), 0U);
}

TEST(LineReceiver, clearLineBufferFromLineReceivedDropsTheRest) {
  class Clearing : public LineReceiver {
   public:
    void lineReceived(std::string_view l) override {
      line = l;
      rest = clearLineBuffer();
    }
    std::string line, rest;
  };
  StringTransport transport;
  Clearing p;
  p.makeConnection(transport);
  p.dataReceived("foo\r\nbar\r\nbaz");
  EXPECT_EQ(p.line, "foo");
  EXPECT_EQ(p.rest, "bar\r\nbaz");
  p.dataReceived("quux\r\n");
  EXPECT_EQ(p.line, "quux");
  EXPECT_EQ(p.rest, "");
}

TEST(LineReceiver, clearLineBufferReturnsThePartialLine) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived("done\r\npart");
  p.dataReceived("ial");
  EXPECT_EQ(p.clearLineBuffer(), "partial");
  p.dataReceived("new\r\n");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"done", "new"}));
}

TEST(LineReceiver, rawModeSwitchMidBuffer) {
  class Switching : public Lines {
    void lineReceived(std::string_view line) override {
      Lines::lineReceived(line);
      if (line == "RAW") setRawMode();
    }
  };
  StringTransport transport;
  Switching p;
  p.makeConnection(transport);
  p.dataReceived("first\r\nRAW\r\nnot\r\na line");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"first", "RAW"}));
  EXPECT_EQ(p.raw, "not\r\na line");
  EXPECT_FALSE(p.lineMode());
  p.dataReceived("\r\nmore");
  EXPECT_EQ(p.raw, "not\r\na line\r\nmore");
}

TEST(LineReceiver, setLineModeWithExtraReparsesItAsLines) {
  // A body of known length, then lines again: the rest of the raw chunk is handed back.
  class Body : public LineReceiver {
   public:
    void lineReceived(std::string_view line) override {
      lines.emplace_back(line);
      if (line.starts_with("BODY ")) {
        remaining = std::stoul(std::string(line.substr(5)));
        setRawMode();
      }
    }
    void rawDataReceived(std::string_view data) override {
      const std::string_view mine = data.substr(0, remaining);
      body += mine;
      remaining -= mine.size();
      if (remaining == 0) setLineMode(data.substr(mine.size()));
    }
    std::vector<std::string> lines;
    std::string body;
    std::size_t remaining = 0;
  };
  const std::string data = "BODY 7\r\nab\r\ncdeAFTER\r\nBODY 0\r\nLAST\r\n";
  for (std::size_t size = 1; size <= data.size(); ++size) {
    StringTransport transport;
    Body p;
    p.makeConnection(transport);
    feed(p, data, size);
    EXPECT_EQ(p.body, "ab\r\ncde") << "pieces of " << size;
    EXPECT_EQ(p.lines, (std::vector<std::string>{"BODY 7", "AFTER", "BODY 0", "LAST"}))
        << "pieces of " << size;
  }
}

TEST(LineReceiver, setLineModeOutsideACallbackParsesExtraAtOnce) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.setRawMode();
  p.dataReceived("raw");
  p.setLineMode("x\r\ny");
  EXPECT_EQ(p.raw, "raw");
  EXPECT_EQ(p.lines, std::vector<std::string>{"x"});
  EXPECT_EQ(p.clearLineBuffer(), "y");
}

TEST(LineReceiver, switchesModesManyTimesWithoutRecursion) {
  // Twisted's FlippingLineTester: each line switches to raw mode, each raw chunk switches
  // back with all but its first byte.
  class Flipping : public LineReceiver {
   public:
    Flipping() { delimiter = "\n"; }
    void lineReceived(std::string_view line) override {
      lines += line;
      setRawMode();
    }
    void rawDataReceived(std::string_view data) override { setLineMode(data.substr(1)); }
    std::string lines;
  };
  constexpr std::size_t kFlips = 3000;
  std::string data;
  for (std::size_t i = 0; i < kFlips; ++i) data += "x\nx";
  StringTransport transport;
  Flipping p;
  p.makeConnection(transport);
  p.dataReceived(data);
  EXPECT_EQ(p.lines, std::string(kFlips, 'x'));
}

TEST(LineReceiver, stopsAfterALineThatDisconnects) {
  class Quitting : public Lines {
    void lineReceived(std::string_view line) override {
      Lines::lineReceived(line);
      if (line == "QUIT") transport->loseConnection();
    }
  };
  for (std::size_t size = 1; size < 12; ++size) {
    StringTransport transport;
    Quitting p;
    p.makeConnection(transport);
    feed(p, "a\r\nQUIT\r\nb\r\nc\r\n", size);
    EXPECT_EQ(p.lines, (std::vector<std::string>{"a", "QUIT"})) << "pieces of " << size;
    EXPECT_TRUE(transport.disconnecting());
  }
}

TEST(LineReceiver, connectionLostInsideLineReceivedEndsTheParse) {
  class Quitting : public Lines {
   public:
    void lineReceived(std::string_view line) override {
      Lines::lineReceived(line);
      if (line == "QUIT") transport->loseConnection();
    }
    void connectionLost(const Failure& reason) override {
      (void)reason;
      lost = true;
    }
    bool lost = false;
  };
  Quitting p;
  StringTransportWithDisconnection transport;
  transport.connect(p);
  p.dataReceived("QUIT\r\nafter\r\n");
  EXPECT_TRUE(p.lost);
  EXPECT_EQ(p.lines, std::vector<std::string>{"QUIT"});
}

TEST(LineReceiver, completeLinesInOneReadAreViewsIntoIt) {
  class Pointing : public LineReceiver {
   public:
    void lineReceived(std::string_view line) override { starts.push_back(line.data()); }
    std::vector<const char*> starts;
  };
  StringTransport transport;
  Pointing p;
  p.makeConnection(transport);
  const std::string chunk = "ab\r\ncd\r\nef";
  p.dataReceived(chunk);
  ASSERT_EQ(p.starts.size(), 2U);
  EXPECT_EQ(p.starts[0], chunk.data());
  EXPECT_EQ(p.starts[1], chunk.data() + 4);
  EXPECT_EQ(p.unparsedBytes(), 2U);
}

TEST(LineReceiver, reentrantDataReceivedIsParsedAfterTheCurrentRead) {
  class Echoing : public Lines {
    void lineReceived(std::string_view line) override {
      Lines::lineReceived(line);
      if (line == "ping") dataReceived("pong\r\n");
    }
  };
  StringTransport transport;
  Echoing p;
  p.makeConnection(transport);
  p.dataReceived("ping\r\nnext\r\n");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"ping", "next", "pong"}));
  // Behind an incomplete line, re-entrant bytes continue that line (as in Twisted).
  p.dataReceived("ping\r\npar");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"ping", "next", "pong", "ping", "parpong"}));
}

TEST(LineReceiver, delimiterChangedFromLineReceivedAppliesToTheRest) {
  class Changing : public Lines {
    void lineReceived(std::string_view line) override {
      Lines::lineReceived(line);
      if (line == "CHANGE") delimiter = "\n";
    }
  };
  StringTransport transport;
  Changing p;
  p.makeConnection(transport);
  p.dataReceived("a\r\nCHANGE\r\nb\nc\r");
  p.dataReceived("\nd\n");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"a", "CHANGE", "b", "c\r", "d"}));
}

TEST(LineReceiver, delimiterChangedWhileALineWaitsRescansIt) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived("a\nb\nc");
  EXPECT_TRUE(p.lines.empty());
  p.delimiter = "\n";
  p.dataReceived("d\n");
  EXPECT_EQ(p.lines, (std::vector<std::string>{"a", "b", "cd"}));
}

TEST(LineReceiver, sendLineWritesTheLineAndTheDelimiterInOneWrite) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.sendLine("hello");
  p.delimiter = "\n";
  p.sendLine("");
  EXPECT_EQ(transport.value(), "hello\r\n\n");
  EXPECT_EQ(transport.writeCount(), 2U);
}

TEST(LineReceiver, sendLineBeforeConnectingThrows) {
  Lines p;
  EXPECT_THROW(p.sendLine("x"), std::logic_error);
}

TEST(LineReceiver, rawDataReceivedMustBeOverriddenToUseRawMode) {
  class LinesOnly : public LineReceiver {
    void lineReceived(std::string_view) override {}
  };
  StringTransport transport;
  LinesOnly p;
  p.makeConnection(transport);
  p.setRawMode();
  EXPECT_THROW(p.dataReceived("data"), std::logic_error);
  // The receiver is still usable: the exception left it consistent.
  p.setLineMode();
  p.dataReceived("line\r\n");
  EXPECT_EQ(p.unparsedBytes(), 0U);
}

TEST(LineReceiver, emptyDelimiterIsRefused) {
  StringTransport transport;
  Lines p;
  p.delimiter = "";
  p.makeConnection(transport);
  EXPECT_THROW(p.dataReceived("abc"), std::invalid_argument);
}

// ---- maxLength ------------------------------------------------------------------------------

// Twisted's ExcessivelyLargeLineCatcher: records what exceeded, keeps the connection.
class Catcher : public Lines {
 public:
  Catcher() { maxLength = 6; }
  void lineLengthExceeded(std::string_view data) override { longLines.emplace_back(data); }
  std::vector<std::string> longLines;
};

TEST(LineReceiver, lineLongerThanMaxLengthLosesTheConnection) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived(std::string(p.maxLength + 1, 'x') + "\r\nr");
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_TRUE(p.lines.empty());
}

TEST(LineReceiver, lineOfExactlyMaxLengthIsDelivered) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  const std::string line(p.maxLength, 'x');
  feed(p, line + "\r\n", 1000);
  EXPECT_FALSE(transport.disconnecting());
  EXPECT_EQ(p.lines, std::vector<std::string>{line});
}

TEST(LineReceiver, unfinishedLineOfMaxLengthPlusDelimiterLosesTheConnection) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived(std::string(p.maxLength + p.delimiter.size(), 'x'));
  EXPECT_TRUE(transport.disconnecting());
}

TEST(LineReceiver, unfinishedLineEndingInPartOfTheDelimiterIsKept) {
  StringTransport transport;
  Lines p;
  p.makeConnection(transport);
  p.dataReceived(std::string(p.maxLength, 'x') + "\r");
  EXPECT_FALSE(transport.disconnecting());
  p.dataReceived("\n");
  EXPECT_EQ(p.lines, std::vector<std::string>{std::string(p.maxLength, 'x')});
}

TEST(LineReceiver, maxLengthLineWhoseDelimiterArrivesInPieces) {
  // Twisted's test_maximumLineLengthPartialDelimiter.
  StringTransport transport;
  LineTester p;
  p.maxLength = 4;
  p.makeConnection(transport);
  const std::string line(p.maxLength - 1, 'x');
  p.dataReceived(line);
  p.dataReceived(p.delimiter.substr(0, p.delimiter.size() - 1));
  p.dataReceived(p.delimiter.substr(p.delimiter.size() - 1) + line);
  EXPECT_FALSE(transport.disconnecting());
  EXPECT_EQ(p.received, std::vector<std::string>{line});
}

TEST(LineReceiver, longUnendedLineIsPassedWhole) {
  StringTransport transport;
  Catcher p;
  p.makeConnection(transport);
  const std::string excessive(p.maxLength * 2 + 2, 'x');
  p.dataReceived(excessive);
  EXPECT_EQ(p.longLines, std::vector<std::string>{excessive});
  EXPECT_FALSE(transport.disconnecting());
}

TEST(LineReceiver, longLineAfterAShortLineIsPassedFromItsStart) {
  StringTransport transport;
  Catcher p;
  p.makeConnection(transport);
  const std::string excessive(p.maxLength * 2 + 2, 'x');
  p.dataReceived("x\r\n" + excessive);
  EXPECT_EQ(p.lines, std::vector<std::string>{"x"});
  EXPECT_EQ(p.longLines, std::vector<std::string>{excessive});
}

TEST(LineReceiver, longLineWithDelimiterPassesEverythingAfterItsStart) {
  StringTransport transport;
  Catcher p;
  p.makeConnection(transport);
  const std::string x(p.maxLength * 2 + 2, 'x');
  p.dataReceived(x + "\r\n" + x);
  EXPECT_EQ(p.longLines, std::vector<std::string>{x + "\r\n" + x});
}

TEST(LineReceiver, multipleLongLinesArePassedTogether) {
  StringTransport transport;
  Catcher p;
  p.makeConnection(transport);
  const std::string x = std::string(p.maxLength * 2 + 2, 'x') + "\r\n";
  p.dataReceived(x + x);
  EXPECT_EQ(p.longLines, std::vector<std::string>{x + x});
}

TEST(LineReceiver, parsingGoesOnAfterAnExceededLineThatKeepsTheConnection) {
  StringTransport transport;
  Catcher p;
  p.makeConnection(transport);
  p.dataReceived("waytoolong");
  p.dataReceived("\r\nok\r\n");
  EXPECT_EQ(p.longLines, std::vector<std::string>{"waytoolong"});
  // The tail of the long line arrives as a (short) line of its own, as in Twisted.
  EXPECT_EQ(p.lines, (std::vector<std::string>{"", "ok"}));
}

TEST(LineReceiver, bufferNeverHoldsMoreThanALineCanNeed) {
  StringTransport transport;
  Catcher p;
  p.maxLength = 100;
  p.makeConnection(transport);
  std::size_t most = 0;
  for (int i = 0; i < 10000; ++i) {
    p.dataReceived("y");
    most = std::max(most, p.unparsedBytes());
  }
  EXPECT_LT(most, p.maxLength + p.delimiter.size());
  EXPECT_EQ(p.longLines.size(), 10000U / (p.maxLength + p.delimiter.size()));
}

// ---- LineOnlyReceiver -----------------------------------------------------------------------

class OnlyLines : public LineOnlyReceiver {
 public:
  OnlyLines() {
    delimiter = "\n";
    maxLength = 64;
  }
  void lineReceived(std::string_view line) override { received.emplace_back(line); }
  std::vector<std::string> received;
};

TEST(LineOnlyReceiver, byteAtATimeDeliversEveryLine) {
  const std::string_view data = "foo\n    bleakness\n    desolation\n    plastic forks\n";
  StringTransport transport;
  OnlyLines p;
  p.makeConnection(transport);
  feed(p, data, 1);
  EXPECT_EQ(p.received, (std::vector<std::string>{"foo", "    bleakness", "    desolation",
                                                  "    plastic forks"}));
}

TEST(LineOnlyReceiver, lineLongerThanMaxLengthLosesTheConnection) {
  StringTransport transport;
  OnlyLines p;
  p.makeConnection(transport);
  p.dataReceived(std::string(p.maxLength + p.delimiter.size() + 1, 'x') + "\r\nr");
  EXPECT_TRUE(transport.disconnecting());
  EXPECT_TRUE(p.received.empty());
}

TEST(LineOnlyReceiver, sendLineUsesItsDelimiter) {
  StringTransport transport;
  OnlyLines p;
  p.makeConnection(transport);
  p.sendLine("abc");
  EXPECT_EQ(transport.value(), "abc\n");
}

}  // namespace
}  // namespace torsion::protocols
