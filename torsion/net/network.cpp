// NetworkImpl: the per-reactor network layer (registry, reaping, shutdown, listen/connect).
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "torsion/core/threads.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/network_impl.hpp"

namespace torsion {

namespace {
const int kNetworkKey = 0;
}  // namespace

IReactorNet& network(Reactor& reactor) {
  if (auto* e = reactor.findExtension(&kNetworkKey)) return static_cast<detail::NetworkImpl&>(*e);
  return static_cast<detail::NetworkImpl&>(
      reactor.addExtension(&kNetworkKey, std::make_unique<detail::NetworkImpl>(reactor)));
}

namespace detail {

std::string errnoText(int err) {
  char buf[128];
  const char* s = ::strerror_r(err, buf, sizeof buf);
  return s;
}

void setNonBlockingCloexec(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  const int fdfl = ::fcntl(fd, F_GETFD);
  if (fdfl >= 0) ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
}

namespace {

int reserveDescriptor() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

// Unix socket lock files, compatible with Twisted's FilesystemLock: a symlink named
// "<path>.lock" whose target is the owner's pid.
bool pidAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// Takes the lock; returns false if a live process holds it, or if "<path>.lock" is something
// we cannot read as Twisted's lock (we never remove what we do not understand). `clean` is
// false when a stale lock (naming a dead process) was replaced.
bool acquireLock(const std::string& lockPath, bool& clean) {
  clean = true;
  const std::string me = std::to_string(::getpid());
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::symlink(me.c_str(), lockPath.c_str()) == 0) return true;
    if (errno != EEXIST) return false;
    char buf[32];
    const ssize_t n = ::readlink(lockPath.c_str(), buf, sizeof buf - 1);
    if (n < 0 && errno == ENOENT) continue;  // released meanwhile: try again
    if (n <= 0) return false;                // not a symlink
    buf[n] = '\0';
    char* end = nullptr;
    const long pid = std::strtol(buf, &end, 10);
    if (end == buf || *end != '\0' || pid <= 0) return false;
    if (pidAlive(static_cast<pid_t>(pid))) return false;
    clean = false;
    ::unlink(lockPath.c_str());
  }
  return false;
}

// A dead server's socket file, which wantPID lets us remove: only ever a socket.
void removeStaleSocket(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

Address::Family familyOf(int family) {
  switch (family) {
    case AF_INET:
      return Address::Family::ipv4;
    case AF_INET6:
      return Address::Family::ipv6;
    case AF_UNIX:
      return Address::Family::unix;
    default:
      throw std::invalid_argument(fmt::format("unsupported address family {}", family));
  }
}

// A duplicate of a descriptor made elsewhere, non-blocking and close-on-exec.
int adoptCopy(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "adopting a descriptor");
  setNonBlockingCloexec(copy);
  return copy;
}

}  // namespace

NetworkImpl::NetworkImpl(Reactor& reactor)
    : reactor_(reactor), readBuffer_(new char[kReadBufferSize]), spareFd_(reserveDescriptor()) {
  reactor_.addSystemEventTrigger(Reactor::Phase::during, "shutdown", [this] { disconnectAll(); });
}

NetworkImpl::~NetworkImpl() {
  // The reactor is going away: close everything without calling back into user code.
  if (soonCall_.active()) soonCall_.cancel();  // its function holds `this`
  for (auto& p : ports_) p->close();
  for (auto& p : datagramPorts_) p->close();
  while (connections_ != nullptr) {
    StreamConnection* c = connections_;
    connections_ = c->next;
    reactor_.removeReader(c);
    reactor_.removeWriter(c);
    delete c;
  }
  for (StreamConnection* c : dead_) delete c;
  // Connectors still connecting or connected hold themselves alive; let them go.
  for (auto& weak : connectors_) {
    if (auto c = weak.lock()) static_cast<StreamConnector&>(*c).forget();
  }
  if (spareFd_ >= 0) ::close(spareFd_);
}

// ---- bookkeeping ------------------------------------------------------------------------------

StreamConnection* NetworkImpl::adoptConnected(int fd, int family, const sockaddr* peer,
                                              socklen_t peerLen, std::shared_ptr<Factory> factory,
                                              StreamConnector* connector,
                                              std::unique_ptr<Protocol> protocol) {
  if (!protocol) {
    ::close(fd);
    return nullptr;
  }
  auto* c = new StreamConnection(*this, fd, family, peer, peerLen, std::move(protocol),
                                 std::move(factory), connector);
  c->next = connections_;
  if (connections_ != nullptr) connections_->prev = c;
  connections_ = c;
  ++connectionCount_;
  c->start();
  return c;
}

void NetworkImpl::retire(StreamConnection* c) {
  if (c->prev != nullptr) {
    c->prev->next = c->next;
  } else {
    connections_ = c->next;
  }
  if (c->next != nullptr) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  --connectionCount_;
  dead_.push_back(c);
  schedule();
}

