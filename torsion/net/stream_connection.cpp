// A connected stream socket: the transport of one TCP or Unix connection.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "torsion/net/errors.hpp"
#include "torsion/net/network_impl.hpp"

namespace torsion::detail {

namespace {

constexpr int kMaxIov = 64;
// Back-to-back full-buffer reads per readiness.
constexpr int kReadSpins = 7;
// Descriptors carried per received message (SCM_RIGHTS).
constexpr int kMaxFdsPerMessage = 32;

Failure lostBecause(int err) {
  return Failure(ConnectionLost(
      "Connection to the other side was lost in a non-clean fashion: " + errnoText(err) + "."));
}

}  // namespace

StreamConnection::StreamConnection(NetworkImpl& net, int fd, int family, const sockaddr* peer,
                                   socklen_t peerLen, std::unique_ptr<Protocol> protocol,
                                   std::shared_ptr<Factory> factory, StreamConnector* connector)
    : net_(net),
      protocol_(std::move(protocol)),
      factory_(std::move(factory)),
      connector_(connector),
      fd_(fd) {
  if (family == AF_UNIX) flags_ |= kUnix;
  if (family == AF_INET6) flags_ |= kIPv6;
  if (peer != nullptr && family != AF_UNIX) {
    std::memcpy(&peer_, peer, std::min<std::size_t>(peerLen, sizeof peer_));
  }
  if (dynamic_cast<IHalfCloseableProtocol*>(protocol_.get()) != nullptr) flags_ |= kHalfCloseable;
  if (dynamic_cast<IFileDescriptorReceiver*>(protocol_.get()) != nullptr) flags_ |= kFdReceiver;
}

StreamConnection::~StreamConnection() {
  if (fd_ >= 0) ::close(fd_);
  if (pendingFds_) {
    for (int fd : *pendingFds_) ::close(fd);
  }
}

void StreamConnection::start() {
  startReading();
  try {
    protocol_->makeConnection(*this);
  } catch (...) {
    Failure f = Failure::current();
    net_.logger().failure("Unhandled error in connectionMade; dropping the connection", f,
                          LogLevel::error);
    closeNow(f);
  }
}

// ---- reading ------------------------------------------------------------------------------

void StreamConnection::startReading() {
  if (flags_ & (kReading | kDisconnected | kReadShut)) return;
  flags_ |= kReading;
  net_.reactor().addReader(this);
}

void StreamConnection::stopReading() {
  if (!(flags_ & kReading)) return;
  flags_ &= ~kReading;
  net_.reactor().removeReader(this);
}

void StreamConnection::doRead() {
  if (flags_ & (kDisconnected | kReadPaused)) return;
  char* buf = net_.readBuffer();
  if (flags_ & kFdReceiver) {
    readWithFds(buf, NetworkImpl::kReadBufferSize);
    return;
  }
  ssize_t n = ::read(fd_, buf, NetworkImpl::kReadBufferSize);
  // A full buffer means more is probably waiting: read again (a few times) before going back
  // to the poller, unless the protocol paused or closed meanwhile.
  for (int spins = 0; n > 0; ++spins) {
    protocol_->dataReceived(std::string_view(buf, static_cast<std::size_t>(n)));
    if (static_cast<std::size_t>(n) < NetworkImpl::kReadBufferSize || spins == kReadSpins ||
        (flags_ & (kReadPaused | kDisconnecting | kDisconnected | kReadShut))) {
      return;
    }
    n = ::read(fd_, buf, NetworkImpl::kReadBufferSize);
  }
  if (n == 0) {
    // End of file: a half-closeable protocol may go on writing.
    if (flags_ & kHalfCloseable) {
      stopReading();
      flags_ |= kReadShut;
      dynamic_cast<IHalfCloseableProtocol&>(*protocol_).readConnectionLost();
      if ((flags_ & kWriteShut) && !(flags_ & kDisconnected)) closeNow(Failure(ConnectionDone()));
      return;
    }
    closeNow(Failure(ConnectionDone()));
    return;
  }
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
  closeNow(lostBecause(err));
}

void StreamConnection::readWithFds(char* buf, std::size_t size) {
  iovec iov{buf, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
    closeNow(lostBecause(err));
    return;
  }
  auto& receiver = dynamic_cast<IFileDescriptorReceiver&>(*protocol_);
  // Descriptors first: they were sent before (with) the first byte of this data.
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    net_.logger().warn("Descriptors received on a Unix socket were truncated (more than {max})",
                       {{"max", kMaxFdsPerMessage}});
  }
  std::size_t i = 0;
  try {
    for (; i < fds.size(); ++i) receiver.fileDescriptorReceived(fds[i]);
  } catch (...) {
    for (++i; i < fds.size(); ++i) ::close(fds[i]);
    throw;
  }
  if (n > 0) {
    protocol_->dataReceived(std::string_view(buf, static_cast<std::size_t>(n)));
  } else if (fds.empty()) {
    if (flags_ & kHalfCloseable) {
      stopReading();
      flags_ |= kReadShut;
      dynamic_cast<IHalfCloseableProtocol&>(*protocol_).readConnectionLost();
      if ((flags_ & kWriteShut) && !(flags_ & kDisconnected)) closeNow(Failure(ConnectionDone()));
      return;
    }
    closeNow(Failure(ConnectionDone()));
  }
}

