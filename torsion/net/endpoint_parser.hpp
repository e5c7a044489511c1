// Endpoint description strings (Twisted's strports syntax, as serverFromString and
// clientFromString read it): parsing only, no I/O, so that the grammar can be tested and
// fuzzed on its own. endpoints.hpp turns a parsed description into an endpoint.
//
// Syntax: `type:arg:arg:key=value:...`. Elements are separated by ':'; an element holding '='
// is a keyword argument (the first '=' splits key from value, later ones belong to the value).
// A backslash takes the next character literally, so `\:`, `\=` and `\\` put a colon, an
// equals sign or a backslash into an argument (quoteStringArgument does that for you).
//
//   tcp:8080:interface=127.0.0.1         server, IPv4 (tcp6: IPv6, interface defaults to ::)
//   unix:/run/app.sock:mode=660          server, Unix (a leading '@' or NUL: abstract name)
//   systemd:domain=INET:index=0          server, a socket passed by systemd
//   ssl:443:privateKey=key.pem:certKey=cert.pem   server, TLS over IPv4 TCP
//   tcp:host=example.com:port=80         client (or positionally: tcp:example.com:80)
//   unix:path=/run/app.sock:timeout=5    client, Unix
//   tls:example.com:443                  client, TLS, verifying example.com's certificate
//
// Positional arguments fill the type's parameters in order (as Python arguments do); the
// tables in endpoint_parser.cpp list them. Departures from Twisted, all towards refusing what
// Twisted would silently misread: the type must come first (Twisted takes the first element
// without '='); a key given twice, or a parameter given both positionally and by name, is an
// error (Twisted keeps the last); numbers are plain digits (no sign, no spaces); type names
// are case-insensitive for servers too (Twisted: clients only).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/core/time.hpp"

namespace torsion {

// A description that cannot be parsed. what() says what is wrong in words; part() is the
// exact piece of the description at fault (the unknown type or key, the bad value, the name
// of a missing parameter, "\" for a trailing backslash), for programs that point at it.
class EndpointStringError : public Error {
 public:
  EndpointStringError(const std::string& message, std::string part)
      : Error(message), part_(std::move(part)) {}
  const std::string& part() const noexcept { return part_; }

 private:
  std::string part_;
};

// The syntax of a description, unescaped (Twisted's _parse): the type, the positional
// arguments after it, and the keyword arguments in the order written (keys are unique).
struct EndpointDescription {
  std::string type;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> kwargs;

  // The value of keyword `key`, or null.
  const std::string* keyword(std::string_view key) const;

