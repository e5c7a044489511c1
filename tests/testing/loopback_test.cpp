// The in-memory loopback (iosim): FakeTransport keeps the ITransport contract the real TCP and
// Unix transports keep, and IOPump moves everything only when told.
#include "torsion/testing/loopback.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "support/helpers.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/log_capture.hpp"

namespace torsion::testing {
namespace {

using torsion::test::Boom;

// A protocol whose reactions a test sets, and that records what happened to it, in order, in
// a journal it may share with its peer.
class Peer : public Protocol {
 public:
  explicit Peer(std::string name = "", std::vector<std::string>* journal = nullptr)
      : name_(std::move(name)), journal_(journal != nullptr ? journal : &own_) {}

  void connectionMade() override {
    made = true;
    note("made");
    if (onMade) onMade(*this);
  }
  void dataReceived(std::string_view bytes) override {
    data.append(bytes);
    ++dataCalls;
    note("data:" + std::string(bytes.substr(0, 16)));
    if (onData) onData(*this, bytes);
  }
  void connectionLost(const Failure& failure) override {
    ++lostCalls;
    reason = failure;
    wasConnectedAtLost = connected;
    note("lost:" + failure.typeName());
    if (onLost) onLost(*this);
  }

  void note(const std::string& event) {
    journal_->push_back(name_.empty() ? event : name_ + " " + event);
  }
  const std::vector<std::string>& journal() const { return *journal_; }

  std::function<void(Peer&)> onMade;
  std::function<void(Peer&, std::string_view)> onData;
  std::function<void(Peer&)> onLost;
  bool made = false;
  std::string data;
  int dataCalls = 0;
  int lostCalls = 0;
  bool wasConnectedAtLost = true;
  std::optional<Failure> reason;

 private:
  std::string name_;
  std::vector<std::string> own_;
  std::vector<std::string>* journal_;
};

class HalfCloseablePeer : public Peer, public IHalfCloseableProtocol {
 public:
  using Peer::Peer;
  void readConnectionLost() override {
    note("readLost");
    if (onReadLost) onReadLost(*this);
  }
  void writeConnectionLost() override {
    note("writeLost");
    if (onWriteLost) onWriteLost(*this);
  }
  std::function<void(HalfCloseablePeer&)> onReadLost;
  std::function<void(HalfCloseablePeer&)> onWriteLost;
};

class FdPeer : public Peer, public IFileDescriptorReceiver {
 public:
  using Peer::Peer;
  ~FdPeer() override {
    for (int fd : fds) ::close(fd);
  }
  void fileDescriptorReceived(int fd) override {
    fds.push_back(fd);
    note("fd");
  }
  std::vector<int> fds;
};

// A push producer that writes `chunk` each time the test calls produce().
class PushProducer : public IProducer {
 public:
  void pauseProducing() override { paused = true, ++pauses; }
  void resumeProducing() override { paused = false, ++resumes; }
  void stopProducing() override { ++stops; }
  bool paused = false;
  int pauses = 0;
  int resumes = 0;
  int stops = 0;
};

// Twisted's NonStreamingProducer: writes the digits 0..9, one per resumeProducing(), then
// unregisters.
class CountingPullProducer : public IProducer {
 public:
  explicit CountingPullProducer(ITransport& consumer) : consumer_(&consumer) {}
  void resumeProducing() override {
    ++resumes;
    if (consumer_ == nullptr) throw std::logic_error("resumed after unregistering");
    consumer_->write(std::to_string(counter++));
    if (counter == 10) {
      consumer_->unregisterProducer();
      consumer_ = nullptr;
    }
  }
  void stopProducing() override { ++stops; }
  int counter = 0;
  int resumes = 0;
  int stops = 0;

 private:
  ITransport* consumer_;
};

// A pull producer that writes forever.
class EndlessPullProducer : public IProducer {
 public:
  explicit EndlessPullProducer(ITransport& consumer) : consumer_(consumer) {}
  void resumeProducing() override { consumer_.write("more"); }
  void stopProducing() override {}