void NetworkImpl::scheduleAbort(StreamConnection* c) {
  aborts_.push_back(c);
  schedule();
}

namespace {

// Removes p's owner from `list`, handing the reference back (to keep p alive a little longer).
template <class T>
std::shared_ptr<void> takeFrom(std::vector<std::shared_ptr<T>>& list, const void* p) {
  for (auto it = list.begin(); it != list.end(); ++it) {
    if (it->get() == p) {
      std::shared_ptr<void> keep = std::move(*it);
      list.erase(it);
      return keep;
    }
  }
  return nullptr;
}

}  // namespace

// A stopped port lives until its Deferred fired, on the next iteration.
void NetworkImpl::portStopped(IListeningPort* p, Deferred<void> done) {
  fireSoon(takeFrom(ports_, p), std::move(done));
}

void NetworkImpl::datagramStopped(DatagramPort* p, Deferred<void> done) {
  fireSoon(takeFrom(datagramPorts_, p), std::move(done));
}

void NetworkImpl::fireSoon(std::shared_ptr<void> keep, Deferred<void> done) {
  soon_.push_back([keep = std::move(keep), done = std::move(done)]() mutable { done.callback(); });
  schedule();
}

void NetworkImpl::schedule() {
  if (soonScheduled_) return;
  soonScheduled_ = true;
  soonCall_ = reactor_.callLater(Seconds(0), [this] { runSoon(); });
}

// At the start of an iteration: deliver pending aborts, fire stop Deferreds, delete what died.
void NetworkImpl::runSoon() {
  soonScheduled_ = false;
  std::vector<StreamConnection*> aborts;
  aborts.swap(aborts_);
  for (StreamConnection* c : aborts) {
    if (!c->gone()) c->lose(Failure(ConnectionAborted()));
  }
  std::vector<UniqueFunction<void()>> soon;
  soon.swap(soon_);
  for (auto& f : soon) {
    try {
      f();
    } catch (...) {
      log_.failure("Unhandled error", Failure::current(), LogLevel::error);
    }
  }
  std::vector<StreamConnection*> dead;
  dead.swap(dead_);
  for (StreamConnection* c : dead) delete c;
}

void NetworkImpl::disconnectAll() {
  // Twisted's disconnectAll: every connection is lost, every port and attempt stops.
  for (auto& p : std::vector<std::shared_ptr<StreamPort>>(ports_)) p->stopListening();
  for (auto& p : std::vector<std::shared_ptr<DatagramPort>>(datagramPorts_)) p->stopListening();
  while (connections_ != nullptr) {
    StreamConnection* c = connections_;
    c->lose(c->abortPending() ? Failure(ConnectionAborted()) : Failure(ConnectionLost()));
  }
  for (auto& weak :
       std::vector<std::weak_ptr<IConnector>>(connectors_.begin(), connectors_.end())) {
    if (auto c = weak.lock()) static_cast<StreamConnector&>(*c).abandon();
  }
  runSoon();
}

void NetworkImpl::connectorActive(std::shared_ptr<IConnector> c) {
  connectors_.erase(std::remove_if(connectors_.begin(), connectors_.end(),
                                   [](const std::weak_ptr<IConnector>& w) { return w.expired(); }),
                    connectors_.end());
  connectors_.push_back(c);
}

void NetworkImpl::withSpareDescriptor(const std::function<void()>& f) {
  if (spareFd_ >= 0) {
    ::close(spareFd_);
    spareFd_ = -1;
  }
  f();
  spareFd_ = reserveDescriptor();
}

// ---- TCP ------------------------------------------------------------------------------------

