// Loading keys and certificates, and building contexts: what is refused, and how it is said.
#include "torsion/tls/certificate.hpp"

#include <gtest/gtest.h>

#include <string>

#include "pki.hpp"
#include "torsion/tls/errors.hpp"
#include "torsion/tls/options.hpp"

namespace torsion::tls::test {
namespace {

// Runs `f`, which must throw CertificateError; returns its message.
template <class F>
std::string certificateError(F&& f) {
  try {
    f();
  } catch (const CertificateError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CertificateError";
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Certificates, loadFromPEMTextAndFiles) {
  TempDir dir;
  const auto certFile = dir.write("cert.pem", pki().server.certPEM);
  const auto cert = Certificate::loadPEMFile(certFile);
  EXPECT_EQ(cert.commonName(), "localhost");
  EXPECT_EQ(cert.subject(), "CN=localhost,O=torsion tests");
  EXPECT_EQ(cert.issuer(), "CN=torsion test CA,O=torsion tests");
  EXPECT_EQ(cert.origin(), certFile);
  EXPECT_EQ(cert, Certificate::loadPEM(cert.dumpPEM()));
  EXPECT_EQ(cert.sha256Fingerprint().size(), 32u * 3 - 1);
  EXPECT_FALSE(cert == Certificate::loadPEM(pki().ca.certPEM));
  const auto key = PrivateKey::loadPEMFile(dir.write("key.pem", pki().server.keyPEM));
  EXPECT_TRUE(contains(key.dumpPEM(), "-----BEGIN PRIVATE KEY-----"));
}

TEST(Certificates, keyAndCertificateMayShareOneFile) {
  TempDir dir;
  const auto both = dir.write("server.pem", pki().server.keyPEM + pki().server.certPEM);
  CertificateOptions o;
  o.privateKey = PrivateKey::loadPEMFile(both);
  o.certificate = Certificate::loadPEMFile(both);
  EXPECT_NO_THROW(TLSContext(o, TLSSide::server));
}

TEST(Certificates, chainsLoadEveryCertificateInOrder) {
  const auto chain = Certificate::loadPEMChain(pki().server.certPEM + pki().ca.certPEM);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].commonName(), "localhost");
  EXPECT_EQ(chain[1].commonName(), "torsion test CA");
}

TEST(Certificates, loadingErrorsNameTheFileAndTheProblem) {
  TempDir dir;
  const auto missing = (dir.path() / "missing.pem").string();
  auto m = certificateError([&] { Certificate::loadPEMFile(missing); });
  EXPECT_TRUE(contains(m, "cannot read certificate file '" + missing + "'")) << m;
  EXPECT_TRUE(contains(m, "No such file or directory")) << m;
  m = certificateError([&] { PrivateKey::loadPEMFile(missing); });
  EXPECT_TRUE(contains(m, "cannot read private key file")) << m;

  const auto keyOnly = dir.write("key.pem", pki().server.keyPEM);
  m = certificateError([&] { Certificate::loadPEMFile(keyOnly); });
  EXPECT_TRUE(contains(m, keyOnly + ": no PEM certificate")) << m;
  const auto certOnly = dir.write("cert.pem", pki().server.certPEM);
  m = certificateError([&] { PrivateKey::loadPEMFile(certOnly); });
  EXPECT_TRUE(contains(m, certOnly + ": no PEM private key")) << m;

  std::string broken = pki().server.certPEM;
  broken.replace(broken.find('\n') + 10, 20, std::string(20, '!'));
  m = certificateError([&] { Certificate::loadPEM(broken, "broken.pem"); });
  EXPECT_TRUE(contains(m, "broken.pem: malformed certificate")) << m;

  const std::string encrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
  m = certificateError([&] { PrivateKey::loadPEM(encrypted, "locked.pem"); });
  EXPECT_TRUE(contains(m, "locked.pem: the private key is encrypted")) << m;

  m = certificateError([&] { loadCertificatesFromDirectory(missing); });
  EXPECT_TRUE(contains(m, "cannot read CA certificate directory")) << m;
}

TEST(Certificates, directoriesOfCAsSkipFilesWithoutCertificates) {
  TempDir dir;
  dir.write("a.pem", pki().ca.certPEM);
  dir.write("README", "not a certificate");
  dir.write("b.crt", pki().otherCA.certPEM);
  const auto cas = loadCertificatesFromDirectory(dir.path().string());
  ASSERT_EQ(cas.size(), 2u);
  EXPECT_EQ(cas[0].commonName(), "torsion test CA");
  TempDir empty;
  empty.write("README", "nothing here");
  const auto m = certificateError([&] { loadCertificatesFromDirectory(empty.path().string()); });
  EXPECT_TRUE(contains(m, "holds no PEM certificate")) << m;
}

TEST(TLSContexts, refuseOptionsThatCannotWork) {
  TempDir dir;
  const auto key = dir.write("key.pem", pki().otherServer.keyPEM);
  const auto cert = dir.write("cert.pem", pki().server.certPEM);
  CertificateOptions mismatched;
  mismatched.privateKey = PrivateKey::loadPEMFile(key);
  mismatched.certificate = Certificate::loadPEMFile(cert);
  auto m = certificateError([&] { TLSContext(mismatched, TLSSide::server); });
  EXPECT_TRUE(contains(
      m, "the private key from '" + key + "' does not match the certificate from '" + cert + "'"))
      << m;

  m = certificateError([&] { TLSContext(CertificateOptions{}, TLSSide::server); });
  EXPECT_TRUE(contains(m, "a TLS server needs a certificate and its private key")) << m;

  CertificateOptions keyOnly;
  keyOnly.privateKey = PrivateKey::loadPEM(pki().client.keyPEM);
  m = certificateError([&] { TLSContext(keyOnly, TLSSide::client); });
  EXPECT_TRUE(contains(m, "private key was given without its certificate")) << m;

  CertificateOptions verifyNothing;
  verifyNothing.verify = true;
  m = certificateError([&] { TLSContext(verifyNothing, TLSSide::client); });
  EXPECT_TRUE(contains(m, "no CA certificates")) << m;

  CertificateOptions badAlpn;
  badAlpn.acceptableProtocols = {""};
  m = certificateError([&] { TLSContext(badAlpn, TLSSide::client); });
  EXPECT_TRUE(contains(m, "ALPN protocol name")) << m;

  CertificateOptions backwards;
  backwards.minimumVersion = TLSVersion::TLSv1_3;
  backwards.maximumVersion = TLSVersion::TLSv1_2;
  m = certificateError([&] { TLSContext(backwards, TLSSide::client); });
  EXPECT_TRUE(contains(m, "maximumVersion is older than minimumVersion")) << m;
}

TEST(TLSContexts, defaultsToTLS12AndPlatformTrustForClients) {
  const CertificateOptions defaults;
  EXPECT_EQ(defaults.minimumVersion, TLSVersion::TLSv1_2);
  const auto client = optionsForClientTLS("example.com");
  EXPECT_TRUE(client.verify);
  ASSERT_TRUE(client.trustRoot.has_value());
  EXPECT_TRUE(client.trustRoot->isPlatform());
  EXPECT_EQ(client.hostname, "example.com");
  EXPECT_NO_THROW(TLSContext(client, TLSSide::client));
}

}  // namespace
}  // namespace torsion::tls::test
