// TLS over any transport (Twisted's protocols.tls: TLSMemoryBIOProtocol, TLSMemoryBIOFactory,
// and the interfaces ISSLTransport, INegotiated, IHandshakeListener).
//
// TLSMemoryBIOProtocol sits between a transport and the protocol it wraps. Towards the
// transport it is a Protocol that receives and sends TLS records; towards the wrapped protocol
// it is an ITransport of plaintext. OpenSSL runs over two memory BIOs (one per direction), so
// the transport below can be TCP, a Unix socket, the in-memory loopback, a StringTransport or
// another TLS connection: nothing here touches a socket.
//
//   auto tls = std::make_shared<TLSMemoryBIOFactory>(serverOptions, false, siteFactory);
//   network(reactor).listenTCP(443, tls);
//
// What the wrapped protocol sees (the ITransport contract of transport.hpp, with these TLS
// specifics):
//   - makeConnection() comes when the transport below connects, before the handshake. Writes
//     made before the handshake completes are kept (in order) and encrypted once it has.
//   - dataReceived() gets the plaintext decrypted from one read of the transport below in one
//     call. pauseProducing()/resumeProducing() pause and resume the transport below (the
//     handshake too, if it has not finished).
//   - If the wrapped protocol is an IHandshakeListener, handshakeCompleted() is called once the
//     handshake succeeds, before any dataReceived().
//   - A failed handshake (bad certificate, wrong host name, plaintext from the peer, no common
//     version, the connection closed halfway...) or a bad record ends the connection: the
//     alert (if any) is sent, the transport below is closed, and connectionLost() gets a
//     TLSError (CertificateVerifyError for a refused certificate). A peer's close_notify is
//     answered with ours and gives ConnectionDone; the transport ending after the handshake
//     without one (a truncation an attacker could cause) gives ConnectionLost.
//   - loseConnection() waits for the handshake, for a registered producer to unregister, and
//     for what was written, then sends close_notify and closes the transport below (it does
//     not wait for the peer's close_notify, as HTTPS servers do not). loseWriteConnection()
//     does the same: TLS half-close is not offered. abortConnection() passes through.
//   - registerProducer() passes the producer on to the transport below (so its high-water mark
//     pauses a push producer and its drained buffer asks a pull producer for more: memory stays
//     bounded however slowly the peer reads). Before the handshake, a push producer is paused
//     once the kept plaintext passes the write buffer size, and resumed after the handshake.
//   - bufferedBytes() is the plaintext kept before the handshake plus the transport's own.
//   - getHost()/getPeer() and the TCP options are those of the transport below.
//   - It is an ISSLTransport (peer certificate, negotiated ALPN protocol), and not an
//     ISendFileTransport: file bytes must be encrypted, so a file sender writes them.
// All calls happen on the reactor thread. The protocol owns the wrapped protocol and its
// TLS state; it holds the TLSContext by shared_ptr.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "torsion/defer/failure.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/net/transport.hpp"
#include "torsion/tls/certificate.hpp"
#include "torsion/tls/errors.hpp"
#include "torsion/tls/options.hpp"

namespace torsion::tls {

// A transport that carries TLS (Twisted's ISSLTransport + INegotiated). Ask for it with
// dynamic_cast on a protocol's transport: torsion::web's Request::isSecure() does.
class ISSLTransport {
 public:
  virtual ~ISSLTransport() = default;
  // The peer's certificate once the handshake completed (none before, or when the peer sent
  // none: a client is not asked for one unless the server verifies).
  virtual std::optional<Certificate> getPeerCertificate() const = 0;
  // The ALPN protocol agreed on, once the handshake completed; none before, or when the two
  // sides agreed on none (Twisted's INegotiated.negotiatedProtocol).
  virtual std::optional<std::string> negotiatedProtocol() const = 0;
  // The handshake has completed.
  virtual bool handshakeDone() const noexcept = 0;
};

// A protocol that wants to know when the handshake has completed (Twisted's
// IHandshakeListener). Called once, on the reactor thread, before any dataReceived(); the
// transport's getPeerCertificate()/negotiatedProtocol() are known by then.
class IHandshakeListener {
 public:
  virtual ~IHandshakeListener() = default;
  virtual void handshakeCompleted() = 0;
};

class TLSMemoryBIOProtocol final : public Protocol, public ITransport, public ISSLTransport {
 public:
  // `context` says which side this is; `wrapped` must not be null.
  TLSMemoryBIOProtocol(std::shared_ptr<const TLSContext> context,
                       std::unique_ptr<Protocol> wrapped);
  ~TLSMemoryBIOProtocol() override;
  TLSMemoryBIOProtocol(const TLSMemoryBIOProtocol&) = delete;
  TLSMemoryBIOProtocol& operator=(const TLSMemoryBIOProtocol&) = delete;

  Protocol& wrappedProtocol() const noexcept { return *wrapped_; }

  // ---- Protocol, towards the transport below ---------------------------------------------
  // Connects the wrapped protocol (this is its transport), then starts the handshake (a
  // client sends its ClientHello).
  void makeConnection(ITransport& t) override;
  void dataReceived(std::string_view data) override;
  // Passes the connection's end on to the wrapped protocol, with the TLS error that caused
  // it if there was one.
  void connectionLost(const Failure& reason) override;

  // ---- ITransport, towards the wrapped protocol --------------------------------------------
  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  void loseConnection() override;
  void abortConnection() override;
  void loseWriteConnection() override;
  bool disconnecting() const noexcept override;
  std::size_t bufferedBytes() const noexcept override;
  void setWriteBufferSize(std::size_t bytes) override;
  Address getHost() const override;
  Address getPeer() const override;
  void setTcpNoDelay(bool enabled) override;
  bool getTcpNoDelay() const override;
  void setTcpKeepAlive(bool enabled) override;
  bool getTcpKeepAlive() const override;
  void registerProducer(IProducer& producer, bool streaming) override;
  void unregisterProducer() override;
  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;

  // ---- ISSLTransport -----------------------------------------------------------------------
  std::optional<Certificate> getPeerCertificate() const override;
  std::optional<std::string> negotiatedProtocol() const override;
  bool handshakeDone() const noexcept override;

 private:
  struct State;
  std::unique_ptr<Protocol> wrapped_;
  std::unique_ptr<State> s_;
};

// Wraps every protocol of another factory in TLS (Twisted's TLSMemoryBIOFactory). The
// context is made once, here: the constructor throws CertificateError for unusable options.
// startFactory/stopFactory and, for a ClientFactory, the connection attempt's events pass on
// to the wrapped factory.
class TLSMemoryBIOFactory : public ClientFactory {
 public:
  TLSMemoryBIOFactory(const CertificateOptions& options, bool isClient,
                      std::shared_ptr<Factory> wrapped);
  TLSMemoryBIOFactory(std::shared_ptr<const TLSContext> context, std::shared_ptr<Factory> wrapped);

  // Asks the wrapped factory for a protocol and wraps it; null if it refused.
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;
  void startFactory() override;
  void stopFactory() override;
  void startedConnecting(IConnector& connector) override;
  void clientConnectionFailed(IConnector& connector, const Failure& reason) override;
  void clientConnectionLost(IConnector& connector, const Failure& reason) override;

  const std::shared_ptr<const TLSContext>& context() const noexcept { return context_; }
  Factory& wrappedFactory() const noexcept { return *wrapped_; }

 private:
  std::shared_ptr<const TLSContext> context_;
  std::shared_ptr<Factory> wrapped_;
};

}  // namespace torsion::tls
