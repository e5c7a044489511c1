// TLSMemoryBIOProtocol over the in-memory loopback and StringTransport: handshake, data,
// buffering before the handshake, producers and backpressure, closing, and failures.
#include "torsion/tls/tls_protocol.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "pki.hpp"
#include "tls_helpers.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/sendfile.hpp"
#include "torsion/testing/accumulating_protocol.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::tls::test {
namespace {

using testing::LoopbackOptions;
using testing::StringTransport;

std::string pattern(std::size_t n, std::size_t offset = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (offset + i) % 23);
  return s;
}

TEST(TLSMemoryBIO, handshakeCompletesAndDataFlowsBothWays) {
  auto server = std::make_unique<Recorder>("from server");
  auto client = std::make_unique<Recorder>("from client");
  Recorder* s = server.get();
  Recorder* c = client.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(), std::move(client));
  pair.pump.flush();
  EXPECT_EQ(s->received, "from client");
  EXPECT_EQ(c->received, "from server");
  EXPECT_EQ(s->handshakes, 1);
  EXPECT_EQ(c->handshakes, 1);
  EXPECT_EQ(c->receivedBeforeHandshake, 0u);
  EXPECT_TRUE(pair.clientTLS->handshakeDone());
  EXPECT_TRUE(pair.serverTLS->handshakeDone());

  c->transport->write("more");
  s->transport->write("and back");
  pair.pump.flush();
  EXPECT_EQ(s->received, "from clientmore");
  EXPECT_EQ(c->received, "from serverand back");

  const auto peer = pair.clientTLS->getPeerCertificate();
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->commonName(), "localhost");
  EXPECT_EQ(*peer, Certificate::loadPEM(pki().server.certPEM));
  EXPECT_FALSE(pair.serverTLS->getPeerCertificate().has_value());  // no client certificate
  EXPECT_FALSE(s->lost);
  EXPECT_FALSE(c->lost);
}

TEST(TLSMemoryBIO, transportPassesAddressesAndIsNotASendFileTransport) {
  auto pair = connectTLS(serverContext(), std::make_unique<Recorder>(), clientContext(),
                         std::make_unique<Recorder>());
  EXPECT_EQ(pair.serverTLS->getHost(), pair.pump.options().serverAddress);
  EXPECT_EQ(pair.serverTLS->getPeer(), pair.pump.options().clientAddress);
  EXPECT_EQ(pair.clientTLS->getPeer(), pair.pump.options().serverAddress);
  ITransport* t = pair.serverTLS;
  EXPECT_EQ(dynamic_cast<ISendFileTransport*>(t), nullptr);
  EXPECT_NE(dynamic_cast<ISSLTransport*>(t), nullptr);
  EXPECT_EQ(pair.serverTLS->wrappedProtocol().transport, t);
}

TEST(TLSMemoryBIO, writesBeforeTheHandshakeWaitAndAreNeverSentInClear) {
  StringTransport wire;
  TLSMemoryBIOProtocol client(clientContext(), std::make_unique<Recorder>("secret greeting"));
  client.makeConnection(wire);
  // Only the ClientHello went out; the greeting waits for the handshake.
  EXPECT_FALSE(wire.value().empty());
  EXPECT_EQ(wire.value().find("secret greeting"), std::string::npos);
  EXPECT_FALSE(client.handshakeDone());
  EXPECT_GE(client.bufferedBytes(), std::string("secret greeting").size());
}

TEST(TLSMemoryBIO, writesBeforeTheHandshakeArriveAfterItInOrder) {
  LoopbackOptions options;
  options.greet = false;
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(),
                         std::make_unique<Recorder>("one,"), options);
  pair.clientTLS->write("two,");
  std::string_view pieces[] = {"three,", "four"};
  pair.clientTLS->writeSequence(pieces);
  EXPECT_FALSE(pair.clientTLS->handshakeDone());
  pair.pump.flush();
  EXPECT_EQ(s->received, "one,two,three,four");
  EXPECT_EQ(pair.clientTLS->bufferedBytes(), 0u);
}

