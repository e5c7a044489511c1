// Error types of torsion/tls (Twisted raises pyOpenSSL's SSL.Error for all of these; torsion
// separates what a caller may want to tell apart).
//
//   CertificateError       loading a key or certificate failed, or they do not fit together
//                          (thrown by Certificate/PrivateKey loading and by TLSContext)
//   TLSError               a TLS connection failed: handshake, bad record, unexpected end;
//                          delivered to the wrapped protocol's connectionLost as a Failure
//   CertificateVerifyError the peer's certificate was refused (untrusted, expired, wrong host
//                          name): a TLSError a caller can trap on its own
#pragma once

#include <string>
#include <utility>

#include "torsion/core/errors.hpp"

namespace torsion::tls {

// A key or certificate could not be loaded or used. what() names the file (or "PEM data" for
// text given directly) and what is wrong with it; origin() is that file name alone.
class CertificateError : public Error {
 public:
  CertificateError(const std::string& message, std::string origin)
      : Error(message), origin_(std::move(origin)) {}
  const std::string& origin() const noexcept { return origin_; }

 private:
  std::string origin_;
};

// A TLS connection failed. what() holds OpenSSL's own explanation (its error queue) after a
// short note of when it happened ("TLS handshake failed: ...").
class TLSError : public Error {
 public:
  using Error::Error;
};

// The peer's certificate failed verification: what() says why in OpenSSL's words
// ("certificate verify failed: Hostname mismatch ..."); verifyResult() is OpenSSL's
// X509_V_ERR_* code.
class CertificateVerifyError : public TLSError {
 public:
  CertificateVerifyError(const std::string& message, long verifyResult)
      : TLSError(message), verifyResult_(verifyResult) {}
  long verifyResult() const noexcept { return verifyResult_; }

 private:
  long verifyResult_;
};

}  // namespace torsion::tls