// The transport as a push producer of what it reads.
void StreamConnection::pauseProducing() {
  flags_ |= kReadPaused;
  stopReading();
}

void StreamConnection::resumeProducing() {
  if (!(flags_ & kReadPaused)) return;
  flags_ &= ~kReadPaused;
  if (!(flags_ & (kDisconnecting | kDisconnected | kReadShut))) startReading();
}

void StreamConnection::stopProducing() { loseConnection(); }

// ---- writing ------------------------------------------------------------------------------

void StreamConnection::startWriting() {
  if (flags_ & (kWriting | kDisconnected)) return;
  flags_ |= kWriting;
  net_.reactor().addWriter(this);
}

void StreamConnection::stopWriting() {
  if (!(flags_ & kWriting)) return;
  flags_ &= ~kWriting;
  net_.reactor().removeWriter(this);
}

void StreamConnection::write(std::string_view data) {
  if (data.empty()) return;
  const iovec iov{const_cast<char*>(data.data()), data.size()};
  sendDirect(&iov, 1, data.size());
}

void StreamConnection::writeSequence(std::span<const std::string_view> pieces) {
  iovec iov[kMaxIov];
  int count = 0;
  std::size_t total = 0;
  for (std::string_view p : pieces) {
    if (p.empty()) continue;
    if (count == kMaxIov) {
      sendDirect(iov, count, total);
      count = 0;
      total = 0;
    }
    iov[count++] = iovec{const_cast<char*>(p.data()), p.size()};
    total += p.size();
  }
  if (count > 0) sendDirect(iov, count, total);
}

// Sends at once when nothing is queued; queues what the socket does not take.
void StreamConnection::sendDirect(const iovec* iov, int count, std::size_t total) {
  if (flags_ & (kDisconnected | kAbortPending | kWriteShut | kWriteShutPending | kWriteError)) {
    return;
  }
  std::size_t sent = 0;
  if (wbuf_.empty() && !pendingFds_) {
    ssize_t n;
    if (count == 1) {
      n = ::send(fd_, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = const_cast<iovec*>(iov);
      msg.msg_iovlen = static_cast<std::size_t>(count);
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    }
    if (n >= 0) {
      sent = static_cast<std::size_t>(n);
      if (sent == total) {
        // A pull producer is asked for more each time the buffer empties: from doWrite.
        if (producer_ != nullptr && !(flags_ & kStreaming)) startWriting();
        return;
      }
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ENOBUFS) {
      // The connection is broken: report it from doWrite, not from inside this call.
      flags_ |= kWriteError;
      startWriting();
      return;
    }
  }
  // Queue the rest.
  for (int i = 0; i < count; ++i) {
    std::string_view piece(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    if (sent >= piece.size()) {
      sent -= piece.size();
      continue;
    }
    wbuf_.append(piece.substr(sent));
    sent = 0;
  }
  startWriting();
  if (producer_ != nullptr && (flags_ & kStreaming) && !(flags_ & kProducerPaused) &&
      wbuf_.size() > highWater_) {
    flags_ |= kProducerPaused;
    producer_->pauseProducing();
  }
}

void StreamConnection::doWrite() {
  if (flags_ & kDisconnected) return;
  if (flags_ & kWriteError) {
    closeNow(lostBecause(EPIPE));
    return;
  }
  if (pendingFds_) {
    flushPendingFds();
    if (flags_ & kDisconnected) return;
    if (pendingFds_ && !wbuf_.empty()) return;  // the socket is full
  }
  while (!wbuf_.empty()) {
    iovec iov[kMaxIov];
    const int count = wbuf_.fill(iov, kMaxIov);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return;
      closeNow(lostBecause(err));
      return;
    }
    std::size_t queued = 0;
    for (int i = 0; i < count; ++i) queued += iov[i].iov_len;
    wbuf_.consume(static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < queued) return;  // the socket is full
  }
  afterWrite();
}

// The buffer is empty: resume a producer, or go on with a close waiting for the flush.
void StreamConnection::afterWrite() {
  stopWriting();
  if (producer_ != nullptr && (!(flags_ & kStreaming) || (flags_ & kProducerPaused))) {
    flags_ &= ~kProducerPaused;
    producer_->resumeProducing();
    return;
  }
  if (flags_ & kDisconnecting) {
    // Descriptors still pending had no byte to travel with (Twisted's FileDescriptorOverrun).
    closeNow(pendingFds_ ? Failure(ConnectionLost("Descriptors were sent with "
                                                  "sendFileDescriptor but no byte was written "
                                                  "to carry them."))
                         : Failure(ConnectionDone()));
    return;
  }
  if (flags_ & kWriteShutPending) shutWriteSide();
}

void StreamConnection::shutWriteSide() {
  flags_ &= ~kWriteShutPending;
  flags_ |= kWriteShut;
  ::shutdown(fd_, SHUT_WR);
  if (flags_ & kHalfCloseable) {
    dynamic_cast<IHalfCloseableProtocol&>(*protocol_).writeConnectionLost();
  }
  if ((flags_ & kReadShut) && !(flags_ & kDisconnected)) closeNow(Failure(ConnectionDone()));
}

void StreamConnection::sendFileDescriptor(int fd) {
  if (!(flags_ & kUnix)) throw std::logic_error("sendFileDescriptor: not a Unix socket");
  if (flags_ & (kDisconnected | kDisconnecting | kWriteShut)) return;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "sendFileDescriptor");
  if (!pendingFds_) pendingFds_ = std::make_unique<std::vector<int>>();
  pendingFds_->push_back(copy);
  // They travel with the next byte written (a message must carry data, and a byte of our own
  // would show up in the peer's stream): write() queues behind them and starts writing.
  if (!wbuf_.empty()) startWriting();
}