 private:
  ITransport& consumer_;
};

LoopbackOptions quiet() {
  LoopbackOptions o;
  o.greet = false;
  return o;
}

std::array<int, 2> makePipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2");
  return fds;
}

// True while some descriptor still refers to the write end of the pipe whose read end is `r`.
bool writerAlive(int r) {
  char c;
  const ssize_t n = ::read(r, &c, 1);
  return n < 0 && errno == EAGAIN;  // EOF (0) once every writer is closed
}

// The connection of `p` was lost with an E (and connectionLost ran once).
template <class E>
bool lostWith(const Peer& p) {
  return p.lostCalls == 1 && p.reason.has_value() && p.reason->check<E>();
}

// The events of one side of a shared journal, without the side's name.
std::vector<std::string> side(const std::vector<std::string>& journal, const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& e : journal) {
    if (e.rfind(name + " ", 0) == 0) out.push_back(e.substr(name.size() + 1));
  }
  return out;
}

std::ptrdiff_t position(const std::vector<std::string>& journal, const std::string& event) {
  const auto it = std::find(journal.begin(), journal.end(), event);
  return it == journal.end() ? -1 : it - journal.begin();
}

// ---- connecting --------------------------------------------------------------------------

TEST(Loopback, connectsTheServerFirstThenTheClient) {
  std::vector<std::string> journal;
  auto c = connectedServerAndClient(std::make_unique<Peer>("server", &journal),
                                    std::make_unique<Peer>("client", &journal));
  EXPECT_EQ(journal, (std::vector<std::string>{"server made", "client made"}));
  EXPECT_TRUE(c.server->connected);
  EXPECT_TRUE(c.client->connected);
  EXPECT_EQ(c.server->transport, &c.pump.serverTransport());
  EXPECT_EQ(c.client->transport, &c.pump.clientTransport());
  EXPECT_EQ(&c.pump.serverTransport().peer(), &c.pump.clientTransport());
}

TEST(Loopback, greetingsHaveArrivedWhenConnectReturns) {
  auto server = std::make_unique<Peer>();
  server->onMade = [](Peer& p) { p.transport->write("220 hello\r\n"); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>());
  EXPECT_EQ(c.client->data, "220 hello\r\n");
}

TEST(Loopback, withoutGreetNothingMovesUntilPumped) {
  auto server = std::make_unique<Peer>();
  server->onMade = [](Peer& p) { p.transport->write("hi"); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>(), quiet());
  EXPECT_EQ(c.client->data, "");
  EXPECT_TRUE(c.pump.pump());
  EXPECT_EQ(c.client->data, "hi");
  EXPECT_FALSE(c.pump.pump());
}

TEST(Loopback, reportsTheAddressesOfBothEnds) {
  auto c = connectedServerAndClient<Peer, Peer>();
  EXPECT_EQ(c.server->transport->getHost(), Address::ip("127.0.0.1", 12345));
  EXPECT_EQ(c.server->transport->getPeer(), Address::ip("127.0.0.1", 54321));
  EXPECT_EQ(c.client->transport->getHost(), Address::ip("127.0.0.1", 54321));
  EXPECT_EQ(c.client->transport->getPeer(), Address::ip("127.0.0.1", 12345));

  LoopbackOptions o;
  o.serverAddress = Address::unix("/run/s.sock");
  o.clientAddress = Address::unix("");
  auto u = connectedServerAndClient<Peer, Peer>(o);
  EXPECT_EQ(u.server->transport->getHost(), Address::unix("/run/s.sock"));
  EXPECT_EQ(u.client->transport->getPeer(), Address::unix("/run/s.sock"));
}

TEST(Loopback, connectsProtocolsTheCallerOwns) {
  Peer server;
  Peer client;
  IOPump pump = connect(server, client);
  client.transport->write("x");
  pump.flush();
  EXPECT_EQ(server.data, "x");
  EXPECT_EQ(pump.server(), &server);
  EXPECT_EQ(pump.client(), &client);
}

TEST(Loopback, aFactoryBuildsTheServerForTheClientsAddress) {
  Address seen;
  auto factory = std::make_shared<Factory>([] { return std::make_unique<Peer>(); });
  auto c = connectedServerAndClient(factory, std::make_unique<Peer>());
  ASSERT_NE(c.server, nullptr);
  EXPECT_EQ(c.server->factory, factory.get());
  EXPECT_TRUE(c.server->connected);
  EXPECT_EQ(factory->numPorts(), 0);  // no port listens: the factory is not started
}

TEST(Loopback, aFactoryRefusingTheConnectionGivesTheClientEndOfFile) {
  auto factory = std::make_shared<Factory>([] { return std::unique_ptr<Protocol>(); });
  auto c = connectedServerAndClient(factory, std::make_unique<Peer>());
  EXPECT_EQ(c.server, nullptr);
  EXPECT_TRUE(c.client->made);
  ASSERT_TRUE(c.client->reason.has_value());
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
}

