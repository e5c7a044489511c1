// A test PKI made at run time with OpenSSL (no key files in the repository): a CA, a server
// certificate it signed (localhost, 127.0.0.1), a client certificate it signed, and a second,
// untrusted CA with a server certificate of its own.
#pragma once

#include <filesystem>
#include <string>

#include "torsion/tls/options.hpp"

namespace torsion::tls::test {

struct KeyAndCert {
  std::string keyPEM;
  std::string certPEM;
};

struct PKI {
  KeyAndCert ca;
  KeyAndCert server;  // CN=localhost, SAN DNS:localhost, IP:127.0.0.1; signed by ca
  KeyAndCert client;  // CN=client; signed by ca
  KeyAndCert otherCA;
  KeyAndCert otherServer;  // like server, signed by otherCA
};

// Made once per process.
const PKI& pki();

// Server options with `kc` (key and certificate from PEM text).
CertificateOptions serverOptions(const KeyAndCert& kc);
// optionsForClientTLS(hostname) trusting pki().ca only.
CertificateOptions clientOptions(const std::string& hostname = "localhost");

// A fresh directory under the system's temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace torsion::tls::test
