// A listening stream socket: accepts in batches (Twisted's adaptive count) and survives
// running out of descriptors.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "torsion/net/errors.hpp"
#include "torsion/net/network_impl.hpp"

namespace torsion::detail {

StreamPort::StreamPort(NetworkImpl& net, int fd, int family, std::shared_ptr<Factory> factory,
                       std::string unixPath, std::string lockPath)
    : net_(net),
      factory_(std::move(factory)),
      unixPath_(std::move(unixPath)),
      lockPath_(std::move(lockPath)),
      fd_(fd),
      family_(family) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    host_ = Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }
}

StreamPort::~StreamPort() {
  if (fd_ >= 0) {
    net_.reactor().removeReader(this);
    ::close(fd_);
  }
}

void StreamPort::start() {
  factory_->doStart();
  net_.reactor().addReader(this);
}

Address StreamPort::getHost() const { return host_; }

void StreamPort::close() {
  if (fd_ < 0) return;
  net_.reactor().removeReader(this);
  ::close(fd_);
  fd_ = -1;
  if (!unixPath_.empty()) ::unlink(unixPath_.c_str());
  if (!lockPath_.empty()) ::unlink(lockPath_.c_str());
}

Deferred<void> StreamPort::stopListening() {
  if (fd_ < 0) return succeed();
  close();
  Deferred<void> done;
  Deferred<void> result = done;
  try {
    factory_->doStop();
  } catch (...) {
    net_.logger().failure("Unhandled error in stopFactory", Failure::current(), LogLevel::error);
  }
  net_.portStopped(this, std::move(done));
  return result;
}

void StreamPort::connectionLost(const Failure& reason) {
  (void)reason;
  stopListening();
}

void StreamPort::doRead() {
  int accepted = 0;
  for (; accepted < numberAccepts_ && fd_ >= 0; ++accepted) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd =
        ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EINTR || err == EPERM || err == ECONNABORTED) continue;  // next one
      if (err == EMFILE) {
        acceptOverflow();
        break;
      }
      if (err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        net_.logger().error("Could not accept new connection ({error})",
                            {{"error", errnoText(err)}});
        break;
      }
      net_.logger().error("Could not accept new connection ({error})", {{"error", errnoText(err)}});
      break;
    }
    const Address peer = family_ == AF_UNIX
                             ? Address::unix("")
                             : Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    std::unique_ptr<Protocol> protocol;
    try {
      protocol = factory_->buildProtocol(peer);
    } catch (...) {
      net_.logger().failure("Unhandled error in buildProtocol; connection refused",
                            Failure::current(), LogLevel::error);
    }
    net_.adoptConnected(fd, family_, reinterpret_cast<sockaddr*>(&ss), len, factory_, nullptr,
                        std::move(protocol));
  }
  // Twisted's adaptive batch: grow while the batch is filled, else shrink to what came.
  if (accepted == numberAccepts_) {
    numberAccepts_ += 20;
  } else {
    numberAccepts_ = std::max(1, accepted);
  }
}

// Out of descriptors: free the reserved one, accept and close every pending connection (so
// their clients see a close rather than a hang, and the loop does not spin on a readable
// listener), then reserve it again.
void StreamPort::acceptOverflow() {
  net_.logger().error("Out of file descriptors: closing pending connections on {port}",
                      {{"port", host_.toString()}});
  net_.withSpareDescriptor([this] {
    for (int i = 0; i < 1000; ++i) {
      const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      ::close(fd);
    }
  });
}

}  // namespace torsion::detail