TEST(Loopback, aFactoryThrowingIsLoggedAndRefusesTheConnection) {
  class Throwing : public Factory {
   public:
    std::unique_ptr<Protocol> buildProtocol(const Address&) override { throw Boom(); }
  };
  auto c = connectedServerAndClient(std::make_shared<Throwing>(), std::make_unique<Peer>());
  EXPECT_EQ(c.server, nullptr);
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(Loopback, aMovedPumpKeepsTheConnectionAndTheOldOneRefusesToPump) {
  Peer server;
  Peer client;
  IOPump first = connect(server, client);
  IOPump second = std::move(first);
  client.transport->write("still here");
  EXPECT_TRUE(second.flush());
  EXPECT_EQ(server.data, "still here");
  EXPECT_THROW(first.pump(), std::logic_error);  // NOLINT(bugprone-use-after-move): on purpose
}

// ---- writing and reading -------------------------------------------------------------------

TEST(Loopback, deliversWritesInOrderOnlyWhenPumped) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.client->transport->write("ab");
  c.client->transport->write("");
  c.client->transport->write("c");
  EXPECT_EQ(c.server->data, "");
  EXPECT_TRUE(c.pump.pump());
  EXPECT_EQ(c.server->data, "abc");
  EXPECT_EQ(c.server->dataCalls, 1);  // coalesced, as a stream socket would
  EXPECT_FALSE(c.pump.pump());
}

TEST(Loopback, writeSequenceSendsThePiecesInOrder) {
  auto c = connectedServerAndClient<Peer, Peer>();
  const std::array<std::string_view, 3> pieces{"GET ", "/", " HTTP/1.1\r\n"};
  c.client->transport->writeSequence(pieces);
  c.pump.flush();
  EXPECT_EQ(c.server->data, "GET / HTTP/1.1\r\n");
}

TEST(Loopback, readSizeSplitsWhatOneDataReceivedGets) {
  LoopbackOptions o;
  o.readSize = 1;
  auto c = connectedServerAndClient<Peer, Peer>(o);
  c.client->transport->write("hello");
  c.pump.flush();
  EXPECT_EQ(c.server->data, "hello");
  EXPECT_EQ(c.server->dataCalls, 5);
}

TEST(Loopback, aConversationRunsToItsEndWithFlush) {
  auto server = std::make_unique<Peer>();
  server->onData = [](Peer& p, std::string_view d) {
    p.transport->write("echo:");
    p.transport->write(d);
  };
  auto client = std::make_unique<Peer>();
  client->onData = [](Peer& p, std::string_view) {
    if (p.dataCalls < 3) p.transport->write(std::to_string(p.dataCalls));
  };
  auto c = connectedServerAndClient(std::move(server), std::move(client));
  c.client->transport->write("0");
  EXPECT_TRUE(c.pump.flush());
  EXPECT_EQ(c.server->data, "012");
  EXPECT_EQ(c.client->data, "echo:0echo:1echo:2");
  EXPECT_FALSE(c.pump.flush());
}

TEST(Loopback, writesGoStraightToTheSocketBufferAndQueueBeyondIt) {
  LoopbackOptions o;
  o.socketBufferSize = 10;
  auto c = connectedServerAndClient<Peer, Peer>(o);
  ITransport& t = *c.client->transport;
  t.write("12345678");
  EXPECT_EQ(t.bufferedBytes(), 0u);
  EXPECT_EQ(c.pump.clientTransport().inFlightBytes(), 8u);
  t.write("abcdef");
  EXPECT_EQ(t.bufferedBytes(), 4u);
  c.pump.pump();  // the server reads the 10 in flight; the 4 queued move into flight
  EXPECT_EQ(c.server->data, "12345678ab");
  EXPECT_EQ(t.bufferedBytes(), 0u);
  c.pump.pump();
  EXPECT_EQ(c.server->data, "12345678abcdef");
}

TEST(Loopback, largeTransfersArriveWhole) {
  auto c = connectedServerAndClient<Peer, Peer>();
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  c.client->transport->write(big);
  c.pump.flush();
  EXPECT_EQ(c.server->data.size(), big.size());
  EXPECT_TRUE(c.server->data == big);
}

