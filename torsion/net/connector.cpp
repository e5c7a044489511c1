// An outgoing stream connection: resolve, connect without blocking, time out, and report to
// the ClientFactory (Twisted's tcp.Connector / BaseConnector).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <stdexcept>

#include "torsion/net/errors.hpp"
#include "torsion/net/network_impl.hpp"

namespace torsion::detail {

namespace {

// How often a Unix connect() is tried again while the listener's backlog is full.
constexpr Seconds kUnixRetryDelay{0.01};

Failure connectFailure(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ENOENT:  // Unix: no such socket
      return Failure(ConnectionRefusedError(
          fmt::format("Connection was refused by other side: {}.", errnoText(err))));
    case ETIMEDOUT:
      return Failure(ConnectTimeoutError());
    default:
      return Failure(ConnectionFailed(
          fmt::format("An error occurred while connecting: {}.", errnoText(err)), err));
  }
}

}  // namespace

StreamConnector::StreamConnector(NetworkImpl& net, Address::Family family, std::string host,
                                 std::uint16_t port, std::shared_ptr<ClientFactory> factory,
                                 Seconds timeout, std::optional<Address> bindAddress, bool checkPID)
    : net_(net),
      factory_(std::move(factory)),
      host_(std::move(host)),
      port_(port),
      family_(family),
      timeout_(timeout),
      bindAddress_(std::move(bindAddress)),
      checkPID_(checkPID) {}

StreamConnector::~StreamConnector() {
  // Timed calls hold `this`.
  if (timeoutCall_.active()) timeoutCall_.cancel();
  if (startCall_.active()) startCall_.cancel();
  if (fd_ >= 0) {
    net_.reactor().removeWriter(this);
    ::close(fd_);
  }
}

Address StreamConnector::getDestination() const {
  if (family_ == Address::Family::unix) return Address::unix(host_);
  if (target_.isIP()) return target_;
  // Not resolved yet: Twisted reports the name as given.
  Address a;
  try {
    a = Address::ip(host_, port_);
  } catch (const std::invalid_argument&) {
    return Address();
  }
  return a;
}

void StreamConnector::connect() {
  if (state_ != State::disconnected) {
    throw std::logic_error("connect(): can only connect when disconnected");
  }
  state_ = State::connecting;
  keepAlive_ = shared_from_this();
  net_.connectorActive(keepAlive_);
  if (!factoryStarted_) {
    factory_->doStart();
    factoryStarted_ = true;
  }
  const std::uint64_t gen = ++generation_;
  factory_->startedConnecting(*this);
  if (state_ != State::connecting || gen != generation_) return;  // stopped from inside

  if (timeout_.count() > 0) {
    timeoutCall_ = net_.callLater(timeout_, [this, gen] {
      if (gen == generation_ && state_ == State::connecting) failed(Failure(ConnectTimeoutError()));
    });
  }
  // As Twisted does, the attempt starts on the next iteration: a Unix connect() completes (or
  // fails) inside the system call, and its outcome must not reach the factory from inside
  // connectUNIX/connectTCP, before the caller even holds the connector.
  startCall_ = net_.callLater(Seconds(0), [this, gen] {
    if (gen == generation_ && state_ == State::connecting) begin(gen);
  });
}

void StreamConnector::begin(std::uint64_t gen) {
  if (family_ == Address::Family::unix) {
    if (checkPID_) {
      char buf[32];
      const std::string lock = host_ + ".lock";
      const ssize_t n = ::readlink(lock.c_str(), buf, sizeof buf - 1);
      bool alive = false;
      if (n > 0) {
        buf[n] = '\0';
        const long pid = std::strtol(buf, nullptr, 10);
        alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
      }
      if (!alive) {
        failed(
            Failure(ConnectionRefusedError("Connection was refused by other side: the "
                                           "server's lock file names no live process.")));
        return;
      }
    }
    Address to;
    try {
      to = Address::unix(host_);
    } catch (const std::invalid_argument& e) {
      failed(Failure(ConnectionFailed(e.what())));
      return;
    }
    attempt(to);
    return;
  }
  // A name first goes through the resolver (never blocking the loop).
  Deferred<void> r = net_.resolveHost(host_, port_, AF_UNSPEC)
                         .addCallbacks(
                             [this, gen](std::vector<Address> addrs) {
                               if (gen != generation_ || state_ != State::connecting) return;
                               resolving_ = Deferred<void>(nullptr);
                               attempt(addrs.front());
                             },
                             [this, gen](const Failure& f) {
                               if (gen != generation_ || state_ != State::connecting) return;
                               resolving_ = Deferred<void>(nullptr);
                               failed(f.check<ConnectError>() ? f : Failure(DNSLookupError(host_)));
                             });
  if (!r.called()) resolving_ = std::move(r);
}

