// The in-memory loopback: two protocols connected through a pair of FakeTransports, moved
// along by an IOPump (Twisted's twisted.test.iosim: FakeTransport, IOPump, connect,
// connectedServerAndClient).
//
//   auto c = torsion::testing::connectedServerAndClient(std::make_unique<EchoServer>(),
//                                                       std::make_unique<EchoClient>());
//   c.client->transport->write("hello");
//   c.pump.flush();                        // until nothing moves any more
//   EXPECT_EQ(c.client->received, "hello");
//
// Nothing happens between pumps: a write is only delivered, a close only completed, an abort
// only reported, inside pump() or flush(). That makes a conversation between a client and a
// server deterministic and fast, with no reactor and no socket.
//
// FakeTransport keeps the whole ITransport contract as the real TCP and Unix transports do, so
// that the transport conformance suite can run the same tests against all three:
//   - write() goes "to the socket" at once when nothing is queued: each direction has an
//     in-flight buffer of LoopbackOptions::socketBufferSize bytes (the kernel's socket
//     buffers); what does not fit is queued in the transport (bufferedBytes()) and moved as the
//     peer reads. Writes after the connection is gone, after loseWriteConnection() or during an
//     abort are ignored; writes after loseConnection() are still sent.
//   - A registered push producer is paused when the queue goes over the high-water mark
//     (setWriteBufferSize, 64 KiB) and resumed once it has drained; a pull producer gets
//     resumeProducing() when registered and each time the queue has drained after a write.
//     A close waiting for the flush waits, instead, for a pull or paused push producer to be
//     unregistered (it is asked to resume meanwhile).
//   - loseConnection() stops reading, flushes, then closes: this side gets
//     connectionLost(ConnectionDone), the peer reads everything and then end of file. End of
//     file gives the peer connectionLost(ConnectionDone), or, for an IHalfCloseableProtocol,
//     readConnectionLost() (it may go on writing; once the other side is gone, its next write
//     loses the connection with ConnectionLost, as a reset would).
//   - abortConnection() drops what is queued or in flight at once; at the next pump this side
//     gets connectionLost(ConnectionAborted) and the peer ConnectionLost (a reset), unless the
//     peer is neither reading nor writing (paused, as a real socket would not notice then).
//   - loseWriteConnection() flushes, then shuts the write side: writeConnectionLost() for an
//     IHalfCloseableProtocol, end of file for the peer. Once both directions are shut, the
//     connection closes with ConnectionDone. loseConnection() after it closes at once.
//   - pauseProducing() on a transport stops delivery to its protocol (the data waits in flight,
//     and then in the peer's queue, which pauses the peer's producer); resumeProducing()
//     delivers again from the next pump; stopProducing() is loseConnection().
//   - An exception escaping a protocol callback (connectionMade, dataReceived,
//     readConnectionLost, writeConnectionLost, fileDescriptorReceived, or a producer's
//     resumeProducing called by the transport) is logged (an error event with its Failure,
//     namespace "torsion.testing.loopback": take it with flushLoggedErrors) and drops that
//     connection at once with the exception as the reason; the peer then reads end of file.
//     An exception from connectionLost or stopProducing is logged only.
//   - sendFileDescriptor() passes a duplicate of the descriptor with the next byte written;
//     the peer's IFileDescriptorReceiver gets it (and owns it) just before that byte's
//     dataReceived; a peer that is not one, or a connection that ends first, closes it.
// Where a real socket would be racy, the loopback picks the orderly outcome: closing with
// unread data delivers end of file to the peer (Linux may send a reset).
//
// The connection's protocols get makeConnection() inside connect() (the server's first);
// greet (on by default) then flushes, so that greetings have arrived when it returns.
// Single-threaded. The IOPump owns the transports (and the protocols given as unique_ptr);
// destroying it forgets open connections without calling connectionLost, and closes the
// descriptors still in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torsion/defer/failure.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/net/transport.hpp"
#include "torsion/testing/clock.hpp"

namespace torsion::testing {

struct LoopbackOptions {
  // What the server's getHost() and the client's getPeer() report, and the other way round.
  Address serverAddress = Address::ip("127.0.0.1", 12345);
  Address clientAddress = Address::ip("127.0.0.1", 54321);
  // Bytes each direction holds in flight before the writer's transport starts queueing.
  std::size_t socketBufferSize = 64 * 1024;
  // The most one dataReceived() gets (a real transport reads 64 KiB at a time); 1 delivers
  // byte by byte, to test a framing protocol against every split.
  std::size_t readSize = 64 * 1024;
  // flush() once after connecting.
  bool greet = true;
  // If set, pump() first runs its due calls (clock->advance(0)), as iosim's pump does.
  Clock* clock = nullptr;
  // flush() gives up (std::runtime_error) after this many pumps that moved something.
  std::size_t maxFlushPumps = 100000;
};

class IOPump;

// One end of a loopback connection: the transport its protocol sees.
class FakeTransport final : public IUNIXTransport {
 public:
  FakeTransport(const FakeTransport&) = delete;
  FakeTransport& operator=(const FakeTransport&) = delete;
  ~FakeTransport() override;

