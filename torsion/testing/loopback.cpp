#include "torsion/testing/loopback.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "torsion/log/logger.hpp"
#include "torsion/net/errors.hpp"

namespace torsion::testing {

namespace {

const Logger& loopbackLog() {
  static const Logger log("torsion.testing.loopback");
  return log;
}

// Inside a catch block: logs the exception being handled, as the reactor logs one escaping a
// descriptor's callback.
Failure logCurrent(const char* what, const char* callback) {
  Failure f = Failure::current();
  loopbackLog().failure(what, f, LogLevel::error, {{"callback", callback}});
  return f;
}

void closeAll(std::vector<std::pair<std::uint64_t, int>>& fds) noexcept {
  for (const auto& [offset, fd] : fds) ::close(fd);
  fds.clear();
}

}  // namespace

// ---- FakeTransport::Bytes and Pipe ----------------------------------------------------------

void FakeTransport::Bytes::consume(std::size_t n) {
  head_ += n;
  if (head_ >= data_.size()) {
    clear();
  } else if (head_ >= 64 * 1024 && head_ * 2 >= data_.size()) {
    // Compact once the consumed front is large, so a long transfer costs O(n) overall.
    data_.erase(0, head_);
    head_ = 0;
  }
}

FakeTransport::Pipe::~Pipe() { closeFds(); }

void FakeTransport::Pipe::closeFds() noexcept {
  for (const auto& [offset, fd] : fds) ::close(fd);
  fds.clear();
}

// ---- FakeTransport ------------------------------------------------------------------------

FakeTransport::FakeTransport(const LoopbackOptions& options, Address host, Address peer,
                             Protocol* protocol, std::unique_ptr<Protocol> owned,
                             std::shared_ptr<Factory> factory)
    : socketBufferSize_(options.socketBufferSize),
      readSize_(std::max<std::size_t>(options.readSize, 1)),
      host_(std::move(host)),
      peerAddress_(std::move(peer)),
      protocol_(protocol),
      owned_(std::move(owned)),
      factory_(std::move(factory)),
      halfCloseable_(dynamic_cast<IHalfCloseableProtocol*>(protocol)),
      fdReceiver_(dynamic_cast<IFileDescriptorReceiver*>(protocol)) {}

FakeTransport::~FakeTransport() {
  owned_.reset();  // the protocol first: it may still look at its transport
  closeAll(fds_);
}

void FakeTransport::start() {
  if (protocol_ == nullptr) {
    // Refused: the peer was connected, and now reads end of file.
    closeNow(Failure(ConnectionDone()));
    return;
  }
  try {
    protocol_->makeConnection(*this);
  } catch (...) {
    callbackFailed("connectionMade");
  }
}

void FakeTransport::callbackFailed(const char* callback) {
  closeNow(logCurrent("Unhandled error in {callback}; dropping the connection", callback));
}

// The peer is gone and a write would fail (EPIPE / reset): after an abort of the peer, or once
// this side has read the end of file of a peer that closed completely.
bool FakeTransport::peerGone() const noexcept {
  return peer_->out_.reset || (peer_->disconnected_ && peer_->out_.finDelivered);
}

// ---- writing --------------------------------------------------------------------------------

void FakeTransport::write(std::string_view data) {
  if (data.empty() || !accepting()) return;
  send(data);
}

void FakeTransport::writeSequence(std::span<const std::string_view> pieces) {
  if (!accepting()) return;
  for (const std::string_view piece : pieces) {
    if (!piece.empty()) send(piece);
  }
}

void FakeTransport::send(std::string_view data) {
  written_ += data.size();
  writing_ = true;
  if (queue_.empty()) {
    // Straight "to the socket", as far as the in-flight buffer has room.
    const std::size_t room =
        socketBufferSize_ > out_.bytes.size() ? socketBufferSize_ - out_.bytes.size() : 0;
    const std::size_t n = std::min(room, data.size());
    moveToPipe(n, data);
    data.remove_prefix(n);
  }
  if (data.empty()) return;
  queue_.append(data);
  if (producer_ != nullptr && streaming_ && !producerPaused_ && queue_.size() > highWater_) {
    producerPaused_ = true;
    producer_->pauseProducing();
  }
}

void FakeTransport::moveToPipe(std::size_t n, std::string_view from) {
  if (n == 0) return;
  out_.bytes.append(from.substr(0, n));
  const std::uint64_t end = out_.readOffset + out_.bytes.size();
  // Descriptors travel with the first byte written after them.
  auto it = fds_.begin();
  while (it != fds_.end() && it->first < end) {
    out_.fds.push_back(*it);
    ++it;
  }
  fds_.erase(fds_.begin(), it);
}

void FakeTransport::sendFileDescriptor(int fd) {
  if (disconnected_ || disconnecting_ || abortPending_ || writeShut_) return;
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "sendFileDescriptor");
  fds_.emplace_back(written_, copy);
  writing_ = true;
}