std::shared_ptr<IListeningPort> NetworkImpl::listenTCP(std::uint16_t port,
                                                       std::shared_ptr<Factory> factory,
                                                       const TCPListenOptions& options) {
  if (!factory) throw std::invalid_argument("listenTCP: null factory");
  const std::string portText = std::to_string(port);
  Address where;
  try {
    where = Address::ip(options.interface.empty() ? "0.0.0.0" : options.interface, port);
  } catch (const std::invalid_argument&) {
    throw CannotListenError(options.interface, portText, "not a numeric IP address");
  }
  const int family = where.family() == Address::Family::ipv6 ? AF_INET6 : AF_INET;
  const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw CannotListenError(options.interface, portText, errnoText(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options.reusePort) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (family == AF_INET6) {
    // "::" accepts IPv4 too (mapped), as Twisted's listenTCP(interface='::') does.
    const int zero = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  sockaddr_storage ss;
  const socklen_t len = where.toSockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::listen(fd, options.backlog) != 0) {
    const int err = errno;
    ::close(fd);
    throw CannotListenError(options.interface, portText, errnoText(err));
  }
  auto p = std::make_shared<StreamPort>(*this, fd, family, std::move(factory));
  ports_.push_back(p);
  p->start();
  return p;
}

std::shared_ptr<IConnector> NetworkImpl::connectTCP(std::string_view host, std::uint16_t port,
                                                    std::shared_ptr<ClientFactory> factory,
                                                    const TCPConnectOptions& options) {
  if (!factory) throw std::invalid_argument("connectTCP: null factory");
  auto c = std::make_shared<StreamConnector>(*this, Address::Family::ipv4, std::string(host), port,
                                             std::move(factory), options.timeout,
                                             options.bindAddress, false);
  c->connect();
  return c;
}

// ---- Unix -----------------------------------------------------------------------------------

std::shared_ptr<IListeningPort> NetworkImpl::listenUNIX(std::string_view path,
                                                        std::shared_ptr<Factory> factory,
                                                        const UNIXListenOptions& options) {
  if (!factory) throw std::invalid_argument("listenUNIX: null factory");
  const std::string shown(path);
  Address where;
  try {
    where = Address::unix(path);
  } catch (const std::invalid_argument& e) {
    throw CannotListenError("", shown, e.what());
  }
  const bool abstract = !where.name().empty() && where.name()[0] == '\0';
  if (where.name().empty()) throw CannotListenError("", shown, "empty socket path");
  std::string lockPath;
  if (options.wantPID && !abstract) {
    lockPath = where.name() + ".lock";
    bool clean = true;
    if (!acquireLock(lockPath, clean)) throw CannotListenError("", shown, "Cannot acquire lock");
    if (!clean) removeStaleSocket(where.name());  // left behind by a dead process
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw CannotListenError("", shown, errnoText(errno));
  sockaddr_storage ss;
  const socklen_t len = where.toSockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd);
    if (!lockPath.empty()) ::unlink(lockPath.c_str());
    throw CannotListenError("", shown, errnoText(err));
  }
  if (!abstract) ::chmod(where.name().c_str(), options.mode);
  if (::listen(fd, options.backlog) != 0) {
    const int err = errno;
    ::close(fd);
    if (!abstract) ::unlink(where.name().c_str());
    if (!lockPath.empty()) ::unlink(lockPath.c_str());
    throw CannotListenError("", shown, errnoText(err));
  }
  auto p = std::make_shared<StreamPort>(*this, fd, AF_UNIX, std::move(factory),
                                        abstract ? std::string() : where.name(), lockPath);
  ports_.push_back(p);
  p->start();
  return p;
}

std::shared_ptr<IConnector> NetworkImpl::connectUNIX(std::string_view path,
                                                     std::shared_ptr<ClientFactory> factory,
                                                     const UNIXConnectOptions& options) {
  if (!factory) throw std::invalid_argument("connectUNIX: null factory");
  auto c = std::make_shared<StreamConnector>(*this, Address::Family::unix, std::string(path), 0,
                                             std::move(factory), options.timeout, std::nullopt,
                                             options.checkPID);
  c->connect();
  return c;
}

// ---- datagrams -------------------------------------------------------------------------------

std::shared_ptr<IDatagramTransport> NetworkImpl::listenUDP(
    std::uint16_t port, std::shared_ptr<DatagramProtocol> protocol,
    const UDPListenOptions& options) {
  if (!protocol) throw std::invalid_argument("listenUDP: null protocol");
  const std::string portText = std::to_string(port);
  Address where;
  try {
    where = Address::ip(options.interface.empty() ? "0.0.0.0" : options.interface, port,
                        Address::Type::datagram);
  } catch (const std::invalid_argument&) {
    throw CannotListenError(options.interface, portText, "not a numeric IP address");
  }
  const int family = where.family() == Address::Family::ipv6 ? AF_INET6 : AF_INET;
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw CannotListenError(options.interface, portText, errnoText(errno));
  const int one = 1;
  if (options.reusePort) {
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  }
  if (family == AF_INET6) {
    const int zero = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  sockaddr_storage ss;
  const socklen_t len = where.toSockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd);
    throw CannotListenError(options.interface, portText, errnoText(err));
  }
  auto p =
      std::make_shared<DatagramPort>(*this, fd, family, std::move(protocol), options.maxPacketSize);
  datagramPorts_.push_back(p);
  p->start();
  return p;
}

