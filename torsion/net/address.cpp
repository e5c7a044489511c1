#include "torsion/net/address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>

namespace torsion {

Address Address::ip(std::string_view host, std::uint16_t port, Type type) {
  Address a;
  a.port_ = port;
  a.type_ = type;
  std::string h(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    a.family_ = Family::ipv4;
    a.text_ = std::move(h);
    return a;
  }
  // IPv6, with an optional "%scope" suffix.
  const auto percent = h.find('%');
  const std::string bare = h.substr(0, percent);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
    if (percent != std::string::npos && percent + 1 == h.size()) {
      throw std::invalid_argument(fmt::format("not a numeric IP address: '{}' (empty scope)", h));
    }
    a.family_ = Family::ipv6;
    a.text_ = std::move(h);
    return a;
  }
  throw std::invalid_argument(fmt::format("not a numeric IP address: '{}'", h));
}

Address Address::unix(std::string_view path, Type type) {
  Address a;
  a.family_ = Family::unix;
  a.type_ = type;
  a.text_ = std::string(path);
  if (!a.text_.empty() && a.text_[0] == '@') a.text_[0] = '\0';
  if (a.text_.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::invalid_argument(fmt::format("Unix socket path too long ({} bytes, at most {})",
                                            a.text_.size(), sizeof(sockaddr_un{}.sun_path) - 1));
  }
  return a;
}

Address Address::fromSockaddr(const sockaddr* sa, socklen_t len, Type type) {
  Address a;
  a.type_ = type;
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  switch (sa->sa_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
      ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
      a.family_ = Family::ipv4;
      a.text_ = buf;
      a.port_ = ntohs(in->sin_port);
      break;
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
      a.family_ = Family::ipv6;
      a.text_ = buf;
      if (in6->sin6_scope_id != 0) {
        char ifname[IF_NAMESIZE];
        if (::if_indextoname(in6->sin6_scope_id, ifname) != nullptr) {
          a.text_ += '%';
          a.text_ += ifname;
        } else {
          a.text_ += '%' + std::to_string(in6->sin6_scope_id);
        }
      }
      a.port_ = ntohs(in6->sin6_port);
      break;
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
      a.family_ = Family::unix;
      const auto offset = offsetof(sockaddr_un, sun_path);
      if (len > offset) {
        std::size_t n = len - offset;
        // Pathnames are NUL-terminated (and len may count the NUL); abstract names are not.
        if (un->sun_path[0] != '\0') n = ::strnlen(un->sun_path, n);
        a.text_.assign(un->sun_path, n);
      }
      break;
    }
    default:
      break;
  }
  return a;
}

socklen_t Address::toSockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  switch (family_) {
    case Family::ipv4: {
      auto* in = reinterpret_cast<sockaddr_in*>(&out);
      in->sin_family = AF_INET;
      in->sin_port = htons(port_);
      ::inet_pton(AF_INET, text_.c_str(), &in->sin_addr);
      return sizeof(sockaddr_in);
    }
    case Family::ipv6: {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port_);
      const auto percent = text_.find('%');
      ::inet_pton(AF_INET6, text_.substr(0, percent).c_str(), &in6->sin6_addr);
      if (percent != std::string::npos) {
        const std::string scope = text_.substr(percent + 1);
        unsigned index = ::if_nametoindex(scope.c_str());
        if (index == 0) {
          try {
            index = static_cast<unsigned>(std::stoul(scope));
          } catch (const std::exception&) {
            throw std::invalid_argument(fmt::format("unknown IPv6 scope '{}'", scope));
          }
        }
        in6->sin6_scope_id = index;
      }
      return sizeof(sockaddr_in6);
    }
    case Family::unix: {
      auto* un = reinterpret_cast<sockaddr_un*>(&out);
      un->sun_family = AF_UNIX;
      std::memcpy(un->sun_path, text_.data(), text_.size());
      const auto offset = offsetof(sockaddr_un, sun_path);
      // Abstract names are exactly their bytes; pathnames get their terminating NUL.
      if (!text_.empty() && text_[0] == '\0') return static_cast<socklen_t>(offset + text_.size());
      return static_cast<socklen_t>(offset + text_.size() + 1);
    }
    case Family::none:
      break;
  }
  throw std::invalid_argument("toSockaddr: empty address");
}

std::string Address::toString() const {
  const char* kind = type_ == Type::stream ? "TCP" : "UDP";
  switch (family_) {
    case Family::ipv4:
      return fmt::format("IPv4Address(type='{}', host='{}', port={})", kind, text_, port_);
    case Family::ipv6:
      return fmt::format("IPv6Address(type='{}', host='{}', port={})", kind, text_, port_);
    case Family::unix: {
      std::string shown = text_;
      if (!shown.empty() && shown[0] == '\0') shown[0] = '@';
      return fmt::format("UNIXAddress('{}')", shown);
    }
    case Family::none:
      break;
  }
  return "Address()";
}

}  // namespace torsion