  // ---- ITransport ---------------------------------------------------------------------------
  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  void loseConnection() override;
  void abortConnection() override;
  void loseWriteConnection() override;
  bool disconnecting() const noexcept override { return disconnecting_; }
  std::size_t bufferedBytes() const noexcept override { return queue_.size(); }
  void setWriteBufferSize(std::size_t bytes) override { highWater_ = bytes; }
  Address getHost() const override { return host_; }
  Address getPeer() const override { return peerAddress_; }
  // Remembered and reported back, as by a TCP socket.
  void setTcpNoDelay(bool enabled) override { noDelay_ = enabled; }
  bool getTcpNoDelay() const override { return noDelay_; }
  void setTcpKeepAlive(bool enabled) override { keepAlive_ = enabled; }
  bool getTcpKeepAlive() const override { return keepAlive_; }
  void registerProducer(IProducer& producer, bool streaming) override;
  void unregisterProducer() override;
  void pauseProducing() override { readPaused_ = true; }
  void resumeProducing() override { readPaused_ = false; }
  void stopProducing() override { loseConnection(); }
  // Throws std::system_error if `fd` cannot be duplicated.
  void sendFileDescriptor(int fd) override;

  // ---- what a test may read ------------------------------------------------------------------
  // The protocol of this end (null if the server's factory refused the connection).
  Protocol* protocol() const noexcept { return protocol_; }
  FakeTransport& peer() const noexcept { return *peer_; }
  // connectionLost has been delivered.
  bool disconnected() const noexcept { return disconnected_; }
  bool readPaused() const noexcept { return readPaused_; }
  // The write side is shut (after loseWriteConnection) / end of file was read.
  bool writeShut() const noexcept { return writeShut_; }
  bool readShut() const noexcept { return readShut_; }
  IProducer* producer() const noexcept { return producer_; }
  bool streaming() const noexcept { return streaming_; }
  bool producerPaused() const noexcept { return producerPaused_; }
  // Bytes written and sent on their way, not yet read by the peer's protocol.
  std::size_t inFlightBytes() const noexcept { return out_.bytes.size(); }

 private:
  friend class IOPump;
  friend class ConnectionCompleter;

  // A byte queue that consumes from the front without moving what is left each time.
  class Bytes {
   public:
    std::size_t size() const noexcept { return data_.size() - head_; }
    bool empty() const noexcept { return size() == 0; }
    std::string_view view() const noexcept { return std::string_view(data_).substr(head_); }
    void append(std::string_view s) { data_.append(s); }
    void consume(std::size_t n);
    void clear() noexcept {
      data_.clear();
      head_ = 0;
    }

   private:
    std::string data_;
    std::size_t head_ = 0;
  };

  // One direction of the connection, as the writer's kernel and the reader's see it.
  struct Pipe {
    Bytes bytes;
    std::uint64_t readOffset = 0;                   // stream offset of bytes.view()[0]
    std::deque<std::pair<std::uint64_t, int>> fds;  // (offset of the byte they go with, fd)
    bool fin = false;           // the writer shut its side: end of file after the bytes
    bool finDelivered = false;  // the reader has seen that end of file
    bool reset = false;         // the writer aborted: the reader gets ConnectionLost
    ~Pipe();
    void closeFds() noexcept;
  };

  FakeTransport(const LoopbackOptions& options, Address host, Address peer, Protocol* protocol,
                std::unique_ptr<Protocol> owned, std::shared_ptr<Factory> factory);

  // The pump's steps; each returns whether something happened.
  bool processAbort();
  bool doRead();
  bool doWrite();

  void start();
  bool reading() const noexcept {
    return !disconnected_ && !disconnecting_ && !readPaused_ && !readShut_;
  }
  bool peerGone() const noexcept;
  bool accepting() const noexcept {
    return !disconnected_ && !abortPending_ && !writeShut_ && !writeShutPending_;
  }
  void send(std::string_view data);
  void moveToPipe(std::size_t n, std::string_view from);
  bool afterWrite();
  void shutWriteSide();
  void readEndOfFile();
  void deliverFds(std::uint64_t upTo);
  void closeNow(const Failure& reason);
  void callbackFailed(const char* callback);

  std::size_t socketBufferSize_;
  std::size_t readSize_;
  FakeTransport* peer_ = nullptr;
  Address host_;
  Address peerAddress_;
  Protocol* protocol_;
  std::unique_ptr<Protocol> owned_;
  std::shared_ptr<Factory> factory_;
  IHalfCloseableProtocol* halfCloseable_ = nullptr;
  IFileDescriptorReceiver* fdReceiver_ = nullptr;