TEST(Loopback, rememberSocketOptions) {
  auto c = connectedServerAndClient<Peer, Peer>();
  ITransport& t = *c.client->transport;
  t.setTcpNoDelay(true);
  t.setTcpKeepAlive(true);
  EXPECT_TRUE(t.getTcpNoDelay());
  EXPECT_TRUE(t.getTcpKeepAlive());
  EXPECT_FALSE(c.server->transport->getTcpNoDelay());
}

// ---- loseConnection -----------------------------------------------------------------------

TEST(Loopback, loseConnectionFlushesEverythingThenClosesBothSidesCleanly) {
  auto c = connectedServerAndClient<Peer, Peer>();
  const std::string big(5 * 1024 * 1024, 'x');
  c.client->transport->write(big);
  c.client->transport->loseConnection();
  EXPECT_TRUE(c.client->transport->disconnecting());
  EXPECT_EQ(c.client->lostCalls, 0);
  c.pump.flush();
  EXPECT_EQ(c.server->data.size(), big.size());
  ASSERT_EQ(c.client->lostCalls, 1);
  ASSERT_EQ(c.server->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
  EXPECT_FALSE(c.client->connected);
  EXPECT_FALSE(c.server->connected);
  EXPECT_FALSE(c.server->wasConnectedAtLost);
  EXPECT_TRUE(c.pump.serverTransport().disconnecting());
  EXPECT_TRUE(c.pump.serverTransport().disconnected());
}

TEST(Loopback, thePeerReadsAllDataBeforeItsEndOfFile) {
  std::vector<std::string> journal;
  auto c = connectedServerAndClient(std::make_unique<Peer>("server", &journal),
                                    std::make_unique<Peer>("client", &journal));
  c.server->transport->write("bye");
  c.server->transport->loseConnection();
  c.pump.flush();
  EXPECT_EQ(side(journal, "client"),
            (std::vector<std::string>{"made", "data:bye", "lost:torsion::ConnectionDone"}));
  EXPECT_EQ(side(journal, "server"),
            (std::vector<std::string>{"made", "lost:torsion::ConnectionDone"}));
}

TEST(Loopback, loseConnectionStopsReading) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.client->transport->write("unread");
  c.server->transport->loseConnection();
  c.pump.flush();
  EXPECT_EQ(c.server->data, "");
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
}

TEST(Loopback, writesAfterLoseConnectionAreStillSent) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.server->transport->loseConnection();
  c.server->transport->write("late");
  c.pump.flush();
  EXPECT_EQ(c.client->data, "late");
}

TEST(Loopback, aSecondLoseConnectionDoesNothing) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.server->transport->loseConnection();
  c.server->transport->loseConnection();
  c.pump.flush();
  c.server->transport->loseConnection();
  EXPECT_EQ(c.server->lostCalls, 1);
  EXPECT_EQ(c.client->lostCalls, 1);
}

TEST(Loopback, writesAfterTheConnectionIsGoneAreIgnored) {
  auto server = std::make_unique<Peer>();
  server->onLost = [](Peer& p) { p.transport->write("from connectionLost"); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>());
  c.client->transport->loseConnection();
  c.pump.flush();
  ASSERT_EQ(c.server->lostCalls, 1);
  c.server->transport->write("after");
  EXPECT_FALSE(c.pump.flush());
  EXPECT_EQ(c.client->data, "");
}

TEST(Loopback, stopProducingLosesTheConnection) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.server->transport->stopProducing();
  EXPECT_TRUE(c.server->transport->disconnecting());
  c.pump.flush();
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
}

// ---- abortConnection ----------------------------------------------------------------------

TEST(Loopback, abortDropsWhatIsBufferedAndReportsAtTheNextPump) {
  LoopbackOptions o;
  o.socketBufferSize = 4;
  auto c = connectedServerAndClient<Peer, Peer>(o);
  c.client->transport->write("never delivered");
  c.client->transport->abortConnection();
  EXPECT_EQ(c.client->lostCalls, 0);  // not from inside abortConnection
  EXPECT_TRUE(c.client->transport->disconnecting());
  EXPECT_EQ(c.client->transport->bufferedBytes(), 0u);
  EXPECT_TRUE(c.pump.pump());
  ASSERT_EQ(c.client->lostCalls, 1);
  ASSERT_EQ(c.server->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionAborted>(*c.client));
  EXPECT_TRUE(lostWith<ConnectionLost>(*c.server));
  EXPECT_FALSE(lostWith<ConnectionAborted>(*c.server));
  EXPECT_EQ(c.server->data, "");
}

