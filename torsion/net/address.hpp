// Addresses of connection endpoints (Twisted's IPv4Address, IPv6Address, UNIXAddress).
//
// An Address is a small value: a family (IPv4, IPv6, Unix), a socket type (stream or
// datagram: Twisted's "TCP"/"UDP"), and either a numeric host and a port, or a Unix path.
// Transports return it from getHost()/getPeer(); factories receive the peer's in
// buildProtocol. Comparison and hashing are by value.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace torsion {

class Address {
 public:
  enum class Family : std::uint8_t { none, ipv4, ipv6, unix };
  enum class Type : std::uint8_t { stream, datagram };

  Address() = default;
  // An IPv4 or IPv6 address; `host` must be numeric ("127.0.0.1", "::1", "fe80::1%eth0").
  // Throws std::invalid_argument naming the host otherwise.
  static Address ip(std::string_view host, std::uint16_t port, Type type = Type::stream);
  // A Unix socket path. A name starting with '\0' or '@' is a Linux abstract name (stored with
  // a leading '\0'). An empty name is an unnamed socket (a client's local end).
  static Address unix(std::string_view path, Type type = Type::stream);
  // From a socket address filled by the kernel (accept, getsockname, recvfrom).
  static Address fromSockaddr(const sockaddr* sa, socklen_t len, Type type = Type::stream);

  Family family() const noexcept { return family_; }
  Type type() const noexcept { return type_; }
  bool isIP() const noexcept { return family_ == Family::ipv4 || family_ == Family::ipv6; }
  // Numeric host for IP addresses ("" otherwise).
  const std::string& host() const noexcept { return text_; }
  std::uint16_t port() const noexcept { return port_; }
  // The Unix socket name ("" otherwise); abstract names start with '\0'.
  const std::string& name() const noexcept { return text_; }

  // Fills `out` for bind/connect/sendto; returns the length to pass.
  socklen_t toSockaddr(sockaddr_storage& out) const;

  // Twisted's repr: IPv4Address(type='TCP', host='127.0.0.1', port=8080),
  // UNIXAddress('/tmp/sock').
  std::string toString() const;

  friend bool operator==(const Address&, const Address&) = default;

 private:
  std::string text_;
  std::uint16_t port_ = 0;
  Family family_ = Family::none;
  Type type_ = Type::stream;
};

}  // namespace torsion
