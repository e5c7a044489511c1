// ITransport: one end of a byte stream, as a Protocol sees it (Twisted's ITransport,
// ITCPTransport, IHalfCloseableDescriptor, and the IPushProducer a transport is for reads).
//
// All methods are called on the reactor thread. A transport is valid from the protocol's
// makeConnection() until its connectionLost() returns; after that the protocol must not use
// it. Calls made while the connection is closing are defined: writes after loseConnection()
// are still sent; writes after the connection is gone or its write side was shut down are
// ignored; a second loseConnection()/abortConnection() does nothing.
#pragma once

#include <span>
#include <string_view>

#include "torsion/net/address.hpp"
#include "torsion/net/producer.hpp"

namespace torsion {

class ITransport : public IConsumer, public IProducer {
 public:
  // ---- writing (IConsumer) --------------------------------------------------------------
  // Sends data, in order with every other write. Data goes straight to the socket when
  // nothing is queued; the rest is copied into the transport's buffer and flushed as the
  // socket accepts it (writev). A registered push producer is paused while the buffer is
  // above the high-water mark.
  void write(std::string_view data) override = 0;
  // Sends several pieces as one write (one writev when nothing is queued).
  virtual void writeSequence(std::span<const std::string_view> pieces) = 0;

  // ---- closing ----------------------------------------------------------------------------
  // Stops reading, flushes everything written (and what a registered producer still writes:
  // the close waits until it is unregistered), then closes; the protocol gets
  // connectionLost(ConnectionDone).
  virtual void loseConnection() = 0;
  // Drops what is queued and closes at once, sending a TCP RST; the protocol gets
  // connectionLost(ConnectionAborted) from the reactor (not from inside this call).
  virtual void abortConnection() = 0;
  // Half-close: flushes, then shuts the write side down (the peer reads end of file); the
  // protocol, if it is an IHalfCloseableProtocol, gets writeConnectionLost(). Reading goes on.
  virtual void loseWriteConnection() = 0;

  // ---- state ------------------------------------------------------------------------------
  // True once loseConnection()/abortConnection() was called or the connection is gone.
  virtual bool disconnecting() const noexcept = 0;
  // Bytes queued and not yet accepted by the socket.
  virtual std::size_t bufferedBytes() const noexcept = 0;
  // The high-water mark above which a push producer is paused (64 KiB by default).
  virtual void setWriteBufferSize(std::size_t bytes) = 0;

  // ---- addresses and socket options --------------------------------------------------------
  virtual Address getHost() const = 0;
  virtual Address getPeer() const = 0;
  // TCP only (no-ops returning false elsewhere).
  virtual void setTcpNoDelay(bool enabled) { (void)enabled; }
  virtual bool getTcpNoDelay() const { return false; }
  virtual void setTcpKeepAlive(bool enabled) { (void)enabled; }
  virtual bool getTcpKeepAlive() const { return false; }

  // ---- the transport as a push producer of the bytes it reads -------------------------------
  // pauseProducing() stops reading (dataReceived is not called until resumeProducing());
  // stopProducing() loses the connection. Once the connection is closing or gone, pause and
  // resume are harmless no-ops (reading never restarts after loseConnection), so a protocol
  // may call them from any of its callbacks. (testing::StringTransport, a recorder, is
  // stricter and throws, as Twisted's does, to catch protocols that rely on it.)
  void pauseProducing() override = 0;
  void resumeProducing() override = 0;
  void stopProducing() override = 0;
};

// Unix stream transports can pass open descriptors to the peer (SCM_RIGHTS).
class IUNIXTransport : public ITransport {
 public:
  // Queues a copy of `fd` (the caller keeps its own) to go with the next byte written: call
  // write() after it. The receiving protocol must be an IFileDescriptorReceiver.
  virtual void sendFileDescriptor(int fd) = 0;
};

}  // namespace torsion
