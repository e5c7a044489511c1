// URL parsing for the client and RFC 3986 reference resolution for redirects.
#include "torsion/web/client_url.hpp"

#include <gtest/gtest.h>

#include <string>

#include "torsion/web/client_errors.hpp"

namespace torsion::web {
namespace {

TEST(ClientURL, parsesSchemeHostPortAndTarget) {
  const URL u = URL::parse("http://example.com:8080/a/b?c=d#frag");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/a/b?c=d");
  EXPECT_FALSE(u.ipv6);
  EXPECT_EQ(u.hostValue(), "example.com:8080");
  EXPECT_EQ(u.authority(), "example.com:8080");
  EXPECT_EQ(u.toString(), "http://example.com:8080/a/b?c=d");
}

TEST(ClientURL, defaultsPortAndPathAndLowersSchemeAndHost) {
  const URL u = URL::parse("HTTP://Example.COM");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.path, "/");
  EXPECT_EQ(u.hostValue(), "example.com");
  EXPECT_EQ(u.authority(), "example.com:80");
  EXPECT_EQ(URL::parse("http://h?q=1").path, "/?q=1");
  EXPECT_EQ(URL::parse("https://h/").port, 443);
  EXPECT_EQ(URL::parse("http://h:/x").port, 80);  // an empty port is the default (RFC 3986)
}

TEST(ClientURL, ipv6LiteralsKeepTheirBracketsOnTheWireOnly) {
  const URL u = URL::parse("http://[::1]:8080/x");
  EXPECT_TRUE(u.ipv6);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.hostValue(), "[::1]:8080");
  EXPECT_EQ(u.authority(), "[::1]:8080");
  EXPECT_EQ(URL::parse("http://[2001:DB8::1]/").hostValue(), "[2001:db8::1]");
}

TEST(ClientURL, refusesWhatCannotBeSent) {
  for (const char* bad : {
           "example.com/x",          // no scheme
           "http:/x",                // no authority
           "http://",                // empty host
           "http://user:pw@host/",   // user information
           "http://host:0/",         // port 0
           "http://host:65536/",     // port too large
           "http://host:8o/",        // not a number
           "http://[::1/",           // unclosed literal
           "http://[zz::1]/",        // invalid IPv6
           "http://ho st/",          // space in host
           "http://host/a b",        // space in path
           "http://host/a\r\nX: y",  // CR LF in path
           "http://host/a\x7f",      // DEL
           "http://host/%zz",        // bad percent escape
           "http://host/\xc3\xa9",   // raw UTF-8 (must be percent-encoded)
           "ftp://host/",            // no default port for ftp
       }) {
    EXPECT_THROW(URL::parse(bad), InvalidURL) << bad;
  }
}

// RFC 3986 §5.4's examples against its base URI.
TEST(ClientURL, resolvesReferencesAsRfc3986) {
  const std::string base = "http://a/b/c/d;p?q";
  const std::pair<const char*, const char*> cases[] = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},
      {"g#s", "http://a/b/c/g"},
      {";x", "http://a/b/c/;x"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
      // abnormal examples (§5.4.2)
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
  };
  for (const auto& [ref, want] : cases) EXPECT_EQ(resolveURL(base, ref), want) << ref;
}

TEST(ClientURL, resolvedLocationsArePercentEncodedAsBrowsersDo) {
  EXPECT_EQ(resolveURL("http://h/a", "/caf\xc3\xa9 menu"), "http://h/caf%C3%A9%20menu");
  EXPECT_EQ(resolveURL("http://h", "x"), "http://h/x");
  EXPECT_EQ(resolveURL("http://h/a", "https://other:8443/p?q"), "https://other:8443/p?q");
}

}  // namespace
}  // namespace torsion::web
