// The small standard services of Twisted's twisted.protocols.wire, the ones inetd serves
// itself: Echo (RFC 862), Discard (RFC 863), Chargen (RFC 864), QOTD (RFC 865), Who (RFC 866,
// Twisted's list of active users), Daytime (RFC 867), Time (RFC 868).
//
// Serve one with Factory::forProtocol:
//   network(reactor).listenTCP(7, Factory::forProtocol<torsion::protocols::Echo>());
//
// Daytime and Time read the wall clock through a WallClock function (the system clock by
// default) so that tests can fix the time.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::protocols {

// Writes back whatever it receives.
class Echo : public Protocol {
 public:
  void dataReceived(std::string_view data) override;
};

// Reads and ignores everything.
class Discard : public Protocol {
 public:
  void dataReceived(std::string_view data) override { (void)data; }
};

// Sends RFC 864's rotating pattern of 72-character lines for as long as the peer reads.
// It is a pull producer of the transport (as in Twisted): the transport asks for one chunk
// (one 95-line period of the pattern, 7030 bytes) each time its buffer has drained, so a slow
// reader holds at most one chunk in memory and a fast one gets the socket kept full.
class Chargen : public Protocol, public IProducer {
 public:
  // One full period of the pattern: 95 lines of 72 characters and CRLF.
  static std::string_view pattern() noexcept;

  // Registers this protocol with the transport as its (pull) producer.
  void connectionMade() override;
  void dataReceived(std::string_view data) override { (void)data; }
  // Writes one period of the pattern; nothing after stopProducing.
  void resumeProducing() override;
  void pauseProducing() override {}
  // The connection is gone: write nothing more.
  void stopProducing() override { stopped_ = true; }

 private:
  bool stopped_ = false;
};

// Sends a quote and hangs up.
class QOTD : public Protocol {
 public:
  explicit QOTD(std::string quote = "An apple a day keeps the doctor away.\r\n")
      : quote_(std::move(quote)) {}
  void connectionMade() override;
  // The quote to send; override to choose one per connection.
  virtual std::string getQuote() { return quote_; }

 private:
  std::string quote_;
};

// Sends the list of active users and hangs up (Twisted's Who: "root\r\n" unless overridden).
class Who : public Protocol {
 public:
  void connectionMade() override;
  virtual std::string getUsers() { return "root\r\n"; }
};

// Where Daytime and Time read the time.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

// Sends the UTC time in asctime form ("Thu Jan  1 00:00:00 1970\r\n", as Twisted does) and
// hangs up.
class Daytime : public Protocol {
 public:
  explicit Daytime(WallClock now = std::chrono::system_clock::now) : now_(std::move(now)) {}
  void connectionMade() override;
  // The line Daytime sends for `t`.
  static std::string format(std::chrono::system_clock::time_point t);

 private:
  WallClock now_;
};

// Sends the time as RFC 868 says, seconds since 1900-01-01 00:00 UTC as a 32-bit big-endian
// number (modulo 2^32: it wraps in 2036), and hangs up. Twisted sends seconds since 1970
// instead; clients such as rdate(8) expect 1900.
class Time : public Protocol {
 public:
  explicit Time(WallClock now = std::chrono::system_clock::now) : now_(std::move(now)) {}
  void connectionMade() override;
  // The 4 bytes Time sends for `t`.
  static std::string encode(std::chrono::system_clock::time_point t);

 private:
  WallClock now_;
};

}  // namespace torsion::protocols