void StreamConnector::attempt(const Address& to) {
  target_ = to;
  const int family = to.family() == Address::Family::unix   ? AF_UNIX
                     : to.family() == Address::Family::ipv6 ? AF_INET6
                                                            : AF_INET;
  fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    failed(connectFailure(errno));
    return;
  }
  sockaddr_storage ss;
  if (bindAddress_) {
    socklen_t blen = 0;
    try {
      blen = bindAddress_->toSockaddr(ss);
    } catch (const std::invalid_argument& e) {
      failed(Failure(ConnectBindError(e.what())));
      return;
    }
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), blen) != 0) {
      failed(Failure(ConnectBindError(errnoText(errno))));
      return;
    }
  }
  connectSocket();
}

void StreamConnector::connectSocket() {
  sockaddr_storage ss;
  const socklen_t len = target_.toSockaddr(ss);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    connected();
    return;
  }
  const int err = errno;
  if (err == EAGAIN && family_ == Address::Family::unix) {
    // The listener's backlog is full. A Unix socket does not complete the connection later
    // (and polls writable at once), so try again shortly, until the timeout, as a blocking
    // connect() would wait.
    const std::uint64_t gen = generation_;
    startCall_ = net_.callLater(kUnixRetryDelay, [this, gen] {
      if (gen == generation_ && state_ == State::connecting) connectSocket();
    });
    return;
  }
  if (err == EINPROGRESS || err == EAGAIN || err == EINTR) {
    net_.reactor().addWriter(this);
    return;
  }
  failed(connectFailure(err));
}

void StreamConnector::doWrite() {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    failed(connectFailure(err));
    return;
  }
  connected();
}

void StreamConnector::connected() {
  net_.reactor().removeWriter(this);
  // The timeout's function holds `this`: it must not outlive the attempt.
  if (timeoutCall_.active()) timeoutCall_.cancel();
  timeoutCall_ = DelayedCall();
  const int fd = fd_;
  fd_ = -1;
  std::unique_ptr<Protocol> protocol;
  const Address peer = family_ == Address::Family::unix ? Address::unix(host_) : target_;
  try {
    protocol = factory_->buildProtocol(peer);
  } catch (...) {
    ::close(fd);
    failed(Failure::current());
    return;
  }
  if (!protocol) {
    ::close(fd);
    failed(
        Failure(ConnectError("The factory refused the connection (buildProtocol returned null).")));
    return;
  }
  state_ = State::connected;
  sockaddr_storage ss;
  const socklen_t len = target_.toSockaddr(ss);
  const int family = reinterpret_cast<sockaddr*>(&ss)->sa_family;
  // Keep ourselves alive across the call: makeConnection may drop the caller's last handle.
  auto keep = keepAlive_;
  connection_ = net_.adoptConnected(fd, family, reinterpret_cast<sockaddr*>(&ss), len, factory_,
                                    this, std::move(protocol));
}

void StreamConnector::cleanupAttempt() {
  ++generation_;
  if (timeoutCall_.active()) timeoutCall_.cancel();
  timeoutCall_ = DelayedCall();
  if (startCall_.active()) startCall_.cancel();
  startCall_ = DelayedCall();
  if (resolving_) {
    Deferred<void> r = std::move(resolving_);
    resolving_ = Deferred<void>(nullptr);
    r.cancel();
  }
  if (fd_ >= 0) {
    net_.reactor().removeWriter(this);
    ::close(fd_);
    fd_ = -1;
  }
}

void StreamConnector::failed(const Failure& reason) {
  auto keep = std::move(keepAlive_);
  cleanupAttempt();
  state_ = State::disconnected;
  try {
    factory_->clientConnectionFailed(*this, reason);
  } catch (...) {
    net_.logger().failure("Unhandled error in clientConnectionFailed", Failure::current(),
                          LogLevel::error);
  }
  if (state_ == State::disconnected && factoryStarted_) {
    factoryStarted_ = false;
    factory_->doStop();
  }
}

void StreamConnector::connectionEnded(const Failure& reason) {
  auto keep = std::move(keepAlive_);
  connection_ = nullptr;
  state_ = State::disconnected;
  try {
    factory_->clientConnectionLost(*this, reason);
  } catch (...) {
    net_.logger().failure("Unhandled error in clientConnectionLost", Failure::current(),
                          LogLevel::error);
  }
  if (state_ == State::disconnected && factoryStarted_) {
    factoryStarted_ = false;
    factory_->doStop();
  }
}

void StreamConnector::stopConnecting() {
  if (state_ != State::connecting) {
    throw std::logic_error("stopConnecting(): not connecting");
  }
  failed(Failure(UserError()));
}

void StreamConnector::disconnect() {
  if (state_ == State::connecting) {
    stopConnecting();
  } else if (state_ == State::connected && connection_ != nullptr) {
    connection_->loseConnection();
  }
}

void StreamConnector::connectionLost(const Failure& reason) {
  if (state_ == State::connecting) failed(Failure(ConnectError(reason.getErrorMessage())));
}

void StreamConnector::forget() {
  cleanupAttempt();
  connection_ = nullptr;
  state_ = State::disconnected;
  keepAlive_.reset();
}

void StreamConnector::abandon() {
  if (state_ == State::connecting) {
    failed(Failure(ConnectError("Connection to the other side was lost in a non-clean fashion.")));
  }
}

}  // namespace torsion::detail