TEST(Loopback, abortOfAClosingConnectionStillAborts) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.client->transport->write("x");
  c.client->transport->loseConnection();
  c.client->transport->abortConnection();
  c.client->transport->abortConnection();
  c.client->transport->write("ignored");
  c.pump.flush();
  EXPECT_EQ(c.client->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionAborted>(*c.client));
  EXPECT_TRUE(lostWith<ConnectionLost>(*c.server));
  EXPECT_EQ(c.server->data, "");
}

TEST(Loopback, abortFromInsideDataReceivedIsReportedAfterIt) {
  auto server = std::make_unique<Peer>();
  server->onData = [](Peer& p, std::string_view) {
    p.transport->abortConnection();
    p.note("after abort");
  };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>());
  c.client->transport->write("x");
  c.pump.flush();
  const std::vector<std::string>& j = c.server->journal();
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[2], "after abort");
  EXPECT_EQ(j[3], "lost:torsion::ConnectionAborted");
  EXPECT_TRUE(lostWith<ConnectionLost>(*c.client));
}

TEST(Loopback, aPausedPeerNoticesAnAbortOnlyWhenItReadsAgain) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.server->transport->pauseProducing();
  c.client->transport->abortConnection();
  c.pump.flush();
  EXPECT_EQ(c.server->lostCalls, 0);
  c.server->transport->resumeProducing();
  c.pump.flush();
  ASSERT_EQ(c.server->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionLost>(*c.server));
}

// ---- half-close -------------------------------------------------------------------------------

TEST(Loopback, halfCloseLetsThePeerAnswerBeforeBothClose) {
  std::vector<std::string> journal;
  auto server = std::make_unique<HalfCloseablePeer>("server", &journal);
  server->onReadLost = [](HalfCloseablePeer& p) {
    p.transport->write("answer to " + p.data);
    p.transport->loseConnection();
  };
  auto c = connectedServerAndClient(std::move(server),
                                    std::make_unique<HalfCloseablePeer>("client", &journal));
  c.client->transport->write("question");
  c.client->transport->loseWriteConnection();
  c.client->transport->write("ignored after loseWriteConnection");
  EXPECT_FALSE(c.client->transport->disconnecting());
  c.pump.flush();
  EXPECT_EQ(c.server->data, "question");
  EXPECT_EQ(c.client->data, "answer to question");
  // Each side in its order; between the sides, only what causality imposes.
  EXPECT_EQ(side(journal, "server"), (std::vector<std::string>{"made", "data:question", "readLost",
                                                               "lost:torsion::ConnectionDone"}));
  EXPECT_EQ(side(journal, "client"),
            (std::vector<std::string>{"made", "writeLost", "data:answer to questi", "readLost",
                                      "lost:torsion::ConnectionDone"}));
  EXPECT_LT(position(journal, "client writeLost"), position(journal, "server readLost"));
  EXPECT_LT(position(journal, "server lost:torsion::ConnectionDone"),
            position(journal, "client readLost"));
  EXPECT_TRUE(c.pump.clientTransport().writeShut());
  EXPECT_TRUE(c.pump.clientTransport().readShut());
}

TEST(Loopback, halfCloseToAPeerThatIsNotHalfCloseableClosesIt) {
  auto c =
      connectedServerAndClient(std::make_unique<Peer>(), std::make_unique<HalfCloseablePeer>());
  c.client->transport->loseWriteConnection();
  c.pump.flush();
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
  ASSERT_EQ(c.client->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
}

TEST(Loopback, halfCloseByAProtocolThatIsNotHalfCloseableStillShutsTheWriteSide) {
  auto c =
      connectedServerAndClient(std::make_unique<HalfCloseablePeer>(), std::make_unique<Peer>());
  c.client->transport->loseWriteConnection();
  c.pump.flush();
  EXPECT_EQ(c.server->journal().back(), "readLost");
  EXPECT_EQ(c.client->lostCalls, 0);
  c.server->transport->write("still open");
  c.pump.flush();
  EXPECT_EQ(c.client->data, "still open");
}

TEST(Loopback, loseConnectionAfterTheWriteSideIsShutClosesAtOnce) {
  auto c = connectedServerAndClient(std::make_unique<HalfCloseablePeer>(),
                                    std::make_unique<HalfCloseablePeer>());
  c.client->transport->loseWriteConnection();
  c.pump.flush();
  c.client->transport->loseConnection();
  ASSERT_EQ(c.client->lostCalls, 1);  // inside the call: nothing is left to flush
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
}

TEST(Loopback, aHalfClosedPeerWritingToAClosedConnectionLosesItsConnection) {
  auto server = std::make_unique<HalfCloseablePeer>();
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>());
  c.client->transport->loseConnection();
  c.pump.flush();
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_EQ(c.server->journal().back(), "readLost");
  EXPECT_EQ(c.server->lostCalls, 0);
  c.server->transport->write("nobody listens");
  c.pump.flush();
  ASSERT_EQ(c.server->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionLost>(*c.server));
}