// ---- sendfile -----------------------------------------------------------------------------

SendFileResult StreamConnection::sendFile(int fd, std::uint64_t offset, std::size_t count) {
  if (flags_ & (kDisconnected | kAbortPending | kWriteShut | kWriteShutPending | kWriteError)) {
    return {};
  }
  if (pendingFds_ && wbuf_.empty()) {
    // Descriptors wait for a written byte to travel with: the caller must write bytes.
    return {0, EINVAL};
  }
  if (!wbuf_.empty()) {
    // Earlier bytes first; afterWrite() asks a pull producer again once they are gone.
    startWriting();
    return {};
  }
  if (count == 0) return {};
  if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) return {0, EOVERFLOW};
  // Linux sends at most this much per call anyway.
  count = std::min<std::size_t>(count, 0x7ffff000);
  off_t off = static_cast<off_t>(offset);
  ssize_t n;
  do {
    n = ::sendfile(fd_, fd, &off, count);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    // A pull producer is asked for the rest once the socket can take more: from doWrite.
    if (producer_ != nullptr) startWriting();
    return {static_cast<std::size_t>(n), 0};
  }
  if (n == 0) return {0, ENODATA};  // the file ends before offset
  const int err = errno;
  switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ENOBUFS:
      startWriting();
      return {};
    case EINVAL:
    case ENOSYS:
    case EOPNOTSUPP:
    case ESPIPE:
    case EIO:
    case ENOMEM:
    case EBADF:
    case EOVERFLOW:
      return {0, err};
    default:
      // The connection is broken: report it from doWrite, as a failed send would.
      flags_ |= kWriteError;
      startWriting();
      return {};
  }
}

// Sends the queued descriptors with the first queued bytes (up to kMaxFdsPerMessage per byte).
void StreamConnection::flushPendingFds() {
  std::vector<int>& fds = *pendingFds_;
  while (!fds.empty() && !wbuf_.empty()) {
    const std::size_t batch = std::min<std::size_t>(fds.size(), kMaxFdsPerMessage);
    iovec iov[1];
    wbuf_.fill(iov, 1);
    iov[0].iov_len = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * batch);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * batch);
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * batch);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS) return;
      closeNow(lostBecause(err));
      return;
    }
    wbuf_.consume(1);
    for (std::size_t i = 0; i < batch; ++i) ::close(fds[i]);
    fds.erase(fds.begin(), fds.begin() + static_cast<std::ptrdiff_t>(batch));
  }
  if (fds.empty()) pendingFds_.reset();
}

// ---- producers ----------------------------------------------------------------------------