TEST(TLSMemoryBIO, loseConnectionSendsPendingDataThenCloseNotify) {
  LoopbackOptions options;
  options.greet = false;
  auto server = std::make_unique<Recorder>();
  auto client = std::make_unique<Recorder>();
  Recorder* s = server.get();
  Recorder* c = client.get();
  auto pair =
      connectTLS(serverContext(), std::move(server), clientContext(), std::move(client), options);
  // Before the handshake: the close waits for it, then for the data.
  pair.clientTLS->write("last words");
  pair.clientTLS->loseConnection();
  EXPECT_TRUE(pair.clientTLS->disconnecting());
  pair.pump.flush();
  EXPECT_EQ(s->received, "last words");
  ASSERT_TRUE(s->lost);
  ASSERT_TRUE(c->lost);
  // A close_notify arrived: a clean close, not a truncation.
  EXPECT_TRUE(s->reason->check<ConnectionDone>()) << messageOf(s->reason);
  EXPECT_TRUE(c->reason->check<ConnectionDone>()) << messageOf(c->reason);
}

TEST(TLSMemoryBIO, peerCloseNotifyIsAnsweredAndGivesConnectionDone) {
  auto server = std::make_unique<Recorder>();
  auto client = std::make_unique<Recorder>();
  Recorder* s = server.get();
  Recorder* c = client.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(), std::move(client));
  s->transport->write("bye");
  s->transport->loseConnection();
  pair.pump.flush();
  EXPECT_EQ(c->received, "bye");
  ASSERT_TRUE(c->lost);
  EXPECT_TRUE(c->reason->check<ConnectionDone>()) << messageOf(c->reason);
  ASSERT_TRUE(s->lost);
  EXPECT_TRUE(s->reason->check<ConnectionDone>()) << messageOf(s->reason);
}

TEST(TLSMemoryBIO, endWithoutCloseNotifyIsReportedAsConnectionLost) {
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto pair =
      connectTLS(serverContext(), std::move(server), clientContext(), std::make_unique<Recorder>());
  // The client's TCP side closes under TLS: the server cannot tell it from a truncation.
  pair.pump.clientTransport().loseConnection();
  pair.pump.flush();
  ASSERT_TRUE(s->lost);
  EXPECT_TRUE(s->reason->check<ConnectionLost>()) << messageOf(s->reason);
  EXPECT_NE(messageOf(s->reason).find("close_notify"), std::string::npos);
}

TEST(TLSMemoryBIO, abortConnectionPassesThrough) {
  auto server = std::make_unique<Recorder>();
  auto client = std::make_unique<Recorder>();
  Recorder* s = server.get();
  Recorder* c = client.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(), std::move(client));
  c->transport->write("dropped?");
  c->transport->abortConnection();
  pair.pump.flush();
  ASSERT_TRUE(c->lost);
  EXPECT_TRUE(c->reason->check<ConnectionAborted>()) << messageOf(c->reason);
  ASSERT_TRUE(s->lost);
  EXPECT_TRUE(s->reason->check<ConnectionLost>()) << messageOf(s->reason);
  EXPECT_EQ(s->received, "");
}

TEST(TLSMemoryBIO, hostnameMismatchFailsBothSidesWithAClearError) {
  auto server = std::make_unique<Recorder>();
  auto client = std::make_unique<Recorder>("never sent");
  Recorder* s = server.get();
  Recorder* c = client.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext("example.com"),
                         std::move(client));
  pair.pump.flush();
  ASSERT_TRUE(c->lost);
  ASSERT_TRUE(c->reason->check<CertificateVerifyError>()) << messageOf(c->reason);
  EXPECT_NE(messageOf(c->reason).find("hostname mismatch"), std::string::npos)
      << messageOf(c->reason);
  EXPECT_NE(messageOf(c->reason).find("'example.com'"), std::string::npos);
  EXPECT_EQ(c->reason->value<CertificateVerifyError>()->verifyResult(),
            62 /* X509_V_ERR_HOSTNAME_MISMATCH */);
  EXPECT_EQ(c->handshakes, 0);
  // The server heard the client's alert and closed too; it never saw the greeting.
  ASSERT_TRUE(s->lost);
  EXPECT_TRUE(s->reason->check<TLSError>()) << messageOf(s->reason);
  EXPECT_EQ(s->received, "");
  EXPECT_TRUE(pair.pump.serverTransport().disconnected());
  EXPECT_TRUE(pair.pump.clientTransport().disconnected());
}

