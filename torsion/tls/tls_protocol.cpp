#include "torsion/tls/tls_protocol.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "torsion/net/errors.hpp"
#include "torsion/tls/openssl_internal.hpp"

namespace torsion::tls {

namespace {

constexpr std::size_t kScratchSize = 64 * 1024;

// Buffers for one decrypt or encrypt pass, reused across connections of this thread so that a
// steady connection allocates nothing per read or write. One per nesting level: a TLS
// connection may carry another one (or a callback may drive another connection) while its own
// buffer is in use.
class Scratch {
 public:
  Scratch() : buffer_(acquire()) {}
  ~Scratch() { --depth(); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::string& get() noexcept { return buffer_; }

 private:
  static std::size_t& depth() {
    thread_local std::size_t d = 0;
    return d;
  }
  static std::string& acquire() {
    thread_local std::vector<std::unique_ptr<std::string>> pool;
    auto& d = depth();
    if (pool.size() <= d) pool.push_back(std::make_unique<std::string>());
    return *pool[d++];
  }
  std::string& buffer_;
};

bool isIPAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

struct TLSMemoryBIOProtocol::State {
  // What the transport below sees as the wrapped protocol's producer: passes its pause and
  // resume on, adding a pause of its own while plaintext waits for the handshake (Twisted's
  // _ProducerMembrane).
  struct Membrane final : IProducer {
    State* s = nullptr;
    void pauseProducing() override {
      s->pausedBelow = true;
      s->updateProducer();
    }
    void resumeProducing() override {
      if (s->producer == nullptr) return;
      if (s->streaming) {
        s->pausedBelow = false;
        s->updateProducer();
      } else {
        s->producer->resumeProducing();
      }
    }
    void stopProducing() override { s->stopProducer(); }
  };

  TLSMemoryBIOProtocol* self = nullptr;
  std::shared_ptr<const TLSContext> context;
  SSL* ssl = nullptr;
  BIO* in = nullptr;   // bytes from the peer, for OpenSSL to read (owned by ssl)
  BIO* out = nullptr;  // bytes OpenSSL wrote, for the peer (owned by ssl)
  IHandshakeListener* listener = nullptr;
  std::string verifyNote;  // the certificate the verify callback refused, described

  std::string pending;            // plaintext written before the handshake completed
  std::string held;               // plaintext decrypted while the wrapped protocol paused
  std::optional<Failure> reason;  // the TLS failure that ended the connection
  std::size_t highWater = 64 * 1024;

  IProducer* producer = nullptr;
  bool streaming = false;
  bool registeredBelow = false;  // the membrane is registered with the transport below
  bool pausedBelow = false;      // the transport below paused the producer
  bool producerPaused = false;   // what the producer was last told
  Membrane membrane;

  bool handshakeDone = false;
  bool closeRequested = false;  // loseConnection/abortConnection was called
  bool aborted = false;
  bool shutdownSent = false;  // our close_notify is out and the transport below closing
  bool peerClosed = false;    // the peer's close_notify arrived
  bool failed = false;
  bool lost = false;        // connectionLost came
  bool readPaused = false;  // the wrapped protocol paused reading
  bool flushing = false;
  int delivering = 0;

  ITransport* below() const noexcept { return self->transport; }

  ~State() { SSL_free(ssl); }

  // ---- output ---------------------------------------------------------------------------------

