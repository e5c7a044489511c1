#include "torsion/tls/certificate.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include "torsion/tls/errors.hpp"
#include "torsion/tls/openssl_internal.hpp"

namespace torsion::tls {

struct Certificate::Impl {
  detail::X509Ptr x509;
  std::string origin;
};

struct PrivateKey::Impl {
  detail::EVPKeyPtr key;
  std::string origin;
};

namespace detail {

std::string takeErrors(std::string_view fallback) {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string(fallback) : out;
}

X509* OpenSSLAccess::x509(const Certificate& c) { return c.impl_->x509.get(); }
EVP_PKEY* OpenSSLAccess::key(const PrivateKey& k) { return k.impl_->key.get(); }
Certificate OpenSSLAccess::certificate(X509Ptr x, std::string origin) {
  auto impl = std::make_shared<Certificate::Impl>();
  impl->x509 = std::move(x);
  impl->origin = std::move(origin);
  return Certificate(std::move(impl));
}

}  // namespace detail

namespace {

// Never prompts: an encrypted key fails to load instead of reading a terminal.
int noPassphrase(char*, int, int, void*) { return -1; }

std::string readFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw CertificateError(
        fmt::format("cannot read {} file '{}': {}", what, path, std::strerror(errno)), path);
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    throw CertificateError(fmt::format("cannot read {} file '{}': read error", what, path), path);
  }
  return content.str();
}

detail::BIOPtr memoryBIO(std::string_view pem, std::string_view origin) {
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) {
    throw CertificateError(fmt::format("{}: too large for PEM data", origin), std::string(origin));
  }
  detail::BIOPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw CertificateError("out of memory reading PEM data", std::string(origin));
  return bio;
}

bool hasPEMBlock(std::string_view pem, std::string_view label) {
  return pem.find(fmt::format("-----BEGIN {}-----", label)) != std::string_view::npos;
}

// Why `pem` (from `origin`) gave no certificate, as a CertificateError.
[[noreturn]] void throwBadCertificate(std::string_view pem, std::string_view origin) {
  const std::string why =
      !hasPEMBlock(pem, "CERTIFICATE")
          ? std::string("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
          : "malformed certificate: " + detail::takeErrors();
  ERR_clear_error();
  throw CertificateError(fmt::format("{}: {}", origin, why), std::string(origin));
}

}  // namespace

std::string detail::nameText(X509_NAME* name) {
  if (name == nullptr) return {};
  detail::BIOPtr out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

int detail::verifyNoteIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int detail::noteRefusedCertificate(int ok, X509_STORE_CTX* store) {
  if (ok != 0) return ok;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* note =
      ssl != nullptr ? static_cast<std::string*>(SSL_get_ex_data(ssl, verifyNoteIndex())) : nullptr;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (note != nullptr && note->empty() && cert != nullptr) {
    *note = "subject " + nameText(X509_get_subject_name(cert)) + ", issuer " +
            nameText(X509_get_issuer_name(cert));
  }
  return ok;
}

// ---- Certificate ----------------------------------------------------------------------------

std::vector<Certificate> Certificate::loadPEMChain(std::string_view pem, std::string_view origin) {
  ERR_clear_error();
  auto bio = memoryBIO(pem, origin);
  std::vector<Certificate> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr)) {
    out.push_back(detail::OpenSSLAccess::certificate(detail::X509Ptr(x), std::string(origin)));
  }
  // The loop ends with "no start line" at the end of the text: only an error if nothing came,
  // or if a certificate block was malformed.
  const unsigned long last = ERR_peek_last_error();
  const bool endOfText =
      ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (out.empty() || (last != 0 && !endOfText)) {
    throwBadCertificate(pem, origin);
  }
  ERR_clear_error();
  return out;
}

Certificate Certificate::loadPEM(std::string_view pem, std::string_view origin) {
  ERR_clear_error();
  auto bio = memoryBIO(pem, origin);
  detail::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
  if (!x) {
    throwBadCertificate(pem, origin);
  }
  return detail::OpenSSLAccess::certificate(std::move(x), std::string(origin));
}

