// A datagram socket: UDP (with broadcast and multicast) or Unix datagrams.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "torsion/net/errors.hpp"
#include "torsion/net/network_impl.hpp"

namespace torsion::detail {

namespace {
// Datagrams read per readiness before giving other descriptors their turn.
constexpr int kReadsPerEvent = 64;
}  // namespace

DatagramPort::DatagramPort(NetworkImpl& net, int fd, int family,
                           std::shared_ptr<DatagramProtocol> protocol, std::size_t maxPacketSize,
                           std::string unixPath)
    : net_(net),
      protocol_(std::move(protocol)),
      unixPath_(std::move(unixPath)),
      maxPacketSize_(std::min(maxPacketSize, NetworkImpl::kReadBufferSize)),
      fd_(fd),
      family_(family) {
  // connectUNIXDatagram and adopted sockets may come connected already.
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  connected_ = ::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
}

DatagramPort::~DatagramPort() { close(); }

void DatagramPort::start() {
  net_.reactor().addReader(this);
  protocol_->makeConnection(*this);
}

void DatagramPort::close() {
  if (fd_ < 0) return;
  net_.reactor().removeReader(this);
  ::close(fd_);
  fd_ = -1;
  if (!unixPath_.empty()) ::unlink(unixPath_.c_str());
}

Deferred<void> DatagramPort::stopListening() {
  if (fd_ < 0) return succeed();
  net_.reactor().removeReader(this);
  try {
    protocol_->stopProtocol();
  } catch (...) {
    net_.logger().failure("Unhandled error in stopProtocol", Failure::current(), LogLevel::error);
  }
  close();
  protocol_->transport = nullptr;
  Deferred<void> done;
  Deferred<void> result = done;
  net_.datagramStopped(this, std::move(done));
  return result;
}

void DatagramPort::connectionLost(const Failure& reason) {
  (void)reason;
  stopListening();
}

Address DatagramPort::getHost() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len, Address::Type::datagram);
}

void DatagramPort::doRead() {
  char* buf = net_.readBuffer();
  for (int i = 0; i < kReadsPerEvent && fd_ >= 0; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n =
        ::recvfrom(fd_, buf, maxPacketSize_, 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR) continue;
      if (err == ECONNREFUSED) {
        deliver("connectionRefused", [&] { refused(); });
        continue;
      }
      // Other errors (ICMP reports such as host unreachable) concern one earlier datagram.
      net_.logger().debug("Datagram socket error: {error}", {{"error", errnoText(err)}});
      continue;
    }
    const Address from = len > 0 ? Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len,
                                                         Address::Type::datagram)
                                 : Address::unix("", Address::Type::datagram);
    deliver("datagramReceived", [&] {
      protocol_->datagramReceived(std::string_view(buf, static_cast<std::size_t>(n)), from);
    });
  }
}

// As Twisted's udp.Port: an exception from the protocol is logged and the port goes on (one
// bad datagram must not stop a server that talks to many peers).
template <class F>
void DatagramPort::deliver(const char* what, F&& f) {
  try {
    f();
  } catch (...) {
    net_.logger().failure(fmt::format("Unhandled error in {}", what), Failure::current(),
                          LogLevel::error);
  }
}

// The peer is not there: connectionRefused for UDP (ICMP port unreachable), connectionFailed
// for a Unix datagram socket (no socket at that name, or it was closed).
void DatagramPort::refused() {
  if (family_ == AF_UNIX) {
    protocol_->connectionFailed(Failure(ConnectionRefusedError()));
  } else {
    protocol_->connectionRefused();
  }
}

void DatagramPort::sendError(int err) {
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
    ++dropped_;
    return;
  }
  // A Unix peer that is gone: no socket at the name (ENOENT), its socket closed
  // (ECONNREFUSED), or the kernel already dropped our connection to it (ENOTCONN).
  if (err == ECONNREFUSED ||
      (family_ == AF_UNIX && (err == ENOENT || (err == ENOTCONN && connected_)))) {
    refused();
    return;
  }
  if (err == EMSGSIZE) throw Error("datagram too long for the socket (EMSGSIZE)");
  throw Error(fmt::format("datagram send failed: {}", errnoText(err)));
}

void DatagramPort::write(std::string_view data, const Address& to) {
  if (fd_ < 0) throw std::logic_error("write on a datagram port that stopped listening");
  if (connected_) throw std::logic_error("write(data, to) on a connected datagram socket");
  sockaddr_storage ss;
  const socklen_t len = to.toSockaddr(ss);
  for (;;) {
    const ssize_t n = ::sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL,
                               reinterpret_cast<sockaddr*>(&ss), len);
    if (n >= 0) return;
    if (errno == EINTR) continue;
    sendError(errno);
    return;
  }
}