  // Sends everything OpenSSL wrote to the transport below.
  void flushOut() {
    if (flushing || below() == nullptr) return;
    flushing = true;
    Scratch scratch;
    std::string& buf = scratch.get();
    buf.resize(kScratchSize);
    try {
      int n = 0;
      while ((n = BIO_read(out, buf.data(), static_cast<int>(buf.size()))) > 0) {
        below()->write(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      }
    } catch (...) {
      flushing = false;
      throw;
    }
    flushing = false;
  }

  // Encrypts `data` (after the handshake); false if OpenSSL failed (the connection is then
  // failing).
  bool encrypt(std::string_view data) {
    ERR_clear_error();
    while (!data.empty()) {
      const std::size_t n = std::min<std::size_t>(data.size(), INT_MAX);
      std::size_t written = 0;
      if (SSL_write_ex(ssl, data.data(), n, &written) != 1) {
        fail(Failure(TLSError("TLS write failed: " + detail::takeErrors())));
        return false;
      }
      data.remove_prefix(written);
    }
    return true;
  }

  // ---- the producer ----------------------------------------------------------------------------

  void updateProducer() {
    if (producer == nullptr || !streaming) return;
    // Before the handshake nothing reaches the transport below, whose high-water mark cannot
    // see it: the membrane pauses the producer itself once `pending` is over the mark.
    const bool pause = pausedBelow || (!handshakeDone && pending.size() > highWater);
    if (pause == producerPaused) return;
    producerPaused = pause;
    if (pause) {
      producer->pauseProducing();
    } else {
      producer->resumeProducing();
    }
  }

  void stopProducer() {
    if (producer == nullptr) return;
    IProducer* p = producer;
    producer = nullptr;
    registeredBelow = false;
    p->stopProducing();
  }

  // ---- the handshake ---------------------------------------------------------------------------

  void handshake() {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl);
    if (r == 1) {
      handshakeDone = true;
      flushOut();
      handshakeCompleted();
      return;
    }
    const int error = SSL_get_error(ssl, r);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      flushOut();
      return;
    }
    fail(handshakeFailure());
  }

  Failure handshakeFailure() {
    const long verify = SSL_get_verify_result(ssl);
    const std::string errors = detail::takeErrors();
    if (verify != X509_V_OK) {
      std::string message = fmt::format("TLS handshake failed: certificate verify failed: {}",
                                        X509_verify_cert_error_string(verify));
      const auto& host = context->options().hostname;
      if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        message += fmt::format(" (the certificate is not valid for '{}')", host);
      }
      if (!verifyNote.empty()) message += fmt::format(" [certificate: {}]", verifyNote);
      return Failure(CertificateVerifyError(message, verify));
    }
    return Failure(TLSError("TLS handshake failed: " + errors));
  }

  void handshakeCompleted() {
    // What was written while waiting goes first, in order.
    if (!pending.empty()) {
      std::string waiting = std::move(pending);
      pending.clear();
      pending.shrink_to_fit();
      if (!encrypt(waiting)) return;
      flushOut();
    }
    updateProducer();
    if (listener != nullptr && !closeRequested) listener->handshakeCompleted();
    maybeShutdown();
  }

  // ---- input -----------------------------------------------------------------------------------

  // Decrypts what OpenSSL can from the bytes received, and hands it on in one piece.
  void readApplicationData() {
    Scratch scratch;
    std::string& buf = scratch.get();
    std::size_t used = 0;
    std::optional<Failure> failure;
    ERR_clear_error();
    while (true) {
      if (buf.size() < used + 16 * 1024) buf.resize(std::max(kScratchSize, used + 16 * 1024));
      std::size_t n = 0;
      const int r = SSL_read_ex(ssl, buf.data() + used, buf.size() - used, &n);
      if (r == 1) {
        used += n;
        continue;
      }
      const int error = SSL_get_error(ssl, r);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
      if (error == SSL_ERROR_ZERO_RETURN) {
        peerClosed = true;
        break;
      }
      failure = Failure(TLSError("TLS error: " + detail::takeErrors()));
      break;
    }
    // OpenSSL may have answered something (a TLS 1.3 key update, an alert).
    flushOut();
    // Plaintext decrypted before a bad record was genuine: it goes first.
    if (used > 0) deliver(std::string_view(buf.data(), used));
    if (failure) {
      fail(std::move(*failure));
      return;
    }
    if (peerClosed && !shutdownSent && !lost) {
      // The peer is done: answer its close_notify with ours and close (no half-close).
      closeRequested = true;
      if (registeredBelow) {
        registeredBelow = false;
        below()->unregisterProducer();
      }
      sendCloseNotify();
    }
  }

  void deliver(std::string_view data) {
    if (closeRequested || lost) return;  // reading stopped with loseConnection
    if (readPaused || delivering > 0) {
      held.append(data);
      return;
    }
    ++delivering;
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{delivering};
    self->wrapped_->dataReceived(data);
    // resumeProducing() called from inside dataReceived leaves what was held for here.
    while (!held.empty() && !readPaused && !closeRequested && !lost) {
      std::string next = std::move(held);
      held.clear();
      self->wrapped_->dataReceived(next);
    }
  }

  // ---- the end ---------------------------------------------------------------------------------

