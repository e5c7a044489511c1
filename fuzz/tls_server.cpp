// Fuzzes the server side of TLSMemoryBIOProtocol (torsion/tls/tls_protocol.hpp): arbitrary bytes
// from a "client", in chunks whose sizes come from the input, over a
// StringTransportWithDisconnection. OpenSSL parses the records; this checks that the glue
// around it (buffers before the handshake, producers, pausing, closing, failing) survives
// anything, and leaks nothing (the target runs under ASan).
//
// The first byte sets: the wrapped protocol writes a greeting and echoes (bit 0); a real
// client first completes a handshake, so that the fuzzed bytes arrive as records after it
// (bit 1); the wrapped protocol pauses after each read and the driver resumes it (bit 2); the
// wrapped protocol registers a push producer (bit 3); the server asks for a client certificate
// (bit 4); loseConnection after the chunk whose flag is set (bit 5).
//
// Invariants: connectionLost reaches the wrapped protocol exactly once (once the transport
// below is closed, at the latest when the driver closes it at the end); nothing is delivered
// after it; the plaintext kept before the handshake stays within the write buffer size plus
// what one write adds; the wrapped protocol never sees data before the handshake completed.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "torsion/testing/string_transport.hpp"
#include "torsion/tls/tls_protocol.hpp"

namespace {

using torsion::Failure;
using torsion::fuzz::check;
using torsion::testing::StringTransportWithDisconnection;
namespace tls = torsion::tls;

// A self-signed EC certificate for "localhost", made once.
struct Identity {
  std::string keyPEM;
  std::string certPEM;
};

std::string toPEM(EVP_PKEY* key, X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (key != nullptr) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  if (cert != nullptr) PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

const Identity& identity() {
  static const Identity id = [] {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
    Identity out{toPEM(key, nullptr), toPEM(nullptr, cert)};
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
  }();
  return id;
}

std::shared_ptr<const tls::TLSContext> serverContext(bool verifyClients) {
  tls::CertificateOptions o;
  o.privateKey = tls::PrivateKey::loadPEM(identity().keyPEM);
  o.certificate = tls::Certificate::loadPEM(identity().certPEM);
  o.acceptableProtocols = {"h2", "http/1.1"};
  if (verifyClients) {
    o.verify = true;
    o.caCerts = {*o.certificate};
  }
  return tls::TLSContext::make(o, tls::TLSSide::server);
}

std::shared_ptr<const tls::TLSContext> clientContext() {
  return tls::TLSContext::make(
      tls::optionsForClientTLS("localhost", tls::TrustRoot::fromCertificates(
                                                {tls::Certificate::loadPEM(identity().certPEM)})),
      tls::TLSSide::client);
}

struct Producer : torsion::IProducer {
  void pauseProducing() override { paused = true; }
  void resumeProducing() override { paused = false; }
  void stopProducing() override { stopped = true; }
  bool paused = false;
  bool stopped = false;
};

class Wrapped : public torsion::Protocol, public tls::IHandshakeListener {
 public:
  Wrapped(bool chatty, bool pausing, bool producing)
      : chatty_(chatty), pausing_(pausing), producing_(producing) {}
  void connectionMade() override {
    if (chatty_) transport->write("greeting before the handshake");
    if (producing_) transport->registerProducer(producer, true);
  }
  void handshakeCompleted() override { handshaken = true; }
  void dataReceived(std::string_view data) override {
    check(lost == 0, "data delivered after connectionLost");
    check(handshaken, "data delivered before the handshake completed");
    received += data.size();
    if (chatty_) transport->write(data);
    if (pausing_) {
      transport->pauseProducing();
      paused = true;
    }
  }
  void connectionLost(const Failure&) override { ++lost; }

  Producer producer;
  bool handshaken = false;
  bool paused = false;
  int lost = 0;
  std::size_t received = 0;

 private:
  bool chatty_;
  bool pausing_;
  bool producing_;
};

// Runs a real client's handshake against `server` over two StringTransports (bounded).
void handshake(tls::TLSMemoryBIOProtocol& server, StringTransportWithDisconnection& serverWire) {
  StringTransportWithDisconnection clientWire;
  tls::TLSMemoryBIOProtocol client(clientContext(), std::make_unique<torsion::Protocol>());
  clientWire.connect(client);
  for (int round = 0; round < 20 && clientWire.connected() && serverWire.connected(); ++round) {
    const std::string toServer = clientWire.value();
    clientWire.clear();
    if (!toServer.empty()) server.dataReceived(toServer);
    const std::string toClient = serverWire.value();
    serverWire.clear();
    if (!toClient.empty() && clientWire.connected()) client.dataReceived(toClient);
    if (toServer.empty() && toClient.empty()) break;
  }
  if (clientWire.connected()) clientWire.loseConnection();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torsion::fuzz::FuzzInput input(data, size);
  const std::uint8_t settings = input.byte();
  const bool chatty = (settings & 0x01U) != 0;
  const bool realHandshake = (settings & 0x02U) != 0;
  const bool pausing = (settings & 0x04U) != 0;
  const bool producing = (settings & 0x08U) != 0;
  const bool verifyClients = (settings & 0x10U) != 0;
  const bool closeOnFlag = (settings & 0x20U) != 0;

  static const auto plainContext = serverContext(false);
  static const auto verifyingContext = serverContext(true);
  auto wrapped = std::make_unique<Wrapped>(chatty, pausing, producing);
  Wrapped& w = *wrapped;
  tls::TLSMemoryBIOProtocol server(verifyClients ? verifyingContext : plainContext,
                                   std::move(wrapped));
  StringTransportWithDisconnection wire;
  wire.connect(server);
  if (realHandshake) handshake(server, wire);

  while (!input.empty() && wire.connected()) {
    bool flag = false;
    const std::string_view chunk = input.chunk(flag);
    server.dataReceived(chunk);
    wire.clear();  // what the server sent: nobody reads it
    if (!server.handshakeDone()) {
      check(server.bufferedBytes() <= 64 * 1024 + 64 * 1024,
            "plaintext kept before the handshake grew past the write buffer");
    }
    if (w.paused && wire.connected()) {
      w.paused = false;
      server.resumeProducing();
    }
    if (flag && closeOnFlag && wire.connected()) server.loseConnection();
  }
  if (producing && w.lost == 0 && !w.producer.stopped) server.unregisterProducer();
  if (wire.connected()) wire.loseConnection();
  check(w.lost == 1, "connectionLost not delivered exactly once");
  return 0;
}
