#include "torsion/tls/options.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>

#include "torsion/tls/errors.hpp"
#include "torsion/tls/openssl_internal.hpp"

namespace torsion::tls {

const std::vector<Certificate>& TrustRoot::certificates() const noexcept {
  static const std::vector<Certificate> none;
  if (const auto* cas = std::get_if<std::vector<Certificate>>(&source_)) return *cas;
  return none;
}

CertificateOptions optionsForClientTLS(std::string hostname, TrustRoot trustRoot,
                                       std::optional<PrivateKey> clientKey,
                                       std::optional<Certificate> clientCertificate,
                                       std::vector<std::string> alpn) {
  CertificateOptions o;
  o.hostname = std::move(hostname);
  o.verify = true;
  o.trustRoot = std::move(trustRoot);
  o.privateKey = std::move(clientKey);
  o.certificate = std::move(clientCertificate);
  o.acceptableProtocols = std::move(alpn);
  return o;
}

struct TLSContext::Impl {
  SSL_CTX* ctx = nullptr;
  TLSSide side = TLSSide::client;
  CertificateOptions options;
  ~Impl() { SSL_CTX_free(ctx); }
};

namespace {

[[noreturn]] void refuse(const std::string& message, std::string origin = "TLS options") {
  ERR_clear_error();
  throw CertificateError(message, std::move(origin));
}

int protocolVersion(TLSVersion v) {
  switch (v) {
    case TLSVersion::TLSv1_0:
      return TLS1_VERSION;
    case TLSVersion::TLSv1_1:
      return TLS1_1_VERSION;
    case TLSVersion::TLSv1_2:
      return TLS1_2_VERSION;
    case TLSVersion::TLSv1_3:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// The server's ALPN choice: the first of its own names that the client offered (Twisted's
// order); no protocol when none matches, and the handshake goes on.
int selectProtocol(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void* arg) {
  const auto* options = static_cast<const CertificateOptions*>(arg);
  for (const auto& mine : options->acceptableProtocols) {
    for (unsigned int i = 0; i < inlen;) {
      const unsigned int len = in[i];
      if (len == 0 || i + 1 + len > inlen) break;  // malformed list: stop reading it
      if (len == mine.size() && std::memcmp(in + i + 1, mine.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

TLSContext::TLSContext(const CertificateOptions& options, TLSSide side)
    : impl_(std::make_unique<Impl>()) {
  impl_->side = side;
  impl_->options = options;
  const bool server = side == TLSSide::server;
  ERR_clear_error();
  impl_->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (impl_->ctx == nullptr) refuse("cannot create an OpenSSL context: " + detail::takeErrors());
  SSL_CTX* ctx = impl_->ctx;

  // Versions.
  if (options.maximumVersion && *options.maximumVersion < options.minimumVersion) {
    refuse("maximumVersion is older than minimumVersion");
  }
  SSL_CTX_set_min_proto_version(ctx, protocolVersion(options.minimumVersion));
  if (options.maximumVersion) {
    SSL_CTX_set_max_proto_version(ctx, protocolVersion(*options.maximumVersion));
  }
  // No renegotiation (a TLS 1.2 attack surface Twisted also turns off), no compression
  // (CRIME); small idle connections: OpenSSL frees its record buffers between records.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  // This side's certificate.
  if (options.privateKey.has_value() != options.certificate.has_value()) {
    refuse(options.privateKey ? "a private key was given without its certificate"
                              : "a certificate was given without its private key");
  }
  if (server && !options.certificate) {
    refuse("a TLS server needs a certificate and its private key");
  }
  if (options.certificate) {
    const Certificate& cert = *options.certificate;
    const PrivateKey& key = *options.privateKey;
    if (SSL_CTX_use_certificate(ctx, detail::OpenSSLAccess::x509(cert)) != 1) {
      refuse(fmt::format("{}: certificate refused: {}", cert.origin(), detail::takeErrors()),
             cert.origin());
    }
    if (SSL_CTX_use_PrivateKey(ctx, detail::OpenSSLAccess::key(key)) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      refuse(fmt::format("the private key from '{}' does not match the certificate from '{}' "
                         "({})",
                         key.origin(), cert.origin(), detail::takeErrors()),
             key.origin());
    }
    for (const auto& extra : options.extraCertChain) {
      if (SSL_CTX_add1_chain_cert(ctx, detail::OpenSSLAccess::x509(extra)) != 1) {
        refuse(
            fmt::format("{}: chain certificate refused: {}", extra.origin(), detail::takeErrors()),
            extra.origin());
      }
    }
  }

  // Verification.
  const bool verify = options.verify || options.trustRoot.has_value();
  if (verify) {
    if (options.trustRoot && options.trustRoot->isPlatform()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        refuse("cannot load the platform's CA certificates: " + detail::takeErrors());
      }
    } else {
      const auto& cas = options.trustRoot ? options.trustRoot->certificates() : options.caCerts;
      if (cas.empty()) {
        refuse("verify is set but no CA certificates were given (caCerts or trustRoot)");
      }
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      for (const auto& ca : cas) {
        if (X509_STORE_add_cert(store, detail::OpenSSLAccess::x509(ca)) != 1) {
          // The same CA twice is harmless.
          const unsigned long e = ERR_peek_last_error();
          if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            refuse(fmt::format("{}: CA certificate refused: {}", ca.origin(), detail::takeErrors()),
                   ca.origin());
          }
          ERR_clear_error();
        }
        if (server) SSL_CTX_add_client_CA(ctx, detail::OpenSSLAccess::x509(ca));
      }
    }
    int mode = SSL_VERIFY_PEER;
    if (server && options.requireCertificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, detail::noteRefusedCertificate);
  }
  if (server) {
    // Session resumption with client certificates needs a context id; any fixed one will do.
    static const unsigned char kSessionContext[] = "torsion";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  }

  // ALPN, in its wire form (length-prefixed names; OpenSSL keeps its own copy).
  std::string alpnWire;
  for (const auto& name : options.acceptableProtocols) {
    if (name.empty() || name.size() > 255) {
      refuse(fmt::format("ALPN protocol name '{}' must be 1 to 255 bytes long", name));
    }
    alpnWire += static_cast<char>(name.size());
    alpnWire += name;
  }
  if (!options.acceptableProtocols.empty()) {
    if (server) {
      SSL_CTX_set_alpn_select_cb(ctx, selectProtocol, &impl_->options);
    } else if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpnWire.data()),
                                       static_cast<unsigned int>(alpnWire.size())) != 0) {
      refuse("cannot set the ALPN protocols: " + detail::takeErrors());
    }
  }
  ERR_clear_error();
}

TLSContext::~TLSContext() = default;

TLSSide TLSContext::side() const noexcept { return impl_->side; }
const CertificateOptions& TLSContext::options() const noexcept { return impl_->options; }

SSL_CTX* detail::OpenSSLAccess::context(const TLSContext& c) { return c.impl_->ctx; }

}  // namespace torsion::tls
