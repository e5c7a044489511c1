#include "torsion/net/endpoint_parser.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>

#include "torsion/net/address.hpp"

namespace torsion {

namespace {

[[noreturn]] void bad(const std::string& message, std::string_view part) {
  throw EndpointStringError(message, std::string(part));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Printable form of a piece of the description for messages (NULs and control bytes escaped).
std::string shown(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// A string of decimal digits no greater than `max`, or nullopt.
std::optional<unsigned long long> digits(std::string_view s, unsigned long long max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  unsigned long long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---- binding arguments to a type's parameters -------------------------------------------------

struct Signature {
  std::string_view what;                     // "tcp server", for messages
  std::span<const std::string_view> params;  // in positional order
  std::size_t maxPositional;                 // how many may be given positionally
  bool positionalSkipsNamed;                 // tcp client: tcp:host=H:80 is port 80
};

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// The value given for each parameter (by position or by name), in `sig.params` order.
std::vector<std::optional<std::string>> bind(const EndpointDescription& d, const Signature& sig) {
  std::vector<std::optional<std::string>> values(sig.params.size());
  for (const auto& [key, value] : d.kwargs) {
    const auto it = std::find(sig.params.begin(), sig.params.end(), key);
    if (it == sig.params.end()) {
      bad(fmt::format("unknown parameter '{}' for a {} endpoint (known: {})", shown(key), sig.what,
                      joined(sig.params)),
          key);
    }
    values[static_cast<std::size_t>(it - sig.params.begin())] = value;
  }
  std::size_t slot = 0;
  for (const auto& arg : d.args) {
    if (sig.positionalSkipsNamed) {
      while (slot < sig.maxPositional && values[slot]) ++slot;
    }
    if (slot >= sig.maxPositional) {
      bad(fmt::format("too many arguments for a {} endpoint: '{}' (positional parameters: {})",
                      sig.what, shown(arg), joined(sig.params.first(sig.maxPositional))),
          arg);
    }
    if (values[slot]) {
      bad(fmt::format("parameter '{}' given twice (positionally and by name)", sig.params[slot]),
          sig.params[slot]);
    }
    values[slot++] = arg;
  }
  return values;
}

const std::string& required(const std::optional<std::string>& v, std::string_view name,
                            std::string_view what) {
  if (!v) bad(fmt::format("missing required parameter '{}' for a {} endpoint", name, what), name);
  return *v;
}

std::uint16_t port(const std::string& s, unsigned long long min) {
  if (!allDigits(s)) bad(fmt::format("bad port number '{}': not a number", shown(s)), s);
  const auto v = digits(s, 65535);
  if (!v || *v < min) {
    bad(fmt::format("bad port number '{}': out of range ({}-65535)", shown(s), min), s);
  }
  return static_cast<std::uint16_t>(*v);
}

int nonNegativeInt(const std::string& s, std::string_view name) {
  const auto v = digits(s, 0x7fffffff);
  if (!v) bad(fmt::format("bad {} '{}': not a non-negative integer", name, shown(s)), s);
  return static_cast<int>(*v);
}

bool flag(const std::string& s, std::string_view name) {
  if (s == "0") return false;
  if (s == "1") return true;
  bad(fmt::format("bad {} '{}': must be 0 or 1", name, shown(s)), s);
}

Seconds seconds(const std::string& s, std::string_view name) {
  // digits, optionally a '.' and more digits: no sign, exponent, inf or nan.
  const auto dot = s.find('.');
  const bool wellFormed =
      allDigits(std::string_view(s).substr(0, dot)) &&
      (dot == std::string::npos || allDigits(std::string_view(s).substr(dot + 1)));
  double v = 0;
  if (wellFormed) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) v = -1;
  }
  if (!wellFormed || v < 0 || v > 1e9) {
    bad(fmt::format("bad {} '{}': not a number of seconds", name, shown(s)), s);
  }
  return Seconds(v);
}

std::string unixPath(const std::string& s, std::string_view name) {
  if (s.empty()) bad(fmt::format("empty Unix socket {}", name), s);
  constexpr std::size_t kMax = sizeof(sockaddr_un{}.sun_path) - 1;
  if (s.size() > kMax) {
    bad(fmt::format("Unix socket {} too long ({} bytes, at most {})", name, s.size(), kMax), s);
  }
  return s;
}

// ---- the types ---------------------------------------------------------------------------------

constexpr std::array<std::string_view, 3> kTCPServerParams{"port", "interface", "backlog"};
constexpr std::array<std::string_view, 3> kTCP6ServerParams{"port", "backlog", "interface"};
constexpr std::array<std::string_view, 4> kUNIXServerParams{"address", "mode", "backlog",
                                                            "lockfile"};
constexpr std::array<std::string_view, 2> kSystemdParams{"domain", "index"};
constexpr std::array<std::string_view, 4> kTCPClientParams{"host", "port", "timeout",
                                                           "bindAddress"};
constexpr std::array<std::string_view, 4> kUNIXClientParams{"path", "timeout", "checkPID",
                                                            "lockfile"};
constexpr std::array<std::string_view, 6> kSSLServerParams{
    "port", "privateKey", "certKey", "extraCertChain", "interface", "backlog"};
constexpr std::array<std::string_view, 8> kSSLClientParams{
    "host", "port", "timeout", "bindAddress", "caCertsDir", "certKey", "privateKey", "hostname"};
constexpr std::array<std::string_view, 7> kTLSClientParams{
    "host", "port", "timeout", "bindAddress", "certificate", "privateKey", "trustRoots"};

// A file or directory name: present and not empty (the file itself is read later).
std::string fileName(const std::optional<std::string>& v, std::string_view name) {
  if (!v) return {};
  if (v->empty()) bad(fmt::format("empty {}: a file name is needed", name), name);
  return *v;
}

std::string bindAddress(const std::string& s) {
  try {
    (void)Address::ip(s, 0);
  } catch (const std::invalid_argument&) {
    bad(fmt::format("bad bindAddress '{}': not a numeric IP address", shown(s)), s);
  }
  return s;
}

TCPServerDescription tcpServer(const EndpointDescription& d, bool ipv6) {
  const auto& params = ipv6 ? std::span<const std::string_view>(kTCP6ServerParams)
                            : std::span<const std::string_view>(kTCPServerParams);
  const Signature sig{ipv6 ? "tcp6 server" : "tcp server", params, params.size(), false};
  const auto v = bind(d, sig);
  TCPServerDescription out;
  out.ipv6 = ipv6;
  out.port = port(required(v[0], "port", sig.what), 0);
  const std::size_t interface = ipv6 ? 2 : 1;
  const std::size_t backlog = ipv6 ? 1 : 2;
  out.interface = v[interface] ? *v[interface] : (ipv6 ? "::" : "");
  if (v[backlog]) out.backlog = nonNegativeInt(*v[backlog], "backlog");
  return out;
}

UNIXServerDescription unixServer(const EndpointDescription& d) {
  const Signature sig{"unix server", kUNIXServerParams, kUNIXServerParams.size(), false};
  const auto v = bind(d, sig);
  UNIXServerDescription out;
  out.address = unixPath(required(v[0], "address", sig.what), "address");
  if (v[1]) {
    const auto& m = *v[1];
    const bool octal = !m.empty() && m.size() <= 5 &&
                       std::all_of(m.begin(), m.end(), [](char c) { return c >= '0' && c <= '7'; });
    unsigned mode = 0;
    if (octal) std::from_chars(m.data(), m.data() + m.size(), mode, 8);
    if (!octal || mode > 07777) {
      bad(fmt::format("bad mode '{}': not an octal permission (0-7777)", shown(m)), m);
    }
    out.mode = mode;
  }
  if (v[2]) out.backlog = nonNegativeInt(*v[2], "backlog");
  if (v[3]) out.lockfile = flag(*v[3], "lockfile");
  return out;
}

SystemdServerDescription systemdServer(const EndpointDescription& d) {
  const Signature sig{"systemd server", kSystemdParams, kSystemdParams.size(), false};
  const auto v = bind(d, sig);
  SystemdServerDescription out;
  const auto& domain = required(v[0], "domain", sig.what);
  if (domain == "INET") {
    out.family = AF_INET;
  } else if (domain == "INET6") {
    out.family = AF_INET6;
  } else if (domain == "UNIX") {
    out.family = AF_UNIX;
  } else {
    bad(fmt::format("bad domain '{}': must be INET, INET6 or UNIX", shown(domain)), domain);
  }
  out.index = nonNegativeInt(required(v[1], "index", sig.what), "index");
  return out;
}

TCPClientDescription tcpClient(const EndpointDescription& d, bool ipv6) {
  const Signature sig{ipv6 ? "tcp6 client" : "tcp client", kTCPClientParams, 2, true};
  const auto v = bind(d, sig);
  TCPClientDescription out;
  out.ipv6 = ipv6;
  out.host = required(v[0], "host", sig.what);
  if (out.host.empty()) bad("empty host", out.host);
  out.port = port(required(v[1], "port", sig.what), 1);
  if (v[2]) out.timeout = seconds(*v[2], "timeout");
  if (v[3]) out.bindAddress = bindAddress(*v[3]);
  return out;
}

SSLServerDescription sslServer(const EndpointDescription& d) {
  // Positionally only what Twisted's _parseSSL takes first (its fourth is sslmethod).
  const Signature sig{"ssl server", kSSLServerParams, 3, false};
  const auto v = bind(d, sig);
  SSLServerDescription out;
  out.port = port(required(v[0], "port", sig.what), 0);
  if (v[1]) out.privateKey = fileName(v[1], "privateKey");
  out.certKey = fileName(v[2], "certKey");
  out.extraCertChain = fileName(v[3], "extraCertChain");
  if (v[4]) out.interface = *v[4];
  if (v[5]) out.backlog = nonNegativeInt(*v[5], "backlog");
  return out;
}

SSLClientDescription sslClient(const EndpointDescription& d) {
  const Signature sig{"ssl client", kSSLClientParams, 2, true};
  const auto v = bind(d, sig);
  SSLClientDescription out;
  out.tcp.host = required(v[0], "host", sig.what);
  if (out.tcp.host.empty()) bad("empty host", out.tcp.host);
  out.tcp.port = port(required(v[1], "port", sig.what), 1);
  if (v[2]) out.tcp.timeout = seconds(*v[2], "timeout");
  if (v[3]) out.tcp.bindAddress = bindAddress(*v[3]);
  out.caCertsDir = fileName(v[4], "caCertsDir");
  out.certKey = fileName(v[5], "certKey");
  out.privateKey = fileName(v[6], "privateKey");
  if (!out.privateKey.empty() && out.certKey.empty()) {
    bad("privateKey given without certKey (the client certificate it belongs to)", "privateKey");
  }
  if (v[7]) {
    if (v[7]->empty()) bad("empty hostname", "hostname");
    out.hostname = *v[7];
  }
  return out;
}

TLSClientDescription tlsClient(const EndpointDescription& d) {
  const Signature sig{"tls client", kTLSClientParams, 2, true};
  const auto v = bind(d, sig);
  TLSClientDescription out;
  out.host = required(v[0], "host", sig.what);
  if (out.host.empty()) bad("empty host", out.host);
  out.port = port(required(v[1], "port", sig.what), 1);
  if (v[2]) out.timeout = seconds(*v[2], "timeout");
  if (v[3]) out.bindAddress = bindAddress(*v[3]);
  out.certificate = fileName(v[4], "certificate");
  out.privateKey = fileName(v[5], "privateKey");
  if (!out.privateKey.empty() && out.certificate.empty()) {
    bad("privateKey given without certificate (the client certificate it belongs to)",
        "privateKey");
  }
  out.trustRoots = fileName(v[6], "trustRoots");
  return out;
}

UNIXClientDescription unixClient(const EndpointDescription& d) {
  const Signature sig{"unix client", kUNIXClientParams, 1, false};
  const auto v = bind(d, sig);
  UNIXClientDescription out;
  out.path = unixPath(required(v[0], "path", sig.what), "path");
  if (v[1]) out.timeout = seconds(*v[1], "timeout");
  if (v[2] && v[3]) {
    bad("parameter 'checkPID' given twice (also as 'lockfile', its Twisted name)", "lockfile");
  }
  if (v[2]) out.checkPID = flag(*v[2], "checkPID");
  if (v[3]) out.checkPID = flag(*v[3], "lockfile");
  return out;
}

}  // namespace

// ---- syntax ------------------------------------------------------------------------------------

const std::string* EndpointDescription::keyword(std::string_view key) const {
  for (const auto& [k, v] : kwargs) {
    if (k == key) return &v;
  }
  return nullptr;
}

EndpointDescription parseEndpointDescription(std::string_view description) {
  EndpointDescription out;
  bool first = true;
  // One element (between unescaped colons) at a time: its key (if it has an unescaped '=')
  // and its text.
  std::string text;
  std::optional<std::string> key;
  const auto finish = [&] {
    if (first) {
      first = false;
      if (key) {
        bad(fmt::format("the description must start with the endpoint type, not '{}={}'",
                        shown(*key), shown(text)),
            *key);
      }
      out.type = std::move(text);
    } else if (key) {
      if (out.keyword(*key) != nullptr) {
        bad(fmt::format("parameter '{}' given twice", shown(*key)), *key);
      }
      out.kwargs.emplace_back(std::move(*key), std::move(text));
    } else {
      out.args.push_back(std::move(text));
    }
    text.clear();
    key.reset();
  };
  for (std::size_t i = 0; i < description.size(); ++i) {
    const char c = description[i];
    if (c == '\\') {
      if (++i == description.size()) {
        bad("trailing backslash at the end of the description (escape it as \\\\)", "\\");
      }
      text += description[i];
    } else if (c == ':') {
      finish();
    } else if (c == '=' && !key) {
      key = std::move(text);
      text.clear();
    } else {
      text += c;
    }
  }
  finish();
  return out;
}

std::string quoteStringArgument(std::string_view argument) {
  std::string out;
  out.reserve(argument.size());
  for (const char c : argument) {
    if (c == '\\' || c == ':' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

// ---- meaning -----------------------------------------------------------------------------------

ServerDescription parseServerDescription(std::string_view description) {
  const EndpointDescription d = parseEndpointDescription(description);
  const std::string type = lower(d.type);
  if (type == "tcp") return tcpServer(d, false);
  if (type == "tcp6") return tcpServer(d, true);
  if (type == "unix") return unixServer(d);
  if (type == "systemd") return systemdServer(d);
  if (type == "ssl") return sslServer(d);
  if (type == "tls") {
    bad(fmt::format("'{}' is a client endpoint type: a TLS server is 'ssl:PORT:privateKey=...'",
                    shown(d.type)),
        d.type);
  }
  bad(fmt::format("unknown endpoint type '{}' (known server types: tcp, tcp6, unix, systemd, "
                  "ssl)",
                  shown(d.type)),
      d.type);
}

ClientDescription parseClientDescription(std::string_view description) {
  const EndpointDescription d = parseEndpointDescription(description);
  const std::string type = lower(d.type);
  if (type == "tcp") return tcpClient(d, false);
  if (type == "tcp6") return tcpClient(d, true);
  if (type == "unix") return unixClient(d);
  if (type == "ssl") return sslClient(d);
  if (type == "tls") return tlsClient(d);
  bad(fmt::format("unknown endpoint type '{}' (known client types: tcp, tcp6, unix, ssl, tls)",
                  shown(d.type)),
      d.type);
}

}  // namespace torsion
