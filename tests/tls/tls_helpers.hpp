// Protocols and helpers shared by the TLS tests.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pki.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/tls/tls_protocol.hpp"

namespace torsion::tls::test {

// Records what happens to it; writes `greeting` in connectionMade, echoes when asked to.
class Recorder : public Protocol, public IHandshakeListener {
 public:
  explicit Recorder(std::string greeting = {}) : greeting_(std::move(greeting)) {}
  void connectionMade() override {
    made = true;
    if (!greeting_.empty()) transport->write(greeting_);
  }
  void handshakeCompleted() override {
    ++handshakes;
    receivedBeforeHandshake = received.size();
  }
  void dataReceived(std::string_view data) override {
    received.append(data);
    ++reads;
    if (echo) transport->write(data);
    if (pauseAfterRead) transport->pauseProducing();
  }
  void connectionLost(const Failure& reason) override {
    lost = true;
    this->reason = reason;
  }

  bool made = false;
  int handshakes = 0;
  std::size_t receivedBeforeHandshake = 0;
  std::string received;
  int reads = 0;
  bool echo = false;
  bool pauseAfterRead = false;
  bool lost = false;
  std::optional<Failure> reason;

 private:
  std::string greeting_;
};

inline std::shared_ptr<const TLSContext> serverContext(const KeyAndCert& kc = pki().server) {
  return TLSContext::make(serverOptions(kc), TLSSide::server);
}

inline std::shared_ptr<const TLSContext> clientContext(const std::string& hostname = "localhost") {
  return TLSContext::make(clientOptions(hostname), TLSSide::client);
}

// A TLS server and client around `server` and `client`, connected by the loopback.
struct TLSPair {
  TLSMemoryBIOProtocol* serverTLS;
  TLSMemoryBIOProtocol* clientTLS;
  testing::IOPump pump;
};

inline TLSPair connectTLS(std::shared_ptr<const TLSContext> serverCtx,
                          std::unique_ptr<Protocol> server,
                          std::shared_ptr<const TLSContext> clientCtx,
                          std::unique_ptr<Protocol> client,
                          const testing::LoopbackOptions& options = {}) {
  auto s = std::make_unique<TLSMemoryBIOProtocol>(std::move(serverCtx), std::move(server));
  auto c = std::make_unique<TLSMemoryBIOProtocol>(std::move(clientCtx), std::move(client));
  TLSMemoryBIOProtocol* sp = s.get();
  TLSMemoryBIOProtocol* cp = c.get();
  return TLSPair{sp, cp, testing::connect(std::move(s), std::move(c), options)};
}

// The message of `f`, for assertions.
inline std::string messageOf(const std::optional<Failure>& f) {
  return f ? f->getErrorMessage() : std::string("(no failure)");
}

}  // namespace torsion::tls::test
