// What a TLS connection is to be (Twisted's CertificateOptions, optionsForClientTLS,
// platformTrust, TLSVersion), and TLSContext, the settings checked and compiled into an
// OpenSSL context that every connection made with them shares.
//
//   // server
//   CertificateOptions server;
//   server.privateKey = PrivateKey::loadPEMFile("key.pem");
//   server.certificate = Certificate::loadPEMFile("cert.pem");
//   auto factory = std::make_shared<TLSMemoryBIOFactory>(server, false, site);
//
//   // client: verifies the server's certificate against the system's CAs and its name
//   auto factory = std::make_shared<TLSMemoryBIOFactory>(optionsForClientTLS("example.com"),
//                                                        true, myFactory);
//
// A CertificateOptions is a plain value: set the fields, then hand it to TLSContext (or to a
// TLSMemoryBIOFactory, which makes one). Building the context is where everything is
// checked (a key that does not match its certificate, a server without a certificate...).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "torsion/tls/certificate.hpp"

namespace torsion::tls {

enum class TLSVersion { TLSv1_0, TLSv1_1, TLSv1_2, TLSv1_3 };

// The CAs a peer's certificate must chain to (Twisted's IOpenSSLTrustRoot).
class TrustRoot {
 public:
  // OpenSSL's default verify paths (Debian: /etc/ssl/certs, /usr/lib/ssl/cert.pem), as
  // SSL_CTX_set_default_verify_paths finds them; SSL_CERT_FILE / SSL_CERT_DIR override.
  static TrustRoot platform() { return TrustRoot(Platform{}); }
  // Exactly these CAs (Twisted's trustRootFromCertificates).
  static TrustRoot fromCertificates(std::vector<Certificate> cas) {
    return TrustRoot(std::move(cas));
  }

  bool isPlatform() const noexcept { return std::holds_alternative<Platform>(source_); }
  // The CAs given (empty for platform()).
  const std::vector<Certificate>& certificates() const noexcept;

 private:
  struct Platform {};
  explicit TrustRoot(std::variant<Platform, std::vector<Certificate>> s) : source_(std::move(s)) {}
  std::variant<Platform, std::vector<Certificate>> source_;
};

// Twisted's platformTrust().
inline TrustRoot platformTrust() { return TrustRoot::platform(); }

struct CertificateOptions {
  // This side's key and certificate: required for a server, optional for a client (a client
  // certificate). extraCertChain is sent after the certificate (intermediate CAs, leaf's
  // issuer first).
  std::optional<PrivateKey> privateKey;
  std::optional<Certificate> certificate;
  std::vector<Certificate> extraCertChain;

  // Verify the peer's certificate. A client with verify (or a trustRoot) refuses a server
  // whose certificate does not chain to the trust root; a server with verify asks for a client
  // certificate and, with requireCertificate, refuses a client without one.
  bool verify = false;
  // The CAs to trust when verify is set and trustRoot is not (Twisted's caCerts). verify with
  // neither is an error, as in Twisted.
  std::vector<Certificate> caCerts;
  // Setting it implies verify (Twisted's trustRoot).
  std::optional<TrustRoot> trustRoot;
  bool requireCertificate = true;

  // Client only: the name sent as SNI and, when verifying, checked against the server's
  // certificate (a DNS name with X509_check_host rules, wildcards in the leftmost label only;
  // or an IPv4/IPv6 address, checked against the IP address entries and not sent as SNI).
  // "" = neither. optionsForClientTLS sets it.
  std::string hostname;

  // The oldest protocol version accepted. Twisted 22.4 defaults to TLS 1.0
  // (_defaultMinimumTLSVersion) to talk to old peers; torsion defaults to TLS 1.2 because
  // TLS 1.0 and 1.1 are deprecated (RFC 8996) and OpenSSL 3 refuses them at its default
  // security level anyway, so a lower setting would only promise what cannot work.
  TLSVersion minimumVersion = TLSVersion::TLSv1_2;
  // The newest version offered (none = the newest OpenSSL supports, TLS 1.3).
  std::optional<TLSVersion> maximumVersion;

  // ALPN protocol names in order of preference (Twisted's acceptableProtocols), e.g.
  // {"h2", "http/1.1"}. A client offers them; a server picks the first of its own list the
  // client offered, and goes on without a protocol when none matches (as Twisted does). Each
  // name is 1-255 bytes.
  std::vector<std::string> acceptableProtocols;
};

// Twisted's optionsForClientTLS: verify the server against `trustRoot` and `hostname`, send
// `hostname` as SNI, present `clientKey`/`clientCertificate` when given, offer `alpn`.
CertificateOptions optionsForClientTLS(std::string hostname, TrustRoot trustRoot = platformTrust(),
                                       std::optional<PrivateKey> clientKey = std::nullopt,
                                       std::optional<Certificate> clientCertificate = std::nullopt,
                                       std::vector<std::string> alpn = {});

// Which end of the handshake a context is for.
enum class TLSSide { client, server };

// CertificateOptions checked and compiled into one OpenSSL context (SSL_CTX), shared by every
// connection made with it (Twisted's CertificateOptions.getContext). Immutable once made; hold
// it by shared_ptr, as the connections do. Construction throws CertificateError when the
// options are not usable: a server without certificate or key, a key that does not match its
// certificate, verify without CAs, an ALPN name of the wrong length, an unusable version range.
class TLSContext {
 public:
  TLSContext(const CertificateOptions& options, TLSSide side);
  ~TLSContext();
  TLSContext(const TLSContext&) = delete;
  TLSContext& operator=(const TLSContext&) = delete;

  static std::shared_ptr<const TLSContext> make(const CertificateOptions& options, TLSSide side) {
    return std::make_shared<const TLSContext>(options, side);
  }

  TLSSide side() const noexcept;
  const CertificateOptions& options() const noexcept;

 private:
  friend struct detail::OpenSSLAccess;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torsion::tls