TEST(TLSMemoryBIO, ipAddressesAreCheckedAgainstTheCertificatesAddresses) {
  {
    auto client = std::make_unique<Recorder>("hi");
    Recorder* c = client.get();
    auto pair = connectTLS(serverContext(), std::make_unique<Recorder>(),
                           clientContext("127.0.0.1"), std::move(client));
    pair.pump.flush();
    EXPECT_EQ(c->handshakes, 1);
    EXPECT_FALSE(c->lost) << messageOf(c->reason);
  }
  {
    auto client = std::make_unique<Recorder>();
    Recorder* c = client.get();
    auto pair = connectTLS(serverContext(), std::make_unique<Recorder>(),
                           clientContext("127.0.0.2"), std::move(client));
    pair.pump.flush();
    ASSERT_TRUE(c->lost);
    EXPECT_TRUE(c->reason->check<CertificateVerifyError>());
    EXPECT_NE(messageOf(c->reason).find("IP address mismatch"), std::string::npos)
        << messageOf(c->reason);
  }
}

TEST(TLSMemoryBIO, certificateFromAnUntrustedCAIsRefused) {
  auto client = std::make_unique<Recorder>();
  Recorder* c = client.get();
  auto pair = connectTLS(serverContext(pki().otherServer), std::make_unique<Recorder>(),
                         clientContext(), std::move(client));
  pair.pump.flush();
  ASSERT_TRUE(c->lost);
  ASSERT_TRUE(c->reason->check<CertificateVerifyError>()) << messageOf(c->reason);
  EXPECT_NE(messageOf(c->reason).find("unable to get local issuer certificate"), std::string::npos)
      << messageOf(c->reason);
  EXPECT_NE(
      messageOf(c->reason).find("subject CN=localhost,O=torsion tests, issuer CN=some other CA"),
      std::string::npos)
      << messageOf(c->reason);
}

TEST(TLSMemoryBIO, plaintextSentToATLSServerFailsTheHandshakeAndCloses) {
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto client = std::make_unique<testing::AccumulatingProtocol>();
  auto* c = client.get();
  auto tlsServer = std::make_unique<TLSMemoryBIOProtocol>(serverContext(), std::move(server));
  auto pump = testing::connect(std::move(tlsServer), std::move(client));
  c->transport->write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  pump.flush();
  ASSERT_TRUE(s->lost);
  EXPECT_TRUE(s->reason->check<TLSError>()) << messageOf(s->reason);
  EXPECT_NE(messageOf(s->reason).find("TLS handshake failed"), std::string::npos);
  EXPECT_EQ(s->received, "");
  EXPECT_TRUE(s->made);  // connectionMade came first, as in Twisted
  EXPECT_TRUE(c->closed);
  EXPECT_EQ(c->data.find("HTTP"), std::string::npos);
}

TEST(TLSMemoryBIO, garbageAfterTheHandshakeIsABadRecord) {
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto pair =
      connectTLS(serverContext(), std::move(server), clientContext(), std::make_unique<Recorder>());
  // Bytes that are not a TLS record, straight onto the client's wire.
  pair.pump.clientTransport().write(std::string(64, '\x17'));
  pair.pump.flush();
  ASSERT_TRUE(s->lost);
  EXPECT_TRUE(s->reason->check<TLSError>()) << messageOf(s->reason);
  EXPECT_NE(messageOf(s->reason).find("TLS error"), std::string::npos);
}