// ---- the read side as a producer ------------------------------------------------------------

TEST(Loopback, pauseProducingHoldsDeliveryUntilResumed) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.server->transport->pauseProducing();
  c.client->transport->write("held");
  c.client->transport->loseConnection();
  c.pump.flush();
  EXPECT_EQ(c.server->data, "");
  EXPECT_TRUE(c.pump.serverTransport().readPaused());
  // The client's close went through: its bytes were in flight, as in a kernel buffer.
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_EQ(c.server->lostCalls, 0);
  c.server->transport->resumeProducing();
  c.pump.flush();
  EXPECT_EQ(c.server->data, "held");
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
}

TEST(Loopback, pausingFromInsideDataReceivedStopsFurtherDelivery) {
  LoopbackOptions o;
  o.readSize = 2;
  auto server = std::make_unique<Peer>();
  server->onData = [](Peer& p, std::string_view) { p.transport->pauseProducing(); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>(), o);
  c.client->transport->write("aabbcc");
  c.pump.flush();
  EXPECT_EQ(c.server->data, "aa");
  c.server->onData = nullptr;
  c.server->transport->resumeProducing();
  c.pump.flush();
  EXPECT_EQ(c.server->data, "aabbcc");
}

// ---- producers ----------------------------------------------------------------------------

TEST(Loopback, aPushProducerIsPausedOverTheHighWaterMarkAndResumedWhenDrained) {
  LoopbackOptions o;
  o.socketBufferSize = 4;
  auto c = connectedServerAndClient<Peer, Peer>(o);
  ITransport& t = *c.client->transport;
  t.setWriteBufferSize(8);
  PushProducer producer;
  t.registerProducer(producer, true);
  t.write("0123");       // in flight
  t.write("456789abc");  // 9 queued > 8
  EXPECT_TRUE(producer.paused);
  EXPECT_EQ(producer.pauses, 1);
  t.write("d");  // no second pause
  EXPECT_EQ(producer.pauses, 1);
  c.pump.flush();
  EXPECT_FALSE(producer.paused);
  EXPECT_EQ(producer.resumes, 1);
  EXPECT_EQ(c.server->data, "0123456789abcd");
  t.unregisterProducer();
}

TEST(Loopback, aPausedReaderPushesBackOnTheWritersProducer) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.server->transport->pauseProducing();
  ITransport& t = *c.client->transport;
  PushProducer producer;
  t.registerProducer(producer, true);
  const std::string chunk(16 * 1024, 'z');
  int writes = 0;
  while (!producer.paused && writes < 1000) {
    t.write(chunk);
    ++writes;
    c.pump.pump();
  }
  ASSERT_TRUE(producer.paused);
  EXPECT_GT(t.bufferedBytes(), 64u * 1024u);
  EXPECT_EQ(c.server->data, "");
  c.server->transport->resumeProducing();
  c.pump.flush();
  EXPECT_FALSE(producer.paused);
  EXPECT_EQ(c.server->data.size(), chunk.size() * static_cast<std::size_t>(writes));
  t.unregisterProducer();
}

TEST(Loopback, aPullProducerIsResumedEachTimeTheQueueDrains) {
  auto c = connectedServerAndClient<Peer, Peer>();
  CountingPullProducer producer(*c.client->transport);
  c.client->transport->registerProducer(producer, false);
  EXPECT_EQ(producer.resumes, 1);  // at once, as the contract says
  c.pump.flush();
  EXPECT_EQ(c.server->data, "0123456789");
  EXPECT_EQ(producer.resumes, 10);
  EXPECT_EQ(producer.stops, 0);
  EXPECT_EQ(c.pump.clientTransport().producer(), nullptr);
}