  friend bool operator==(const EndpointDescription&, const EndpointDescription&) = default;
};

// Splits and unescapes `description`. Throws EndpointStringError for a trailing backslash, a
// first element that is a keyword instead of a type, and a key given twice.
EndpointDescription parseEndpointDescription(std::string_view description);

// Escapes `argument` so that it reads back as one argument (Twisted's quoteStringArgument,
// which escapes '\' and ':'; this one escapes '=' too, so that a positional argument holding
// '=' is not read as a keyword).
std::string quoteStringArgument(std::string_view argument);

// ---- what a server description means ---------------------------------------------------------

// tcp:PORT[:interface=][:backlog=50]   and   tcp6:PORT[:backlog=50][:interface=::]
struct TCPServerDescription {
  bool ipv6 = false;
  std::uint16_t port = 0;
  std::string interface;  // "" (tcp) or "::" (tcp6) unless given
  int backlog = 50;
  friend bool operator==(const TCPServerDescription&, const TCPServerDescription&) = default;
};

// unix:ADDRESS[:mode=666][:backlog=50][:lockfile=1]  (mode is octal; lockfile=1 is the
// listenUNIX wantPID option, on by default as in Twisted)
struct UNIXServerDescription {
  std::string address;
  unsigned mode = 0666;
  int backlog = 50;
  bool lockfile = true;
  friend bool operator==(const UNIXServerDescription&, const UNIXServerDescription&) = default;
};

// systemd:domain=INET|INET6|UNIX:index=N  (the Nth descriptor systemd passed, i.e. fd 3+N)
struct SystemdServerDescription {
  int family = 0;  // AF_INET, AF_INET6 or AF_UNIX
  int index = 0;
  friend bool operator==(const SystemdServerDescription&,
                         const SystemdServerDescription&) = default;
};

// ssl:PORT[:privateKey=server.pem][:certKey=][:extraCertChain=][:interface=][:backlog=50]
// (Twisted's SSL4ServerEndpoint string). privateKey is a PEM file holding the key (and the
// certificate too, unless certKey names the certificate's file: certKey defaults to
// privateKey, as in Twisted); extraCertChain a PEM file of the intermediate certificates sent
// after it. Positionally: port, privateKey, certKey. The files are read when the endpoint is
// made (serverFromString), not here. Twisted's sslmethod= and dhParameters= are not taken
// (OpenSSL picks versions from TLS 1.2 up, and ECDHE needs no parameters).
struct SSLServerDescription {
  std::uint16_t port = 0;
  std::string privateKey = "server.pem";
  std::string certKey;         // "" = privateKey
  std::string extraCertChain;  // "" = none
  std::string interface;
  int backlog = 50;
  friend bool operator==(const SSLServerDescription&, const SSLServerDescription&) = default;
};

using ServerDescription = std::variant<TCPServerDescription, UNIXServerDescription,
                                       SystemdServerDescription, SSLServerDescription>;

// Parses and checks a server description: the type is known, every parameter belongs to it,
// required ones are there, values are well formed (port 0-65535, backlog a non-negative int,
// mode octal up to 07777, lockfile 0 or 1, Unix path non-empty and short enough, file names
// non-empty). Throws EndpointStringError.
ServerDescription parseServerDescription(std::string_view description);

// ---- what a client description means ---------------------------------------------------------

// tcp:host=H:port=P[:timeout=30][:bindAddress=]  (tcp6: the same, IPv6). Positional
// arguments fill host and port, skipping one given by name (tcp:host=H:80 is port 80), as
// Twisted's _parseClientTCP does. Port 1-65535; timeout a non-negative number of seconds;
// bindAddress a numeric IP address.
struct TCPClientDescription {
  bool ipv6 = false;
  std::string host;
  std::uint16_t port = 0;
  Seconds timeout = Seconds(30);
  std::string bindAddress;  // "" = any
  friend bool operator==(const TCPClientDescription&, const TCPClientDescription&) = default;
};

// unix:path=P[:timeout=30][:checkPID=0]  (Twisted spells checkPID `lockfile`; both are read)
struct UNIXClientDescription {
  std::string path;
  Seconds timeout = Seconds(30);
  bool checkPID = false;
  friend bool operator==(const UNIXClientDescription&, const UNIXClientDescription&) = default;
};

// ssl:host=H:port=P[:timeout=30][:bindAddress=][:caCertsDir=][:certKey=][:privateKey=]
// [:hostname=]  (host and port as for tcp). The server's certificate must chain to a CA of
// caCertsDir (every PEM file in that directory) or, without it, to the platform's CAs, and be
// valid for `hostname` (default: host). certKey is a PEM file with a client certificate, its
// key in privateKey (default: certKey). Departure from Twisted, whose ssl: client checks
// nothing unless caCertsDir or hostname is given: torsion always verifies.
struct SSLClientDescription {
  TCPClientDescription tcp;
  std::string caCertsDir;  // "" = platform trust
  std::string certKey;     // "" = no client certificate
  std::string privateKey;  // "" = certKey
  std::string hostname;    // "" = tcp.host
  friend bool operator==(const SSLClientDescription&, const SSLClientDescription&) = default;
};

// tls:HOST:PORT[:timeout=30][:bindAddress=][:certificate=][:privateKey=][:trustRoots=]
// (Twisted's tls: client): connects through HostnameEndpoint and verifies that the server's
// certificate is valid for HOST and chains to a CA of the trustRoots directory (default: the
// platform's). certificate is a PEM file with a client certificate, its key in privateKey
// (default: certificate). Twisted's endpoint= (an inner description) is not taken.
struct TLSClientDescription {
  std::string host;
  std::uint16_t port = 0;
  Seconds timeout = Seconds(30);
  std::string bindAddress;  // "" = any
  std::string certificate;  // "" = no client certificate
  std::string privateKey;   // "" = certificate
  std::string trustRoots;   // "" = platform trust
  friend bool operator==(const TLSClientDescription&, const TLSClientDescription&) = default;
};

using ClientDescription = std::variant<TCPClientDescription, UNIXClientDescription,
                                       SSLClientDescription, TLSClientDescription>;

// Parses and checks a client description, as parseServerDescription does.
ClientDescription parseClientDescription(std::string_view description);

}  // namespace torsion