bool FakeTransport::doWrite() {
  if (disconnected_ || abortPending_) return false;
  if ((!queue_.empty() || !out_.bytes.empty()) && peerGone()) {
    closeNow(Failure(ConnectionLost(
        "Connection to the other side was lost in a non-clean fashion: Broken pipe.")));
    return true;
  }
  bool moved = false;
  if (!queue_.empty()) {
    const std::size_t room =
        socketBufferSize_ > out_.bytes.size() ? socketBufferSize_ - out_.bytes.size() : 0;
    const std::size_t n = std::min(room, queue_.size());
    if (n > 0) {
      moveToPipe(n, queue_.view());
      queue_.consume(n);
      moved = true;
    }
  }
  if (queue_.empty() && writing_) {
    writing_ = false;
    moved = afterWrite() || moved;
  }
  return moved;
}

// The queue has drained: resume a producer, or go on with a close that waited for the flush.
bool FakeTransport::afterWrite() {
  if (producer_ != nullptr && (!streaming_ || producerPaused_)) {
    producerPaused_ = false;
    try {
      producer_->resumeProducing();
    } catch (...) {
      callbackFailed("resumeProducing");
    }
    return true;
  }
  if (disconnecting_) {
    closeNow(Failure(ConnectionDone()));
    return true;
  }
  if (writeShutPending_) {
    shutWriteSide();
    return true;
  }
  return false;
}

void FakeTransport::shutWriteSide() {
  writeShutPending_ = false;
  writeShut_ = true;
  out_.fin = true;
  closeAll(fds_);  // no byte will carry them now
  if (halfCloseable_ != nullptr) {
    try {
      halfCloseable_->writeConnectionLost();
    } catch (...) {
      callbackFailed("writeConnectionLost");
      return;
    }
  }
  if (readShut_ && !disconnected_) closeNow(Failure(ConnectionDone()));
}

// ---- reading --------------------------------------------------------------------------------

bool FakeTransport::doRead() {
  if (!reading()) return false;
  Pipe& in = peer_->out_;
  if (in.reset) {
    closeNow(Failure(ConnectionLost(
        "Connection to the other side was lost in a non-clean fashion: Connection reset by "
        "peer.")));
    return true;
  }
  bool moved = false;
  while (reading() && !in.bytes.empty()) {
    deliverFds(in.readOffset);
    if (!reading()) break;
    std::size_t n = std::min(readSize_, in.bytes.size());
    if (!in.fds.empty()) {
      // Stop before the byte the next descriptor goes with.
      n = std::min<std::size_t>(n, in.fds.front().first - in.readOffset);
    }
    // A copy: the protocol may make its peer write (and the pipe grow) while it looks.
    const std::string chunk(in.bytes.view().substr(0, n));
    in.bytes.consume(n);
    in.readOffset += n;
    moved = true;
    try {
      protocol_->dataReceived(chunk);
    } catch (...) {
      callbackFailed("dataReceived");
    }
  }
  if (reading() && in.bytes.empty() && in.fin && !in.finDelivered) {
    in.finDelivered = true;
    moved = true;
    readEndOfFile();
  }
  return moved;
}

void FakeTransport::deliverFds(std::uint64_t upTo) {
  Pipe& in = peer_->out_;
  while (!in.fds.empty() && in.fds.front().first <= upTo && !disconnected_) {
    const int fd = in.fds.front().second;
    in.fds.pop_front();
    if (fdReceiver_ == nullptr) {
      ::close(fd);  // as the kernel does for a reader that does not ask for descriptors
      continue;
    }
    try {
      fdReceiver_->fileDescriptorReceived(fd);
    } catch (...) {
      callbackFailed("fileDescriptorReceived");
    }
  }
}

void FakeTransport::readEndOfFile() {
  if (halfCloseable_ == nullptr) {
    closeNow(Failure(ConnectionDone()));
    return;
  }
  readShut_ = true;
  try {
    halfCloseable_->readConnectionLost();
  } catch (...) {
    callbackFailed("readConnectionLost");
    return;
  }
  if (writeShut_ && !disconnected_) closeNow(Failure(ConnectionDone()));
}

// ---- producers --------------------------------------------------------------------------------

void FakeTransport::registerProducer(IProducer& producer, bool streaming) {
  if (producer_ != nullptr) {
    throw std::logic_error("Cannot register producer: another producer is already registered");
  }
  if (disconnected_) {
    producer.stopProducing();
    return;
  }
  producer_ = &producer;
  streaming_ = streaming;
  producerPaused_ = false;
  if (streaming) {
    if (queue_.size() > highWater_) {
      producerPaused_ = true;
      producer.pauseProducing();
    }
  } else {
    producer.resumeProducing();
  }
}

void FakeTransport::unregisterProducer() {
  producer_ = nullptr;
  streaming_ = false;
  producerPaused_ = false;
  // A close waiting for the producer goes on once the queue is flushed.
  if ((disconnecting_ || writeShutPending_) && !disconnected_ && !abortPending_) writing_ = true;
}

// ---- closing ----------------------------------------------------------------------------------