void StreamConnection::registerProducer(IProducer& producer, bool streaming) {
  if (producer_ != nullptr) {
    throw std::logic_error("Cannot register producer: another producer is already registered");
  }
  if (flags_ & kDisconnected) {
    producer.stopProducing();
    return;
  }
  producer_ = &producer;
  flags_ &= ~(kStreaming | kProducerPaused);
  if (streaming) {
    flags_ |= kStreaming;
    if (wbuf_.size() > highWater_) {
      flags_ |= kProducerPaused;
      producer.pauseProducing();
    }
  } else {
    producer.resumeProducing();
  }
}

void StreamConnection::unregisterProducer() {
  producer_ = nullptr;
  flags_ &= ~(kStreaming | kProducerPaused);
  // A loseConnection waiting for the producer goes on once the buffer is flushed.
  if ((flags_ & (kDisconnecting | kWriteShutPending)) && !(flags_ & kDisconnected)) startWriting();
}

void StreamConnection::setWriteBufferSize(std::size_t bytes) {
  highWater_ = static_cast<std::uint32_t>(std::min<std::size_t>(bytes, 0xffffffffu));
}

// ---- closing ------------------------------------------------------------------------------

void StreamConnection::loseConnection() {
  if (flags_ & (kDisconnecting | kDisconnected | kAbortPending)) return;
  if (flags_ & kWriteShut) {
    // Our side is already shut down: nothing left to flush.
    flags_ |= kDisconnecting;
    stopReading();
    closeNow(Failure(ConnectionDone()));
    return;
  }
  flags_ |= kDisconnecting;
  stopReading();
  startWriting();  // doWrite closes once everything is flushed
}

void StreamConnection::loseWriteConnection() {
  if (flags_ & (kDisconnected | kDisconnecting | kAbortPending | kWriteShut | kWriteShutPending)) {
    return;
  }
  flags_ |= kWriteShutPending;
  startWriting();
}

void StreamConnection::abortConnection() {
  if (flags_ & (kDisconnected | kAbortPending)) return;
  flags_ |= kAbortPending | kDisconnecting;
  wbuf_.clear();
  stopReading();
  stopWriting();
  net_.scheduleAbort(this);
}

void StreamConnection::lose(const Failure& reason) { closeNow(reason); }

void StreamConnection::connectionLost(const Failure& reason) {
  flags_ &= ~(kReading | kWriting);  // the reactor dropped both already
  closeNow(reason);
}

void StreamConnection::closeNow(const Failure& reason) {
  if (flags_ & kDisconnected) return;
  flags_ |= kDisconnected | kDisconnecting;
  stopReading();
  stopWriting();
  if (reason.check<ConnectionAborted>()) {
    // RST instead of FIN, and nothing of the buffer.
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  wbuf_.clear();
  if (producer_ != nullptr) {
    IProducer* p = producer_;
    producer_ = nullptr;
    try {
      p->stopProducing();
    } catch (...) {
      net_.logger().failure("Unhandled error in stopProducing", Failure::current(),
                            LogLevel::error);
    }
  }
  try {
    protocol_->connected = false;
    protocol_->connectionLost(reason);
  } catch (...) {
    net_.logger().failure("Unhandled error in connectionLost", Failure::current(), LogLevel::error);
  }
  if (connector_ != nullptr) {
    StreamConnector* c = connector_;
    connector_ = nullptr;
    c->connectionEnded(reason);
  }
  ::close(fd_);
  fd_ = -1;
  net_.retire(this);
}

// ---- addresses and options ------------------------------------------------------------------

Address StreamConnection::getHost() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

Address StreamConnection::getPeer() const {
  if (flags_ & kUnix) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd_ < 0 || ::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      return Address::unix("");
    }
    return Address::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }
  return Address::fromSockaddr(reinterpret_cast<const sockaddr*>(&peer_),
                               (flags_ & kIPv6) ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}

void StreamConnection::setTcpNoDelay(bool enabled) {
  if (flags_ & kUnix) return;
  const int v = enabled ? 1 : 0;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

bool StreamConnection::getTcpNoDelay() const {
  if (flags_ & kUnix) return false;
  int v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, &len);
  return v != 0;
}

void StreamConnection::setTcpKeepAlive(bool enabled) {
  if (flags_ & kUnix) return;
  const int v = enabled ? 1 : 0;
  ::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
}

bool StreamConnection::getTcpKeepAlive() const {
  if (flags_ & kUnix) return false;
  int v = 0;
  socklen_t len = sizeof v;
  ::getsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &v, &len);
  return v != 0;
}

}  // namespace torsion::detail