std::shared_ptr<IDatagramTransport> NetworkImpl::listenUNIXDatagram(
    std::string_view path, std::shared_ptr<DatagramProtocol> protocol, unsigned mode) {
  if (!protocol) throw std::invalid_argument("listenUNIXDatagram: null protocol");
  const std::string shown(path);
  Address where;
  try {
    where = Address::unix(path, Address::Type::datagram);
  } catch (const std::invalid_argument& e) {
    throw CannotListenError("", shown, e.what());
  }
  const bool abstract = !where.name().empty() && where.name()[0] == '\0';
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw CannotListenError("", shown, errnoText(errno));
  sockaddr_storage ss;
  const socklen_t len = where.toSockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd);
    throw CannotListenError("", shown, errnoText(err));
  }
  if (!abstract) ::chmod(where.name().c_str(), mode);
  auto p = std::make_shared<DatagramPort>(*this, fd, AF_UNIX, std::move(protocol), 65536,
                                          abstract ? std::string() : where.name());
  datagramPorts_.push_back(p);
  p->start();
  return p;
}

std::shared_ptr<IDatagramTransport> NetworkImpl::connectUNIXDatagram(
    std::string_view path, std::shared_ptr<DatagramProtocol> protocol, std::string_view bindPath) {
  if (!protocol) throw std::invalid_argument("connectUNIXDatagram: null protocol");
  const Address peer = Address::unix(path, Address::Type::datagram);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    throw ConnectionFailed(errnoText(err), err);
  }
  std::string boundPath;
  sockaddr_storage ss;
  if (!bindPath.empty()) {
    const Address local = Address::unix(bindPath, Address::Type::datagram);
    const socklen_t len = local.toSockaddr(ss);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      const int err = errno;
      ::close(fd);
      throw ConnectBindError(errnoText(err));
    }
    if (local.name()[0] != '\0') boundPath = local.name();
  }
  const socklen_t len = peer.toSockaddr(ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd);
    if (!boundPath.empty()) ::unlink(boundPath.c_str());
    if (err == ECONNREFUSED || err == ENOENT) throw ConnectionRefusedError(errnoText(err));
    throw ConnectionFailed(errnoText(err), err);
  }
  auto p =
      std::make_shared<DatagramPort>(*this, fd, AF_UNIX, std::move(protocol), 65536, boundPath);
  datagramPorts_.push_back(p);
  p->start();
  return p;
}

// ---- adopting --------------------------------------------------------------------------------

std::shared_ptr<IListeningPort> NetworkImpl::adoptStreamPort(int fd, int family,
                                                             std::shared_ptr<Factory> factory) {
  if (!factory) throw std::invalid_argument("adoptStreamPort: null factory");
  familyOf(family);
  auto p = std::make_shared<StreamPort>(*this, adoptCopy(fd), family, std::move(factory));
  ports_.push_back(p);
  p->start();
  return p;
}

void NetworkImpl::adoptStreamConnection(int fd, int family, std::shared_ptr<Factory> factory) {
  if (!factory) throw std::invalid_argument("adoptStreamConnection: null factory");
  familyOf(family);
  const int copy = adoptCopy(fd);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getpeername(copy, reinterpret_cast<sockaddr*>(&ss), &len);
  std::unique_ptr<Protocol> protocol =
      factory->buildProtocol(Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len));
  adoptConnected(copy, family, reinterpret_cast<sockaddr*>(&ss), len, std::move(factory), nullptr,
                 std::move(protocol));
}

std::shared_ptr<IDatagramTransport> NetworkImpl::adoptDatagramPort(
    int fd, int family, std::shared_ptr<DatagramProtocol> protocol) {
  if (!protocol) throw std::invalid_argument("adoptDatagramPort: null protocol");
  familyOf(family);
  auto p = std::make_shared<DatagramPort>(*this, adoptCopy(fd), family, std::move(protocol), 65536);
  datagramPorts_.push_back(p);
  p->start();
  return p;
}

// ---- names ------------------------------------------------------------------------------------

Deferred<std::vector<Address>> NetworkImpl::resolveHost(std::string_view host, std::uint16_t port,
                                                        int family) {
  // Numeric hosts need no lookup (and no thread).
  try {
    Address a = Address::ip(host, port);
    const bool fits = family == AF_UNSPEC ||
                      (family == AF_INET && a.family() == Address::Family::ipv4) ||
                      (family == AF_INET6 && a.family() == Address::Family::ipv6);
    if (fits) return succeed(std::vector<Address>{std::move(a)});
  } catch (const std::invalid_argument&) {
  }
  std::string name(host);
  if (name.empty()) return fail<std::vector<Address>>(DNSLookupError("empty host name"));
  return deferToThread(reactor_, [name, port, family]() -> std::vector<Address> {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    const int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &res);
    if (rc != 0)
      throw DNSLookupError(fmt::format("address '{}' not found: {}", name, ::gai_strerror(rc)));
    std::vector<Address> out;
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      Address a = Address::fromSockaddr(ai->ai_addr, ai->ai_addrlen);
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(std::move(a));
    }
    ::freeaddrinfo(res);
    if (out.empty()) throw DNSLookupError(fmt::format("address '{}' not found", name));
    return out;
  });
}

}  // namespace detail
}  // namespace torsion