void FakeTransport::loseConnection() {
  if (disconnecting_ || disconnected_ || abortPending_) return;
  disconnecting_ = true;
  if (writeShut_) {
    // Nothing left to flush: this side is already shut.
    closeNow(Failure(ConnectionDone()));
    return;
  }
  writing_ = true;
}

void FakeTransport::loseWriteConnection() {
  if (disconnected_ || disconnecting_ || abortPending_ || writeShut_ || writeShutPending_) return;
  writeShutPending_ = true;
  writing_ = true;
}

void FakeTransport::abortConnection() {
  if (disconnected_ || abortPending_) return;
  abortPending_ = true;
  disconnecting_ = true;
  writing_ = false;
  queue_.clear();
  out_.bytes.clear();
  out_.closeFds();
  closeAll(fds_);
}

bool FakeTransport::processAbort() {
  if (!abortPending_ || disconnected_) return false;
  closeNow(Failure(ConnectionAborted()));
  return true;
}

void FakeTransport::closeNow(const Failure& reason) {
  if (disconnected_) return;
  disconnected_ = true;
  disconnecting_ = true;
  writing_ = false;
  abortPending_ = false;
  if (reason.check<ConnectionAborted>()) {
    out_.bytes.clear();
    out_.closeFds();
    out_.reset = true;
  } else {
    out_.fin = true;
  }
  queue_.clear();
  closeAll(fds_);
  peer_->out_.closeFds();  // descriptors on their way here: nobody will take them
  if (producer_ != nullptr) {
    IProducer* p = std::exchange(producer_, nullptr);
    streaming_ = false;
    producerPaused_ = false;
    try {
      p->stopProducing();
    } catch (...) {
      logCurrent("Unhandled error in {callback}", "stopProducing");
    }
  }
  if (protocol_ != nullptr) {
    protocol_->connected = false;
    try {
      protocol_->connectionLost(reason);
    } catch (...) {
      logCurrent("Unhandled error in {callback}", "connectionLost");
    }
  }
  if (afterLost_) {
    try {
      std::exchange(afterLost_, nullptr)(reason);
    } catch (...) {
      logCurrent("Unhandled error in {callback}", "clientConnectionLost");
    }
  }
}

// ---- IOPump -----------------------------------------------------------------------------------

IOPump::IOPump(const LoopbackOptions& options, Protocol* server,
               std::unique_ptr<Protocol> ownedServer, std::shared_ptr<Factory> factory,
               Protocol* client, std::unique_ptr<Protocol> ownedClient)
    : options_(options) {
  server_.reset(new FakeTransport(options_, options_.serverAddress, options_.clientAddress, server,
                                  std::move(ownedServer), std::move(factory)));
  client_.reset(new FakeTransport(options_, options_.clientAddress, options_.serverAddress, client,
                                  std::move(ownedClient), nullptr));
  server_->peer_ = client_.get();
  client_->peer_ = server_.get();
}

IOPump::IOPump(IOPump&&) noexcept = default;
IOPump::~IOPump() = default;

void IOPump::start() {
  server_->start();
  client_->start();
  if (options_.greet) flush();
}

bool IOPump::pump() {
  if (!server_) throw std::logic_error("IOPump::pump: use of a moved-from IOPump");
  if (options_.clock != nullptr) options_.clock->advance(Seconds(0));
  bool moved = false;
  moved = client_->processAbort() || moved;
  moved = server_->processAbort() || moved;
  moved = server_->doRead() || moved;
  moved = client_->doRead() || moved;
  moved = client_->doWrite() || moved;
  moved = server_->doWrite() || moved;
  return moved;
}

bool IOPump::flush() {
  bool any = false;
  for (std::size_t rounds = 0; pump(); ++rounds) {
    any = true;
    if (rounds + 1 >= options_.maxFlushPumps) {
      throw std::runtime_error("IOPump::flush: still busy after " + std::to_string(rounds + 1) +
                               " pumps (a producer that never stops?)");
    }
  }
  return any;
}

IOPump connect(Protocol& server, Protocol& client, const LoopbackOptions& options) {
  IOPump pump(options, &server, nullptr, nullptr, &client, nullptr);
  pump.start();
  return pump;
}

IOPump connect(std::unique_ptr<Protocol> server, std::unique_ptr<Protocol> client,
               const LoopbackOptions& options) {
  Protocol* s = server.get();
  Protocol* c = client.get();
  IOPump pump(options, s, std::move(server), nullptr, c, std::move(client));
  pump.start();
  return pump;
}

IOPump connect(std::shared_ptr<Factory> serverFactory, std::unique_ptr<Protocol> client,
               const LoopbackOptions& options) {
  std::unique_ptr<Protocol> server;
  try {
    server = serverFactory->buildProtocol(options.clientAddress);
  } catch (...) {
    logCurrent("Unhandled error in {callback}; refusing the connection", "buildProtocol");
  }
  Protocol* s = server.get();
  Protocol* c = client.get();
  IOPump pump(options, s, std::move(server), std::move(serverFactory), c, std::move(client));
  pump.start();
  return pump;
}

}  // namespace torsion::testing