TEST(Loopback, loseConnectionWaitsForAPullProducerToFinish) {
  auto c = connectedServerAndClient<Peer, Peer>();
  CountingPullProducer producer(*c.client->transport);
  c.client->transport->registerProducer(producer, false);
  c.client->transport->loseConnection();
  c.pump.flush();
  EXPECT_EQ(c.server->data, "0123456789");
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
  EXPECT_EQ(producer.stops, 0);  // it had unregistered before the close
}

TEST(Loopback, loseConnectionResumesAPausedPushProducerAndWaitsForIt) {
  LoopbackOptions o;
  o.socketBufferSize = 1;
  auto c = connectedServerAndClient<Peer, Peer>(o);
  ITransport& t = *c.client->transport;
  t.setWriteBufferSize(1);
  PushProducer producer;
  t.registerProducer(producer, true);
  t.write("abc");
  ASSERT_TRUE(producer.paused);
  t.loseConnection();
  c.pump.flush();
  EXPECT_EQ(producer.resumes, 1);
  EXPECT_EQ(c.client->lostCalls, 0);  // waits for the producer to be unregistered
  t.write("d");
  t.unregisterProducer();
  c.pump.flush();
  EXPECT_EQ(c.server->data, "abcd");
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
}

TEST(Loopback, registeringASecondProducerThrows) {
  auto c = connectedServerAndClient<Peer, Peer>();
  PushProducer a;
  PushProducer b;
  c.client->transport->registerProducer(a, true);
  EXPECT_THROW(c.client->transport->registerProducer(b, true), std::logic_error);
  EXPECT_EQ(c.pump.clientTransport().producer(), &a);
  c.client->transport->unregisterProducer();
}

TEST(Loopback, theProducerIsStoppedWhenTheConnectionIsLost) {
  auto c = connectedServerAndClient<Peer, Peer>();
  PushProducer producer;
  c.client->transport->registerProducer(producer, true);
  c.server->transport->loseConnection();
  c.pump.flush();
  EXPECT_EQ(producer.stops, 1);
  EXPECT_EQ(c.pump.clientTransport().producer(), nullptr);
}

TEST(Loopback, registeringOnAClosedTransportStopsTheProducerAtOnce) {
  auto c = connectedServerAndClient<Peer, Peer>();
  c.client->transport->loseConnection();
  c.pump.flush();
  PushProducer producer;
  c.pump.clientTransport().registerProducer(producer, true);
  EXPECT_EQ(producer.stops, 1);
  EXPECT_EQ(c.pump.clientTransport().producer(), nullptr);
}

TEST(Loopback, flushGivesUpOnAProducerThatNeverStops) {
  LoopbackOptions o;
  o.maxFlushPumps = 50;
  auto c = connectedServerAndClient<Peer, Peer>(o);
  EndlessPullProducer producer(*c.client->transport);
  c.client->transport->registerProducer(producer, false);
  EXPECT_THROW(c.pump.flush(), std::runtime_error);
  EXPECT_GT(c.server->data.size(), 40u * 4u);
  c.client->transport->unregisterProducer();
}

// ---- errors in protocol callbacks -----------------------------------------------------------

TEST(Loopback, anExceptionInDataReceivedDropsThatConnectionWithItAsTheReason) {
  auto server = std::make_unique<Peer>();
  server->onData = [](Peer&, std::string_view) { throw Boom(); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>());
  c.client->transport->write("x");
  c.pump.flush();
  ASSERT_EQ(c.server->lostCalls, 1);
  EXPECT_TRUE(lostWith<Boom>(*c.server));
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  const std::vector<Failure> logged = flushLoggedErrors<Boom>();
  ASSERT_EQ(logged.size(), 1u);
}

