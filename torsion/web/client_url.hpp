// URL: the parts of an absolute http(s) URL the client needs (Twisted's twisted.web.client.URI),
// and resolveURL, RFC 3986's reference resolution, for redirects.
//
// Only what can be sent is accepted: URL::parse throws InvalidURL for a URL without a
// "scheme://" prefix, with user information ("user:pass@host": say it in an Authorization
// header instead), with an empty or invalid host, with a port outside 1..65535, or with a
// path or query holding a byte that may not appear in a request-target (a control character,
// a space, a byte above 0x7E, or a "%" not followed by two hex digits): a caller's string can
// never split the request line. The fragment is dropped (it is never sent).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace torsion::web {

struct URL {
  // Lower case ("http").
  std::string scheme;
  // The host as written, without the brackets of an IPv6 literal, in lower case.
  std::string host;
  std::uint16_t port = 0;
  // The origin-form request-target: path and query, "/" when the URL has neither.
  std::string path;
  // The host is an IPv6 literal.
  bool ipv6 = false;

  // Parses an absolute URL; throws InvalidURL. The default port is 80 for http and ws, 443
  // for https and wss; another scheme must name its port.
  static URL parse(std::string_view url);

  // The default port of a scheme (80, 443), or 0 if it has none here.
  static std::uint16_t defaultPort(std::string_view scheme) noexcept;

  // What a Host field holds: "host", "host:port" when the port is not the scheme's default,
  // "[::1]:8080" for IPv6.
  std::string hostValue() const;
  // "host:port" always (brackets for IPv6): a CONNECT request's target.
  std::string authority() const;
  // scheme "://" hostValue path: the absolute-form target a forwarding proxy gets.
  std::string toString() const;
};

// Resolves `reference` (a Location value: absolute, "//host/path", "/path", "path", "?q")
// against the absolute URL `base`, as RFC 3986 §5.2 says, removing dot segments. The fragment
// of the reference is dropped. Returns the reference itself when it is absolute.
std::string resolveURL(std::string_view base, std::string_view reference);

}  // namespace torsion::web
