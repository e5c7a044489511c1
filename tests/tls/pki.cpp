#include "pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <stdexcept>

#include "torsion/tls/certificate.hpp"

namespace torsion::tls::test {

namespace {

struct Made {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  Made() = default;
  Made(const Made&) = delete;
  Made& operator=(const Made&) = delete;
  ~Made() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (self-signed when null).
void make(Made& out, const char* cn, const Made* issuer, bool ca, const char* san, long serial) {
  out.key = EVP_EC_gen("P-256");
  check(out.key != nullptr, "key");
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 2L * 24 * 3600);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("torsion tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(signer));
  if (ca) {
    addExtension(out.cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(out.cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(out.cert, signer, NID_basic_constraints, "critical,CA:FALSE");
  }
  addExtension(out.cert, signer, NID_subject_key_identifier, "hash");
  if (san != nullptr) addExtension(out.cert, signer, NID_subject_alt_name, san);
  check(X509_sign(out.cert, issuer != nullptr ? issuer->key : out.key, EVP_sha256()) > 0, "sign");
}

std::string pem(const Made& m, bool key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (key) {
    PEM_write_bio_PrivateKey(bio, m.key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_X509(bio, m.cert);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

KeyAndCert both(const Made& m) { return {pem(m, true), pem(m, false)}; }

PKI build() {
  Made ca, server, client, otherCA, otherServer;
  make(ca, "torsion test CA", nullptr, true, nullptr, 1);
  make(server, "localhost", &ca, false, "DNS:localhost,IP:127.0.0.1", 2);
  make(client, "client", &ca, false, nullptr, 3);
  make(otherCA, "some other CA", nullptr, true, nullptr, 4);
  make(otherServer, "localhost", &otherCA, false, "DNS:localhost,IP:127.0.0.1", 5);
  return PKI{both(ca), both(server), both(client), both(otherCA), both(otherServer)};
}

}  // namespace

const PKI& pki() {
  static const PKI p = build();
  return p;
}

CertificateOptions serverOptions(const KeyAndCert& kc) {
  CertificateOptions o;
  o.privateKey = PrivateKey::loadPEM(kc.keyPEM);
  o.certificate = Certificate::loadPEM(kc.certPEM);
  return o;
}

CertificateOptions clientOptions(const std::string& hostname) {
  return optionsForClientTLS(hostname,
                             TrustRoot::fromCertificates({Certificate::loadPEM(pki().ca.certPEM)}));
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "torsion-tls-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const auto file = path_ / name;
  std::ofstream(file, std::ios::binary) << content;
  return file.string();
}

}  // namespace torsion::tls::test