  Bytes queue_;                                     // written, not yet in flight
  Pipe out_;                                        // in flight to the peer
  std::uint64_t written_ = 0;                       // stream offset of the next byte written
  std::vector<std::pair<std::uint64_t, int>> fds_;  // sent, waiting for their byte to go out
  std::size_t highWater_ = 64 * 1024;

  IProducer* producer_ = nullptr;
  bool streaming_ = false;
  bool producerPaused_ = false;

  bool writing_ = false;  // something to flush, or to do once flushed
  bool disconnecting_ = false;
  bool disconnected_ = false;
  bool abortPending_ = false;
  bool writeShutPending_ = false;
  bool writeShut_ = false;
  bool readShut_ = false;
  bool readPaused_ = false;
  bool noDelay_ = false;
  bool keepAlive_ = false;
  // Called after connectionLost (a connector's bookkeeping, see ConnectionCompleter).
  std::function<void(const Failure&)> afterLost_;
};

// Moves bytes and events between the two FakeTransports of one connection (iosim's IOPump).
class IOPump {
 public:
  // A moved-from IOPump may only be destroyed (pump() throws std::logic_error).
  IOPump(IOPump&&) noexcept;
  IOPump& operator=(IOPump&&) = delete;
  ~IOPump();

  // One round: runs the clock's due calls (if one was given), completes pending aborts,
  // delivers to each protocol what its peer sent (client to server first), then moves queued
  // bytes into flight and completes what waited for a flush (closes, half-closes, resuming
  // producers). Returns whether anything moved or happened.
  bool pump();
  // pump() until a round moves nothing; returns whether anything moved at all. Throws
  // std::runtime_error after options.maxFlushPumps busy rounds (a producer that never stops).
  bool flush();

  FakeTransport& serverTransport() noexcept { return *server_; }
  FakeTransport& clientTransport() noexcept { return *client_; }
  Protocol* server() const noexcept { return server_->protocol(); }
  Protocol* client() const noexcept { return client_->protocol(); }
  const LoopbackOptions& options() const noexcept { return options_; }

 private:
  friend class FakeTransport;
  friend class ConnectionCompleter;
  friend IOPump connect(Protocol& server, Protocol& client, const LoopbackOptions& options);
  friend IOPump connect(std::unique_ptr<Protocol> server, std::unique_ptr<Protocol> client,
                        const LoopbackOptions& options);
  friend IOPump connect(std::shared_ptr<Factory> serverFactory, std::unique_ptr<Protocol> client,
                        const LoopbackOptions& options);

  IOPump(const LoopbackOptions& options, Protocol* server, std::unique_ptr<Protocol> ownedServer,
         std::shared_ptr<Factory> factory, Protocol* client, std::unique_ptr<Protocol> ownedClient);
  void start();

  LoopbackOptions options_;
  std::unique_ptr<FakeTransport> server_;
  std::unique_ptr<FakeTransport> client_;
};

// Connects two protocols the caller owns (they must outlive the pump) (iosim's connect).
IOPump connect(Protocol& server, Protocol& client, const LoopbackOptions& options = {});
// Connects two protocols the pump then owns.
IOPump connect(std::unique_ptr<Protocol> server, std::unique_ptr<Protocol> client,
               const LoopbackOptions& options = {});
// The server's protocol comes from serverFactory->buildProtocol(client address), as a
// listening port makes it (the factory is not started: no port listens). A null protocol, or
// an exception (logged), refuses the connection: the client is connected, then reads end of
// file, as from a real server that closes at once.
IOPump connect(std::shared_ptr<Factory> serverFactory, std::unique_ptr<Protocol> client,
               const LoopbackOptions& options = {});

// What connectedServerAndClient returns: the two protocols (owned by the pump) and the pump.
template <class S, class C>
struct ConnectedPair {
  S* server;  // null if a factory refused the connection
  C* client;
  IOPump pump;
};

// iosim's connectedServerAndClient: server and client connected through a loopback, greeted.
template <class S, class C>
ConnectedPair<S, C> connectedServerAndClient(std::unique_ptr<S> server, std::unique_ptr<C> client,
                                             const LoopbackOptions& options = {}) {
  S* s = server.get();
  C* c = client.get();
  return ConnectedPair<S, C>{s, c, connect(std::move(server), std::move(client), options)};
}

template <class C>
ConnectedPair<Protocol, C> connectedServerAndClient(std::shared_ptr<Factory> serverFactory,
                                                    std::unique_ptr<C> client,
                                                    const LoopbackOptions& options = {}) {
  C* c = client.get();
  IOPump pump = connect(std::move(serverFactory), std::move(client), options);
  Protocol* s = pump.server();
  return ConnectedPair<Protocol, C>{s, c, std::move(pump)};
}

// With default-constructed protocols: connectedServerAndClient<Server, Client>().
template <class S, class C>
ConnectedPair<S, C> connectedServerAndClient(const LoopbackOptions& options = {}) {
  return connectedServerAndClient(std::make_unique<S>(), std::make_unique<C>(), options);
}

}  // namespace torsion::testing