TEST(TLSMemoryBIO, alpnPicksTheServersFirstChoiceAmongTheClientsOffers) {
  auto serverOpts = serverOptions(pki().server);
  serverOpts.acceptableProtocols = {"h2", "http/1.1"};
  const auto serverCtx = TLSContext::make(serverOpts, TLSSide::server);
  const auto negotiate = [&](std::vector<std::string> offer) {
    auto clientOpts = clientOptions();
    clientOpts.acceptableProtocols = std::move(offer);
    auto pair =
        connectTLS(serverCtx, std::make_unique<Recorder>(),
                   TLSContext::make(clientOpts, TLSSide::client), std::make_unique<Recorder>());
    pair.pump.flush();
    EXPECT_TRUE(pair.clientTLS->handshakeDone());
    EXPECT_EQ(pair.clientTLS->negotiatedProtocol(), pair.serverTLS->negotiatedProtocol());
    return pair.clientTLS->negotiatedProtocol();
  };
  EXPECT_EQ(negotiate({"http/1.1", "h2"}), std::optional<std::string>("h2"));
  EXPECT_EQ(negotiate({"http/1.1"}), std::optional<std::string>("http/1.1"));
  EXPECT_EQ(negotiate({"spdy/3"}), std::nullopt);  // no overlap: no protocol, no failure
  EXPECT_EQ(negotiate({}), std::nullopt);
}

TEST(TLSMemoryBIO, negotiatedProtocolIsUnknownBeforeTheHandshake) {
  auto clientOpts = clientOptions();
  clientOpts.acceptableProtocols = {"h2"};
  TLSMemoryBIOProtocol client(TLSContext::make(clientOpts, TLSSide::client),
                              std::make_unique<Recorder>());
  StringTransport wire;
  client.makeConnection(wire);
  EXPECT_EQ(client.negotiatedProtocol(), std::nullopt);
  EXPECT_EQ(client.getPeerCertificate(), std::nullopt);
}

TEST(TLSMemoryBIO, serverVerifiesClientCertificatesWhenAsked) {
  auto serverOpts = serverOptions(pki().server);
  serverOpts.verify = true;
  serverOpts.caCerts = {Certificate::loadPEM(pki().ca.certPEM)};
  const auto serverCtx = TLSContext::make(serverOpts, TLSSide::server);
  {
    auto clientOpts = clientOptions();
    clientOpts.privateKey = PrivateKey::loadPEM(pki().client.keyPEM);
    clientOpts.certificate = Certificate::loadPEM(pki().client.certPEM);
    auto server = std::make_unique<Recorder>();
    Recorder* s = server.get();
    auto pair =
        connectTLS(serverCtx, std::move(server), TLSContext::make(clientOpts, TLSSide::client),
                   std::make_unique<Recorder>("with certificate"));
    pair.pump.flush();
    EXPECT_EQ(s->received, "with certificate");
    const auto peer = pair.serverTLS->getPeerCertificate();
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(peer->commonName(), "client");
  }
  {
    auto server = std::make_unique<Recorder>();
    Recorder* s = server.get();
    auto client = std::make_unique<Recorder>("without");
    Recorder* c = client.get();
    auto pair = connectTLS(serverCtx, std::move(server), clientContext(), std::move(client));
    pair.pump.flush();
    ASSERT_TRUE(s->lost);
    EXPECT_TRUE(s->reason->check<TLSError>()) << messageOf(s->reason);
    EXPECT_EQ(s->received, "");
    EXPECT_TRUE(c->lost);
  }
}

TEST(TLSMemoryBIO, tls12AndTls13BothWork) {
  for (const auto version : {TLSVersion::TLSv1_2, TLSVersion::TLSv1_3}) {
    auto clientOpts = clientOptions();
    clientOpts.minimumVersion = version;
    clientOpts.maximumVersion = version;
    auto server = std::make_unique<Recorder>();
    Recorder* s = server.get();
    auto pair = connectTLS(serverContext(), std::move(server),
                           TLSContext::make(clientOpts, TLSSide::client),
                           std::make_unique<Recorder>("hello"));
    pair.pump.flush();
    EXPECT_EQ(s->received, "hello");
  }
}