TEST(Loopback, anExceptionInConnectionMadeDropsTheConnection) {
  auto client = std::make_unique<Peer>();
  client->onMade = [](Peer&) { throw Boom(); };
  LogCapture capture;
  auto c = connectedServerAndClient(std::make_unique<Peer>(), std::move(client));
  EXPECT_TRUE(lostWith<Boom>(*c.client));
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.server));
  EXPECT_TRUE(capture.contains("Unhandled error in connectionMade; dropping the connection"));
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(Loopback, anExceptionInConnectionLostIsOnlyLogged) {
  auto server = std::make_unique<Peer>();
  server->onLost = [](Peer&) { throw Boom(); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>());
  c.server->transport->loseConnection();
  c.pump.flush();
  EXPECT_EQ(c.server->lostCalls, 1);
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(Loopback, anExceptionInReadConnectionLostDropsTheConnection) {
  auto server = std::make_unique<HalfCloseablePeer>();
  server->onReadLost = [](HalfCloseablePeer&) { throw Boom(); };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<HalfCloseablePeer>());
  c.client->transport->loseWriteConnection();
  c.pump.flush();
  EXPECT_TRUE(lostWith<Boom>(*c.server));
  EXPECT_TRUE(lostWith<ConnectionDone>(*c.client));
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

TEST(Loopback, anExceptionInAPullProducerDropsTheConnection) {
  class Failing : public IProducer {
   public:
    void resumeProducing() override {
      if (++calls > 1) throw Boom();
      transport->write("once");
    }
    void stopProducing() override { ++stops; }
    ITransport* transport = nullptr;
    int calls = 0;
    int stops = 0;
  };
  auto c = connectedServerAndClient<Peer, Peer>();
  Failing producer;
  producer.transport = c.client->transport;
  c.client->transport->registerProducer(producer, false);
  c.pump.flush();
  EXPECT_EQ(c.server->data, "once");
  EXPECT_TRUE(lostWith<Boom>(*c.client));
  EXPECT_EQ(producer.stops, 1);
  EXPECT_EQ(flushLoggedErrors<Boom>().size(), 1u);
}

// ---- descriptors ------------------------------------------------------------------------------

TEST(Loopback, aDescriptorArrivesJustBeforeTheByteWrittenAfterIt) {
  const std::array<int, 2> p = makePipe();
  auto c = connectedServerAndClient(std::make_unique<FdPeer>(), std::make_unique<Peer>());
  auto& client = static_cast<IUNIXTransport&>(*c.client->transport);
  client.write("before ");
  client.sendFileDescriptor(p[1]);
  client.write("with");
  ::close(p[1]);  // ours; the copy in flight keeps the pipe open
  EXPECT_TRUE(writerAlive(p[0]));
  c.pump.flush();
  EXPECT_EQ(c.server->journal(),
            (std::vector<std::string>{"made", "data:before ", "fd", "data:with"}));
  ASSERT_EQ(c.server->fds.size(), 1u);
  // It is the same pipe.
  ASSERT_EQ(::write(c.server->fds[0], "!", 1), 1);
  char got = 0;
  EXPECT_EQ(::read(p[0], &got, 1), 1);
  EXPECT_EQ(got, '!');
  ::close(p[0]);
}

TEST(Loopback, descriptorsToAProtocolThatTakesNoneAreClosed) {
  const std::array<int, 2> p = makePipe();
  auto c = connectedServerAndClient<Peer, Peer>();
  auto& client = static_cast<IUNIXTransport&>(*c.client->transport);
  client.sendFileDescriptor(p[1]);
  client.write("x");
  ::close(p[1]);
  c.pump.flush();
  EXPECT_EQ(c.server->data, "x");
  EXPECT_FALSE(writerAlive(p[0]));
  ::close(p[0]);
}

TEST(Loopback, descriptorsOfAConnectionThatEndsFirstAreClosed) {
  const std::array<int, 2> p = makePipe();
  auto c = connectedServerAndClient(std::make_unique<FdPeer>(), std::make_unique<Peer>());
  auto& client = static_cast<IUNIXTransport&>(*c.client->transport);
  client.sendFileDescriptor(p[1]);  // no byte follows
  ::close(p[1]);
  client.loseConnection();
  c.pump.flush();
  EXPECT_TRUE(c.server->fds.empty());
  EXPECT_FALSE(writerAlive(p[0]));
  ::close(p[0]);
}

// ---- time
// ----------------------------------------------------------------------------------------

TEST(Loopback, pumpRunsTheClocksDueCalls) {
  Clock clock;
  LoopbackOptions o;
  o.clock = &clock;
  auto server = std::make_unique<Peer>();
  server->onData = [&clock](Peer& p, std::string_view) {
    ITransport* t = p.transport;
    clock.callLater(Seconds(0), [t] { t->write("later"); });
  };
  auto c = connectedServerAndClient(std::move(server), std::make_unique<Peer>(), o);
  c.client->transport->write("x");
  c.pump.flush();
  EXPECT_EQ(c.client->data, "later");
}

}  // namespace
}  // namespace torsion::testing
