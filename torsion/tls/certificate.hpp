// Certificates and private keys (Twisted's ssl.Certificate, KeyPair and the PEM loaders of
// PrivateCertificate), as immutable values that are cheap to copy (they share the parsed
// OpenSSL object). OpenSSL's types stay out of this header.
//
// Loading checks what it can at once and throws CertificateError naming the file (or
// "PEM data") and the problem: the file cannot be read, holds no PEM block of the kind asked
// for, or the block does not parse. Encrypted private keys are refused (no passphrase
// prompt: a daemon has no terminal).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torsion::tls {

namespace detail {
struct OpenSSLAccess;
}

// An X.509 certificate.
class Certificate {
 public:
  // The first certificate of `pem` ("-----BEGIN CERTIFICATE-----"; other blocks, such as a
  // private key in the same text, are skipped). `origin` names the text in error messages.
  static Certificate loadPEM(std::string_view pem, std::string_view origin = "PEM data");
  // The first certificate of the file at `path`.
  static Certificate loadPEMFile(const std::string& path);
  // Every certificate of `pem`, in order (a chain or a bundle of CAs); at least one.
  static std::vector<Certificate> loadPEMChain(std::string_view pem,
                                               std::string_view origin = "PEM data");
  static std::vector<Certificate> loadPEMChainFile(const std::string& path);

  // The certificate in PEM form.
  std::string dumpPEM() const;
  // The subject and issuer as one line, in RFC 2253 order ("CN=localhost,O=Example").
  std::string subject() const;
  std::string issuer() const;
  // The subject's common name ("" when it has none).
  std::string commonName() const;
  // The SHA-256 digest of the DER encoding, as upper-case hex pairs joined by ':'.
  std::string sha256Fingerprint() const;
  // Where it was loaded from (a path, "PEM data", or "peer certificate").
  const std::string& origin() const noexcept;

  friend bool operator==(const Certificate& a, const Certificate& b);

 private:
  friend struct detail::OpenSSLAccess;
  struct Impl;
  explicit Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// A private key (RSA, EC, Ed25519...).
class PrivateKey {
 public:
  // The first private key of `pem` ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY";
  // other blocks are skipped).
  static PrivateKey loadPEM(std::string_view pem, std::string_view origin = "PEM data");
  static PrivateKey loadPEMFile(const std::string& path);

  // The key in PKCS#8 PEM form (unencrypted).
  std::string dumpPEM() const;
  const std::string& origin() const noexcept;

 private:
  friend struct detail::OpenSSLAccess;
  struct Impl;
  explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Every certificate of every regular file in `directory` that holds PEM certificates (files
// that hold none are skipped, as Twisted's caCertsDir loading does). Throws CertificateError
// when the directory cannot be read or holds no certificate at all.
std::vector<Certificate> loadCertificatesFromDirectory(const std::string& directory);

}  // namespace torsion::tls