TEST(TLSMemoryBIO, minimumVersionAboveThePeersMaximumFailsTheHandshake) {
  auto serverOpts = serverOptions(pki().server);
  serverOpts.minimumVersion = TLSVersion::TLSv1_3;
  auto clientOpts = clientOptions();
  clientOpts.maximumVersion = TLSVersion::TLSv1_2;
  auto client = std::make_unique<Recorder>();
  Recorder* c = client.get();
  auto pair =
      connectTLS(TLSContext::make(serverOpts, TLSSide::server), std::make_unique<Recorder>(),
                 TLSContext::make(clientOpts, TLSSide::client), std::move(client));
  pair.pump.flush();
  ASSERT_TRUE(c->lost);
  EXPECT_TRUE(c->reason->check<TLSError>()) << messageOf(c->reason);
  EXPECT_NE(messageOf(c->reason).find("protocol version"), std::string::npos)
      << messageOf(c->reason);
}

// ---- reading: pausing -------------------------------------------------------------------------

TEST(TLSMemoryBIO, pausingReadsStopsDeliveryUntilResumed) {
  auto client = std::make_unique<Recorder>();
  Recorder* c = client.get();
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(), std::move(client));
  c->pauseAfterRead = true;
  s->transport->write("first");
  pair.pump.flush();
  EXPECT_EQ(c->received, "first");
  c->pauseAfterRead = false;
  s->transport->write("second");
  s->transport->write("third");
  pair.pump.flush();
  EXPECT_EQ(c->received, "first");  // paused: nothing more
  c->transport->resumeProducing();
  pair.pump.flush();
  EXPECT_EQ(c->received, "firstsecondthird");
}

// ---- writing: producers and backpressure ------------------------------------------------------

// Writes `total` bytes of pattern() in `chunk`-byte writes, as a push or pull producer.
class Source : public IProducer {
 public:
  Source(ITransport& t, std::size_t total, std::size_t chunk, bool streaming)
      : t_(t), total_(total), chunk_(chunk), streaming_(streaming) {}
  void start() { t_.registerProducer(*this, streaming_); }
  // Push: write while not paused (called by the test between pumps).
  void pushSome(int writes) {
    for (int i = 0; i < writes && !paused && !stopped && sent < total_; ++i) writeOne();
  }
  void resumeProducing() override {
    ++resumes;
    paused = false;
    if (!streaming_) writeOne();
  }
  void pauseProducing() override {
    ++pauses;
    paused = true;
  }
  void stopProducing() override { stopped = true; }
  bool done() const { return sent == total_; }

  std::size_t sent = 0;
  bool paused = false;
  bool stopped = false;
  int pauses = 0;
  int resumes = 0;

 private:
  void writeOne() {
    if (sent >= total_) return;
    const std::size_t n = std::min(chunk_, total_ - sent);
    t_.write(pattern(n, sent));
    sent += n;
    if (sent == total_) t_.unregisterProducer();
  }
  ITransport& t_;
  std::size_t total_;
  std::size_t chunk_;
  bool streaming_;
};

