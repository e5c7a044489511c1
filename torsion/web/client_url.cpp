#include "torsion/web/client_url.hpp"

#include <arpa/inet.h>

#include <optional>

#include "torsion/web/client_errors.hpp"
#include "torsion/web/http_chars.hpp"
#include "torsion/web/http_syntax.hpp"

namespace torsion::web {

namespace {

bool isSchemeChar(unsigned char c, bool first) {
  if (chars::isAlpha(c)) return true;
  if (first) return false;
  return chars::isDigit(c) || c == '+' || c == '-' || c == '.';
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(chars::lower(static_cast<unsigned char>(c)));
  return out;
}

// The length of the scheme at the start of `s` when it is followed by ':', else 0.
std::size_t schemeLength(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && isSchemeChar(static_cast<unsigned char>(s[i]), i == 0)) ++i;
  return (i > 0 && i < s.size() && s[i] == ':') ? i : 0;
}

// reg-name = *( unreserved / pct-encoded / sub-delims ).
bool validRegName(std::string_view host) {
  for (std::size_t i = 0; i < host.size(); ++i) {
    const auto c = static_cast<unsigned char>(host[i]);
    if (c == '%') {
      if (i + 2 >= host.size() || chars::hexValue(static_cast<unsigned char>(host[i + 1])) < 0 ||
          chars::hexValue(static_cast<unsigned char>(host[i + 2])) < 0) {
        return false;
      }
      i += 2;
      continue;
    }
    if (!chars::kAuthority[c] || c == ':' || c == '[' || c == ']') return false;
  }
  return !host.empty();
}

// A reference split into RFC 3986's five parts (§3); absent parts are nullopt.
struct Parts {
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

Parts split(std::string_view s) {
  Parts p;
  const std::size_t hash = s.find('#');
  if (hash != std::string_view::npos) s = s.substr(0, hash);
  if (const std::size_t n = schemeLength(s); n > 0) {
    p.scheme = s.substr(0, n);
    s.remove_prefix(n + 1);
  }
  if (s.substr(0, 2) == "//") {
    s.remove_prefix(2);
    const std::size_t end = s.find_first_of("/?");
    p.authority = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  const std::size_t q = s.find('?');
  p.path = s.substr(0, q);
  if (q != std::string_view::npos) p.query = s.substr(q + 1);
  return p;
}

// RFC 3986 §5.2.4.
std::string removeDotSegments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const std::size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const std::size_t next = in.find('/', 1);
      out.append(in.substr(0, next));
      in = next == std::string_view::npos ? std::string_view() : in.substr(next);
    }
  }
  return out;
}

// Spaces and bytes above 0x7E, which servers do put in Location values, percent-encoded as a
// browser would; everything else as it is (URL::parse judges it).
std::string encodeLoose(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c >= 0x7F) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace

std::uint16_t URL::defaultPort(std::string_view scheme) noexcept {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  return 0;
}

URL URL::parse(std::string_view url) {
  URL u;
  const std::size_t n = schemeLength(url);
  if (n == 0 || url.substr(n, 3) != "://") {
    throw InvalidURL("not an absolute URL (scheme://host/path): " + std::string(url));
  }
  u.scheme = lowered(url.substr(0, n));
  std::string_view rest = url.substr(n + 3);
  const std::size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  const std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  const std::string_view target =
      end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    throw InvalidURL("user information in a URL is not supported (use an Authorization header)");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw InvalidURL("unclosed IPv6 literal in URL");
    const std::string host(authority.substr(1, close - 1));
    in6_addr addr{};
    if (inet_pton(AF_INET6, host.c_str(), &addr) != 1) {
      throw InvalidURL("invalid IPv6 literal in URL: " + host);
    }
    u.host = lowered(host);
    u.ipv6 = true;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw InvalidURL("invalid authority in URL");
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    const std::string_view host = authority.substr(0, colon);
    if (!validRegName(host)) throw InvalidURL("invalid or empty host in URL: " + std::string(url));
    u.host = lowered(host);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (port.empty()) {
    u.port = defaultPort(u.scheme);
    if (u.port == 0) throw InvalidURL("no port in URL and no default for " + u.scheme);
  } else {
    unsigned long value = 0;
    for (char c : port) {
      if (!chars::isDigit(static_cast<unsigned char>(c)) || value > 65535) {
        throw InvalidURL("invalid port in URL: " + std::string(port));
      }
      value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value == 0 || value > 65535) throw InvalidURL("invalid port in URL: " + std::string(port));
    u.port = static_cast<std::uint16_t>(value);
  }
  if (!isTargetBytes(target)) {
    throw InvalidURL("the URL's path or query holds bytes that cannot be sent: " +
                     std::string(url));
  }
  if (target.empty() || target.front() == '?') {
    u.path = "/";
    u.path.append(target);
  } else {
    u.path = std::string(target);
  }
  return u;
}

std::string URL::hostValue() const {
  std::string out = ipv6 ? "[" + host + "]" : host;
  if (port != defaultPort(scheme)) out += ":" + std::to_string(port);
  return out;
}

std::string URL::authority() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string URL::toString() const { return scheme + "://" + hostValue() + path; }

std::string resolveURL(std::string_view base, std::string_view reference) {
  const Parts r = split(reference);
  const Parts b = split(base);
  std::string out;
  auto finish = [&](std::string_view scheme, std::optional<std::string_view> authority,
                    const std::string& path, std::optional<std::string_view> query) {
    out.append(scheme);
    out.push_back(':');
    if (authority) {
      out.append("//");
      out.append(*authority);
    }
    out.append(path);
    if (query) {
      out.push_back('?');
      out.append(*query);
    }
    return encodeLoose(out);
  };
  if (r.scheme) return finish(*r.scheme, r.authority, removeDotSegments(r.path), r.query);
  const std::string_view scheme = b.scheme.value_or("http");
  if (r.authority) return finish(scheme, r.authority, removeDotSegments(r.path), r.query);
  if (r.path.empty())
    return finish(scheme, b.authority, std::string(b.path), r.query ? r.query : b.query);
  if (r.path.front() == '/') return finish(scheme, b.authority, removeDotSegments(r.path), r.query);
  std::string merged;
  if (b.authority && b.path.empty()) {
    merged = "/";
  } else {
    const std::size_t slash = b.path.rfind('/');
    if (slash != std::string_view::npos) merged = std::string(b.path.substr(0, slash + 1));
  }
  merged.append(r.path);
  return finish(scheme, b.authority, removeDotSegments(merged), r.query);
}

}  // namespace torsion::web