void DatagramPort::write(std::string_view data) {
  if (fd_ < 0) throw std::logic_error("write on a datagram port that stopped listening");
  if (!connected_) throw std::logic_error("write(data) needs a connected datagram socket");
  for (;;) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return;
    if (errno == EINTR) continue;
    sendError(errno);
    return;
  }
}

void DatagramPort::connect(const Address& peer) {
  if (fd_ < 0) throw std::logic_error("connect on a datagram port that stopped listening");
  if (connected_) throw std::logic_error("datagram socket already connected");
  sockaddr_storage ss;
  const socklen_t len = peer.toSockaddr(ss);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    throw ConnectionFailed(errnoText(err), err);
  }
  connected_ = true;
}

void DatagramPort::requireIP(const char* what) const {
  if (family_ == AF_UNIX) throw std::logic_error(fmt::format("{}: not a UDP socket", what));
}

void DatagramPort::setBroadcastAllowed(bool enabled) {
  requireIP("setBroadcastAllowed");
  const int v = enabled ? 1 : 0;
  ::setsockopt(fd_, SOL_SOCKET, SO_BROADCAST, &v, sizeof v);
}

bool DatagramPort::getBroadcastAllowed() const {
  requireIP("getBroadcastAllowed");
  int v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(fd_, SOL_SOCKET, SO_BROADCAST, &v, &len);
  return v != 0;
}

void DatagramPort::group(std::string_view groupAddr, std::string_view interface, bool join) {
  requireIP(join ? "joinGroup" : "leaveGroup");
  const std::string g(groupAddr);
  const std::string i(interface);
  in_addr v4{};
  if (::inet_pton(AF_INET, g.c_str(), &v4) == 1) {
    ip_mreq m{};
    m.imr_multiaddr = v4;
    m.imr_interface.s_addr = htonl(INADDR_ANY);
    if (!i.empty() && ::inet_pton(AF_INET, i.c_str(), &m.imr_interface) != 1) {
      throw std::invalid_argument(fmt::format("not an IPv4 interface address: '{}'", i));
    }
    if (::setsockopt(fd_, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP, &m,
                     sizeof m) != 0) {
      throw Error(fmt::format("{} {}: {}", join ? "joinGroup" : "leaveGroup", g, errnoText(errno)));
    }
    return;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, g.c_str(), &v6) == 1) {
    ipv6_mreq m{};
    m.ipv6mr_multiaddr = v6;
    m.ipv6mr_interface = 0;
    if (::setsockopt(fd_, IPPROTO_IPV6, join ? IPV6_ADD_MEMBERSHIP : IPV6_DROP_MEMBERSHIP, &m,
                     sizeof m) != 0) {
      throw Error(fmt::format("{} {}: {}", join ? "joinGroup" : "leaveGroup", g, errnoText(errno)));
    }
    return;
  }
  throw std::invalid_argument(fmt::format("not a multicast group address: '{}'", g));
}

void DatagramPort::joinGroup(std::string_view g, std::string_view interface) {
  group(g, interface, true);
}

void DatagramPort::leaveGroup(std::string_view g, std::string_view interface) {
  group(g, interface, false);
}

void DatagramPort::setTTL(int ttl) {
  requireIP("setTTL");
  if (family_ == AF_INET6) {
    ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
    return;
  }
  const unsigned char v = static_cast<unsigned char>(ttl);
  ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v);
}

int DatagramPort::getTTL() const {
  requireIP("getTTL");
  if (family_ == AF_INET6) {
    int v = 0;
    socklen_t len = sizeof v;
    ::getsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, &len);
    return v;
  }
  unsigned char v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &v, &len);
  return v;
}

void DatagramPort::setLoopbackMode(bool enabled) {
  requireIP("setLoopbackMode");
  if (family_ == AF_INET6) {
    const unsigned v = enabled ? 1 : 0;
    ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, sizeof v);
    return;
  }
  const unsigned char v = enabled ? 1 : 0;
  ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &v, sizeof v);
}

bool DatagramPort::getLoopbackMode() const {
  requireIP("getLoopbackMode");
  if (family_ == AF_INET6) {
    unsigned v = 0;
    socklen_t len = sizeof v;
    ::getsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, &len);
    return v != 0;
  }
  unsigned char v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &v, &len);
  return v != 0;
}

void DatagramPort::setOutgoingInterface(std::string_view interface) {
  requireIP("setOutgoingInterface");
  const std::string i(interface);
  in_addr a{};
  if (::inet_pton(AF_INET, i.c_str(), &a) != 1) {
    throw std::invalid_argument(fmt::format("not an IPv4 interface address: '{}'", i));
  }
  if (::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) != 0) {
    throw Error(fmt::format("setOutgoingInterface {}: {}", i, errnoText(errno)));
  }
}

}  // namespace torsion::detail