// The peer stops reading for a while: the producer is paused and the bytes held anywhere stay
// near the high-water mark instead of growing with what the producer could make.
void bigTransferStaysBounded(bool streaming) {
  constexpr std::size_t kTotal = 8 * 1024 * 1024;
  constexpr std::size_t kChunk = 16 * 1024;
  auto client = std::make_unique<Recorder>();
  Recorder* c = client.get();
  auto pair =
      connectTLS(serverContext(), std::make_unique<Recorder>(), clientContext(), std::move(client));
  Source source(*pair.serverTLS, kTotal, kChunk, streaming);
  c->transport->pauseProducing();  // a slow reader: reads nothing for now
  source.start();
  std::size_t maxHeld = 0;
  for (int round = 0; round < 200; ++round) {
    if (streaming) source.pushSome(8);
    pair.pump.pump();
    const std::size_t held =
        pair.serverTLS->bufferedBytes() + pair.pump.serverTransport().inFlightBytes();
    maxHeld = std::max(maxHeld, held);
  }
  EXPECT_LT(source.sent, kTotal / 4) << "the producer was not held back";
  // Socket buffer (64 KiB in flight) + high-water mark (64 KiB) + one chunk and its records.
  EXPECT_LT(maxHeld, 64 * 1024 + 64 * 1024 + 2 * kChunk + 4096) << "memory grew with the writer";
  if (streaming) {
    EXPECT_TRUE(source.paused);
  }
  // The reader goes on: everything arrives, in order.
  c->transport->resumeProducing();
  for (int round = 0; round < 100000 && !(source.done() && c->received.size() == kTotal); ++round) {
    if (streaming) source.pushSome(8);
    pair.pump.pump();
  }
  ASSERT_EQ(c->received.size(), kTotal);
  EXPECT_TRUE(c->received == pattern(kTotal)) << "bytes arrived out of order or changed";
  EXPECT_FALSE(source.stopped);
}

TEST(TLSMemoryBIO, pushProducerToASlowReaderIsPausedAndMemoryStaysBounded) {
  bigTransferStaysBounded(true);
}

TEST(TLSMemoryBIO, pullProducerToASlowReaderIsAskedOnlyAsTheBufferDrains) {
  bigTransferStaysBounded(false);
}

TEST(TLSMemoryBIO, pushProducerRegisteredBeforeTheHandshakeIsPausedUntilItCompletes) {
  LoopbackOptions options;
  options.greet = false;
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(),
                         std::make_unique<Recorder>(), options);
  Source source(*pair.clientTLS, 1024 * 1024, 16 * 1024, true);
  source.start();
  source.pushSome(100);  // no handshake yet: the plaintext waits, then the producer is paused
  EXPECT_TRUE(source.paused);
  EXPECT_LE(pair.clientTLS->bufferedBytes(), 64 * 1024 + 16 * 1024);
  for (int round = 0; round < 100000 && !(source.done() && s->received.size() == 1024 * 1024);
       ++round) {
    source.pushSome(8);
    pair.pump.pump();
  }
  EXPECT_TRUE(source.done());
  EXPECT_TRUE(s->received == pattern(1024 * 1024));
}

TEST(TLSMemoryBIO, loseConnectionWaitsForTheProducerToUnregister) {
  auto server = std::make_unique<Recorder>();
  Recorder* s = server.get();
  auto client = std::make_unique<Recorder>();
  Recorder* c = client.get();
  auto pair = connectTLS(serverContext(), std::move(server), clientContext(), std::move(client));
  Source source(*pair.serverTLS, 200 * 1024, 16 * 1024, false);
  source.start();
  s->transport->loseConnection();
  pair.pump.flush();
  EXPECT_TRUE(source.done());
  EXPECT_EQ(c->received.size(), 200u * 1024);
  ASSERT_TRUE(c->lost);
  EXPECT_TRUE(c->reason->check<ConnectionDone>()) << messageOf(c->reason);
}

TEST(TLSMemoryBIO, producerIsStoppedWhenTheConnectionIsLost) {
  auto pair = connectTLS(serverContext(), std::make_unique<Recorder>(), clientContext(),
                         std::make_unique<Recorder>());
  Source source(*pair.serverTLS, 10 * 1024 * 1024, 16 * 1024, true);
  source.start();
  source.pushSome(10);
  pair.pump.clientTransport().abortConnection();
  pair.pump.flush();
  EXPECT_TRUE(source.stopped);
}

TEST(TLSMemoryBIO, registeringASecondProducerThrows) {
  auto pair = connectTLS(serverContext(), std::make_unique<Recorder>(), clientContext(),
                         std::make_unique<Recorder>());
  Source a(*pair.serverTLS, 1, 1, true);
  Source b(*pair.serverTLS, 1, 1, true);
  a.start();
  EXPECT_THROW(b.start(), std::logic_error);
}

}  // namespace
}  // namespace torsion::tls::test
