// StringTransport: a transport that records what a protocol does to it, for testing protocols
// without sockets (Twisted's twisted.internet.testing.StringTransport and
// StringTransportWithDisconnection).
//
//   torsion::testing::StringTransport transport;
//   Echo protocol;
//   protocol.makeConnection(transport);
//   protocol.dataReceived("hello");
//   EXPECT_EQ(transport.value(), "hello");
//
// A StringTransport sends nothing anywhere: every write is appended to value(), and every
// other call only changes a flag the test can read. It follows Twisted's StringTransport
// rather than a real transport where they differ, because tests are written against that:
//   - writes are recorded in every state (after loseConnection(), loseWriteConnection() or
//     abortConnection() too), so a test can see a protocol that writes when it should not;
//   - loseConnection() does not call connectionLost (StringTransportWithDisconnection does);
//   - registerProducer() neither calls a pull producer's resumeProducing() nor stops the
//     producer of a closed transport: the test drives the producer itself;
//   - pauseProducing()/resumeProducing() (the read side) throw std::logic_error once
//     loseConnection() was called or after stopProducing(), as Twisted raises RuntimeError.
// Single-threaded, like the protocol under test.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torsion/net/address.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/net/transport.hpp"

namespace torsion::testing {

class StringTransport : public IUNIXTransport {
 public:
  // The transport's own read side, as pauseProducing/resumeProducing/stopProducing left it.
  static constexpr std::string_view kProducing = "producing";
  static constexpr std::string_view kPaused = "paused";
  static constexpr std::string_view kStopped = "stopped";

  // Host IPv4 TCP 10.0.0.1:12345 and peer 192.168.1.1:54321, as Twisted's defaults.
  StringTransport();
  StringTransport(Address host, Address peer);

  // ---- what the protocol wrote -------------------------------------------------------------
  // Everything written since construction or the last clear(), in order.
  std::string value() const { return written_; }
  // Forgets what was written so far (the flags stay).
  void clear() { written_.clear(); }

  // ---- ITransport ----------------------------------------------------------------------------
  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  // Sets disconnecting(); nothing else (see StringTransportWithDisconnection).
  void loseConnection() override;
  // Sets aborted() and disconnecting().
  void abortConnection() override;
  // Sets writeConnectionLost().
  void loseWriteConnection() override;
  bool disconnecting() const noexcept override { return disconnecting_; }
  // Always 0: a StringTransport takes everything at once.
  std::size_t bufferedBytes() const noexcept override { return 0; }
  void setWriteBufferSize(std::size_t bytes) override { writeBufferSize_ = bytes; }
  Address getHost() const override { return host_; }
  Address getPeer() const override { return peer_; }
  // The options are remembered and reported back, as on a TCP socket.
  void setTcpNoDelay(bool enabled) override { noDelay_ = enabled; }
  bool getTcpNoDelay() const override { return noDelay_; }
  void setTcpKeepAlive(bool enabled) override { keepAlive_ = enabled; }
  bool getTcpKeepAlive() const override { return keepAlive_; }

  // ---- IConsumer -----------------------------------------------------------------------------
  // Remembers the producer. Throws std::logic_error if one is registered already.
  void registerProducer(IProducer& producer, bool streaming) override;
  // Forgets it. Throws std::logic_error if none is registered.
  void unregisterProducer() override;

  // ---- the read side (IPushProducer) ---------------------------------------------------------
  // Sets producerState() to "paused"; throws std::logic_error after loseConnection() or
  // stopProducing().
  void pauseProducing() override;
  // Sets producerState() to "producing"; throws as pauseProducing() does.
  void resumeProducing() override;
  // Sets producerState() to "stopped".
  void stopProducing() override;

  // ---- IUNIXTransport ------------------------------------------------------------------------
  // Records `fd` (not duplicated: the test owns it) in fileDescriptors().
  void sendFileDescriptor(int fd) override { fileDescriptors_.push_back(fd); }

  // ---- what the test reads -------------------------------------------------------------------
  // abortConnection() was called.
  bool aborted() const noexcept { return aborted_; }
  // loseWriteConnection() was called.
  bool writeConnectionLost() const noexcept { return writeConnectionLost_; }
  // The registered producer, or null.
  IProducer* producer() const noexcept { return producer_; }
  // What registerProducer() was told (false when none is registered).
  bool streaming() const noexcept { return streaming_; }
  // "producing", "paused" or "stopped": the state of the transport's own read side.
  std::string_view producerState() const noexcept { return producerState_; }
  // Descriptors passed to sendFileDescriptor(), in order.
  const std::vector<int>& fileDescriptors() const noexcept { return fileDescriptors_; }
  // The last setWriteBufferSize() (64 KiB by default, as a real transport).
  std::size_t writeBufferSize() const noexcept { return writeBufferSize_; }
  // Number of write()/writeSequence() calls, for tests that care how output was split.
  std::size_t writeCount() const noexcept { return writeCount_; }

  // Changes the addresses getHost()/getPeer() report.
  void setHost(Address host) { host_ = std::move(host); }
  void setPeer(Address peer) { peer_ = std::move(peer); }

 protected:
  bool disconnecting_ = false;

 private:
  void checkState(const char* what) const;

  std::string written_;
  Address host_;
  Address peer_;
  IProducer* producer_ = nullptr;
  bool streaming_ = false;
  std::string_view producerState_ = kProducing;
  bool aborted_ = false;
  bool writeConnectionLost_ = false;
  bool noDelay_ = false;
  bool keepAlive_ = false;
  std::size_t writeBufferSize_ = 64 * 1024;
  std::size_t writeCount_ = 0;
  std::vector<int> fileDescriptors_;
};

// A StringTransport whose loseConnection() tells the protocol: the first loseConnection() (or
// abortConnection()) calls protocol->connectionLost() with ConnectionDone (ConnectionAborted
// for an abort), inside the call, after clearing protocol->connected; later calls do nothing.
// The protocol is set with the constructor or setProtocol(), or is the one whose
// makeConnection() this transport was given through connect().
class StringTransportWithDisconnection : public StringTransport {
 public:
  StringTransportWithDisconnection() = default;
  explicit StringTransportWithDisconnection(Protocol& protocol) : protocol_(&protocol) {}
  StringTransportWithDisconnection(Address host, Address peer)
      : StringTransport(std::move(host), std::move(peer)) {}

  void setProtocol(Protocol& protocol) noexcept { protocol_ = &protocol; }
  // setProtocol(protocol), then protocol.makeConnection(*this).
  void connect(Protocol& protocol);
  Protocol* protocol() const noexcept { return protocol_; }
  // True until connectionLost was delivered.
  bool connected() const noexcept { return connected_; }

  void loseConnection() override;
  void abortConnection() override;

 private:
  void disconnect(const Failure& reason);

  Protocol* protocol_ = nullptr;
  bool connected_ = true;
};

}  // namespace torsion::testing