  // Ends the connection because of `why`: sends what OpenSSL wrote (the alert), then closes the
  // transport below without waiting for the producer.
  void fail(Failure why) {
    if (failed || lost) return;
    failed = true;
    reason = std::move(why);
    ERR_clear_error();
    flushOut();
    if (registeredBelow) {
      registeredBelow = false;
      below()->unregisterProducer();
    }
    below()->loseConnection();
  }

  // loseConnection's second half, once the handshake is done and the producer gone.
  void maybeShutdown() {
    if (!closeRequested || aborted || shutdownSent || failed || lost) return;
    if (!handshakeDone || producer != nullptr) return;
    sendCloseNotify();
  }

  // Writes our close_notify and closes the transport below after it; we do not wait for the
  // peer's (HTTPS servers do not either).
  void sendCloseNotify() {
    shutdownSent = true;
    ERR_clear_error();
    SSL_shutdown(ssl);
    ERR_clear_error();
    flushOut();
    below()->loseConnection();
  }
};

// ---- TLSMemoryBIOProtocol --------------------------------------------------------------------

TLSMemoryBIOProtocol::TLSMemoryBIOProtocol(std::shared_ptr<const TLSContext> context,
                                           std::unique_ptr<Protocol> wrapped)
    : wrapped_(std::move(wrapped)), s_(std::make_unique<State>()) {
  if (!wrapped_) throw std::invalid_argument("TLSMemoryBIOProtocol: no protocol to wrap");
  if (!context) throw std::invalid_argument("TLSMemoryBIOProtocol: no TLS context");
  s_->self = this;
  s_->membrane.s = s_.get();
  s_->listener = dynamic_cast<IHandshakeListener*>(wrapped_.get());
  s_->context = std::move(context);
  ERR_clear_error();
  s_->ssl = SSL_new(detail::OpenSSLAccess::context(*s_->context));
  if (s_->ssl == nullptr) throw TLSError("cannot create a TLS connection: " + detail::takeErrors());
  s_->in = BIO_new(BIO_s_mem());
  s_->out = BIO_new(BIO_s_mem());
  if (s_->in == nullptr || s_->out == nullptr) {
    BIO_free(s_->in);
    BIO_free(s_->out);
    throw TLSError("cannot create the TLS memory buffers: " + detail::takeErrors());
  }
  // An empty input buffer means "wait for more", not end of file.
  BIO_set_mem_eof_return(s_->in, -1);
  BIO_set_mem_eof_return(s_->out, -1);
  SSL_set_bio(s_->ssl, s_->in, s_->out);
  SSL_set_ex_data(s_->ssl, detail::verifyNoteIndex(), &s_->verifyNote);
  if (s_->context->side() == TLSSide::client) {
    SSL_set_connect_state(s_->ssl);
    const std::string& host = s_->context->options().hostname;
    if (!host.empty()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(s_->ssl);
      if (isIPAddress(host)) {
        // No SNI for an address (RFC 6066); check the certificate's IP address entries.
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        SSL_set_tlsext_host_name(s_->ssl, host.c_str());
        SSL_set_hostflags(s_->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(s_->ssl, host.c_str()) != 1) {
          throw TLSError(
              fmt::format("cannot verify host name '{}': {}", host, detail::takeErrors()));
        }
      }
    }
  } else {
    SSL_set_accept_state(s_->ssl);
  }
}

TLSMemoryBIOProtocol::~TLSMemoryBIOProtocol() = default;

void TLSMemoryBIOProtocol::makeConnection(ITransport& t) {
  Protocol::makeConnection(t);
  wrapped_->makeConnection(*this);
  // A client speaks first: its ClientHello. (A server waits for it.)
  if (s_->context->side() == TLSSide::client && !s_->lost && !s_->failed && !s_->aborted) {
    s_->handshake();
  }
}

void TLSMemoryBIOProtocol::dataReceived(std::string_view data) {
  if (s_->lost || s_->failed || s_->peerClosed) return;
  while (!data.empty()) {
    const std::size_t n = std::min<std::size_t>(data.size(), INT_MAX);
    if (BIO_write(s_->in, data.data(), static_cast<int>(n)) != static_cast<int>(n)) {
      s_->fail(Failure(TLSError("cannot buffer received TLS data: " + detail::takeErrors())));
      return;
    }
    data.remove_prefix(n);
  }
  if (!s_->handshakeDone) {
    s_->handshake();
    if (!s_->handshakeDone || s_->failed || s_->lost) return;
  }
  s_->readApplicationData();
}

void TLSMemoryBIOProtocol::connectionLost(const Failure& reason) {
  State& s = *s_;
  s.lost = true;
  connected = false;
  s.stopProducer();
  Failure why = reason;
  if (s.reason) {
    why = *s.reason;
  } else if (!s.aborted && reason.check<ConnectionDone, ConnectionLost>() &&
             !reason.check<ConnectionAborted>()) {
    if (!s.handshakeDone) {
      why = Failure(TLSError("TLS handshake failed: the connection closed before it completed (" +
                             reason.getErrorMessage() + ")"));
    } else if (!s.peerClosed && !s.shutdownSent && reason.check<ConnectionDone>()) {
      why =
          Failure(ConnectionLost("the TLS connection ended without a close_notify (the data may "
                                 "have been truncated)"));
    }
  }
  wrapped_->connectionLost(why);
}

void TLSMemoryBIOProtocol::write(std::string_view data) {
  State& s = *s_;
  if (s.lost || s.failed || s.shutdownSent || s.aborted || data.empty()) return;
  if (!s.handshakeDone) {
    s.pending.append(data);
    s.updateProducer();
    return;
  }
  if (s.encrypt(data)) s.flushOut();
}

void TLSMemoryBIOProtocol::writeSequence(std::span<const std::string_view> pieces) {
  State& s = *s_;
  if (s.lost || s.failed || s.shutdownSent || s.aborted) return;
  if (!s.handshakeDone) {
    for (const auto piece : pieces) s.pending.append(piece);
    s.updateProducer();
    return;
  }
  for (const auto piece : pieces) {
    if (!s.encrypt(piece)) return;
  }
  s.flushOut();
}

void TLSMemoryBIOProtocol::loseConnection() {
  State& s = *s_;
  if (s.closeRequested || s.lost) return;
  s.closeRequested = true;
  s.held.clear();
  if (s.failed) return;  // already closing
  s.maybeShutdown();
}

void TLSMemoryBIOProtocol::abortConnection() {
  State& s = *s_;
  if (s.aborted || s.lost) return;
  s.aborted = true;
  s.closeRequested = true;
  s.held.clear();
  if (transport != nullptr) transport->abortConnection();
}

void TLSMemoryBIOProtocol::loseWriteConnection() { loseConnection(); }

bool TLSMemoryBIOProtocol::disconnecting() const noexcept {
  return s_->closeRequested || s_->failed || s_->lost ||
         (transport != nullptr && transport->disconnecting());
}

std::size_t TLSMemoryBIOProtocol::bufferedBytes() const noexcept {
  return s_->pending.size() + (transport != nullptr ? transport->bufferedBytes() : 0);
}

void TLSMemoryBIOProtocol::setWriteBufferSize(std::size_t bytes) {
  s_->highWater = bytes;
  if (transport != nullptr) transport->setWriteBufferSize(bytes);
}

Address TLSMemoryBIOProtocol::getHost() const {
  if (transport == nullptr) throw std::logic_error("TLSMemoryBIOProtocol: not connected");
  return transport->getHost();
}

Address TLSMemoryBIOProtocol::getPeer() const {
  if (transport == nullptr) throw std::logic_error("TLSMemoryBIOProtocol: not connected");
  return transport->getPeer();
}

void TLSMemoryBIOProtocol::setTcpNoDelay(bool enabled) {
  if (transport != nullptr) transport->setTcpNoDelay(enabled);
}
bool TLSMemoryBIOProtocol::getTcpNoDelay() const {
  return transport != nullptr && transport->getTcpNoDelay();
}
void TLSMemoryBIOProtocol::setTcpKeepAlive(bool enabled) {
  if (transport != nullptr) transport->setTcpKeepAlive(enabled);
}
bool TLSMemoryBIOProtocol::getTcpKeepAlive() const {
  return transport != nullptr && transport->getTcpKeepAlive();
}

void TLSMemoryBIOProtocol::registerProducer(IProducer& producer, bool streaming) {
  State& s = *s_;
  if (s.producer != nullptr) {
    throw std::logic_error("registerProducer: a producer is already registered");
  }
  if (s.lost || s.failed || s.aborted || s.shutdownSent || transport == nullptr) {
    producer.stopProducing();
    return;
  }
  s.producer = &producer;
  s.streaming = streaming;
  s.pausedBelow = false;
  s.producerPaused = false;
  s.registeredBelow = true;
  transport->registerProducer(s.membrane, streaming);
  s.updateProducer();
}

void TLSMemoryBIOProtocol::unregisterProducer() {
  State& s = *s_;
  if (s.producer == nullptr) return;
  s.producer = nullptr;
  if (s.registeredBelow) {
    s.registeredBelow = false;
    if (transport != nullptr) transport->unregisterProducer();
  }
  s.maybeShutdown();
}

void TLSMemoryBIOProtocol::pauseProducing() {
  State& s = *s_;
  if (s.readPaused || s.lost) return;
  s.readPaused = true;
  if (transport != nullptr && !transport->disconnecting()) transport->pauseProducing();
}

void TLSMemoryBIOProtocol::resumeProducing() {
  State& s = *s_;
  if (!s.readPaused || s.lost) return;
  s.readPaused = false;
  if (transport != nullptr && !transport->disconnecting()) transport->resumeProducing();
  // Plaintext held while paused goes now, unless a delivery is under way (it takes it).
  if (!s.held.empty() && s.delivering == 0) {
    std::string next = std::move(s.held);
    s.held.clear();
    s.deliver(next);
  }
}

void TLSMemoryBIOProtocol::stopProducing() { loseConnection(); }

std::optional<Certificate> TLSMemoryBIOProtocol::getPeerCertificate() const {
  if (!s_->handshakeDone) return std::nullopt;
  X509* peer = SSL_get1_peer_certificate(s_->ssl);
  if (peer == nullptr) return std::nullopt;
  return detail::OpenSSLAccess::certificate(detail::X509Ptr(peer), "peer certificate");
}

std::optional<std::string> TLSMemoryBIOProtocol::negotiatedProtocol() const {
  if (!s_->handshakeDone) return std::nullopt;
  const unsigned char* name = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(s_->ssl, &name, &len);
  if (name == nullptr || len == 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(name), len);
}

bool TLSMemoryBIOProtocol::handshakeDone() const noexcept { return s_->handshakeDone; }

// ---- TLSMemoryBIOFactory ---------------------------------------------------------------------

TLSMemoryBIOFactory::TLSMemoryBIOFactory(const CertificateOptions& options, bool isClient,
                                         std::shared_ptr<Factory> wrapped)
    : TLSMemoryBIOFactory(TLSContext::make(options, isClient ? TLSSide::client : TLSSide::server),
                          std::move(wrapped)) {}

TLSMemoryBIOFactory::TLSMemoryBIOFactory(std::shared_ptr<const TLSContext> context,
                                         std::shared_ptr<Factory> wrapped)
    : context_(std::move(context)), wrapped_(std::move(wrapped)) {
  if (!context_ || !wrapped_) {
    throw std::invalid_argument("TLSMemoryBIOFactory: a context and a factory are required");
  }
}

std::unique_ptr<Protocol> TLSMemoryBIOFactory::buildProtocol(const Address& addr) {
  auto inner = wrapped_->buildProtocol(addr);
  if (!inner) return nullptr;
  auto p = std::make_unique<TLSMemoryBIOProtocol>(context_, std::move(inner));
  p->factory = this;
  return p;
}

void TLSMemoryBIOFactory::startFactory() { wrapped_->doStart(); }
void TLSMemoryBIOFactory::stopFactory() { wrapped_->doStop(); }

void TLSMemoryBIOFactory::startedConnecting(IConnector& connector) {
  if (auto* c = dynamic_cast<ClientFactory*>(wrapped_.get())) c->startedConnecting(connector);
}
void TLSMemoryBIOFactory::clientConnectionFailed(IConnector& connector, const Failure& reason) {
  if (auto* c = dynamic_cast<ClientFactory*>(wrapped_.get())) {
    c->clientConnectionFailed(connector, reason);
  }
}
void TLSMemoryBIOFactory::clientConnectionLost(IConnector& connector, const Failure& reason) {
  if (auto* c = dynamic_cast<ClientFactory*>(wrapped_.get())) {
    c->clientConnectionLost(connector, reason);
  }
}

}  // namespace torsion::tls
