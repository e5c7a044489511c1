// Internal to torsion/tls: what its .cpp files share about OpenSSL. Not part of the API (it
// is the one torsion/tls header that includes OpenSSL's).
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "torsion/tls/certificate.hpp"
#include "torsion/tls/options.hpp"

namespace torsion::tls::detail {

struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct EVPKeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct BIOFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EVPKeyPtr = std::unique_ptr<EVP_PKEY, EVPKeyFree>;
using BIOPtr = std::unique_ptr<BIO, BIOFree>;

// Empties this thread's OpenSSL error queue into one line ("error:0A00010B:SSL
// routines::wrong version number; ..."), or returns `fallback` when it is empty.
std::string takeErrors(std::string_view fallback = "no detail from OpenSSL");

// The SSL ex_data slot where a connection keeps a std::string for the verify callback to
// describe the first certificate it refused ("subject ..., issuer ...").
int verifyNoteIndex();
// The verify callback of every context: OpenSSL decides; it only takes the note.
int noteRefusedCertificate(int ok, X509_STORE_CTX* store);
// "CN=...,O=..." of an X.509 name.
std::string nameText(X509_NAME* name);

struct OpenSSLAccess {
  static X509* x509(const Certificate& c);
  static EVP_PKEY* key(const PrivateKey& k);
  // Takes ownership of `x`.
  static Certificate certificate(X509Ptr x, std::string origin);
  static SSL_CTX* context(const TLSContext& c);
};

}  // namespace torsion::tls::detail