Certificate Certificate::loadPEMFile(const std::string& path) {
  return loadPEM(readFile(path, "certificate"), path);
}

std::vector<Certificate> Certificate::loadPEMChainFile(const std::string& path) {
  return loadPEMChain(readFile(path, "certificate"), path);
}

std::string Certificate::dumpPEM() const {
  detail::BIOPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), impl_->x509.get());
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string Certificate::subject() const {
  return detail::nameText(X509_get_subject_name(impl_->x509.get()));
}

std::string Certificate::issuer() const {
  return detail::nameText(X509_get_issuer_name(impl_->x509.get()));
}

std::string Certificate::commonName() const {
  X509_NAME* name = X509_get_subject_name(impl_->x509.get());
  const int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, value);
  if (n < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::string Certificate::sha256Fingerprint() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(impl_->x509.get(), EVP_sha256(), md, &n);
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    if (i != 0) out += ':';
    out += fmt::format("{:02X}", md[i]);
  }
  return out;
}

const std::string& Certificate::origin() const noexcept { return impl_->origin; }

bool operator==(const Certificate& a, const Certificate& b) {
  return X509_cmp(a.impl_->x509.get(), b.impl_->x509.get()) == 0;
}

// ---- PrivateKey -----------------------------------------------------------------------------

PrivateKey PrivateKey::loadPEM(std::string_view pem, std::string_view origin) {
  ERR_clear_error();
  auto bio = memoryBIO(pem, origin);
  detail::EVPKeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
  if (!key) {
    std::string why;
    if (hasPEMBlock(pem, "ENCRYPTED PRIVATE KEY") ||
        pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
      why =
          "the private key is encrypted (passphrases are not supported: decrypt it with "
          "`openssl pkey`)";
    } else if (pem.find("PRIVATE KEY-----") == std::string_view::npos) {
      why = "no PEM private key (-----BEGIN PRIVATE KEY-----) found";
    } else {
      why = "malformed private key: " + detail::takeErrors();
    }
    ERR_clear_error();
    throw CertificateError(fmt::format("{}: {}", origin, why), std::string(origin));
  }
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  impl->origin = std::string(origin);
  return PrivateKey(std::move(impl));
}

PrivateKey PrivateKey::loadPEMFile(const std::string& path) {
  return loadPEM(readFile(path, "private key"), path);
}

std::string PrivateKey::dumpPEM() const {
  detail::BIOPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(out.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

const std::string& PrivateKey::origin() const noexcept { return impl_->origin; }

// ---- directories ----------------------------------------------------------------------------

std::vector<Certificate> loadCertificatesFromDirectory(const std::string& directory) {
  DIR* dir = opendir(directory.c_str());
  if (dir == nullptr) {
    throw CertificateError(fmt::format("cannot read CA certificate directory '{}': {}", directory,
                                       std::strerror(errno)),
                           directory);
  }
  std::vector<std::string> names;
  while (const dirent* entry = readdir(dir)) {
    names.emplace_back(entry->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());  // a stable order, whatever readdir's
  std::vector<Certificate> out;
  for (const auto& name : names) {
    const std::string path = directory + "/" + name;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string text;
    try {
      text = readFile(path, "certificate");
    } catch (const CertificateError&) {
      continue;  // unreadable files are skipped, as Twisted's _loadCAsFromDir does
    }
    if (!hasPEMBlock(text, "CERTIFICATE")) continue;
    try {
      auto chain = Certificate::loadPEMChain(text, path);
      out.insert(out.end(), chain.begin(), chain.end());
    } catch (const CertificateError&) {
      continue;
    }
  }
  if (out.empty()) {
    throw CertificateError(
        fmt::format("CA certificate directory '{}' holds no PEM certificate", directory),
        directory);
  }
  return out;
}

}  // namespace torsion::tls
