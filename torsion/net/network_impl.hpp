// The real network layer behind torsion::network(reactor): stream connections, listening
// ports, connectors and datagram ports on a torsion::Reactor. Internal to torsion/net; users
// see only the contracts (transport.hpp, port.hpp, datagram.hpp, network.hpp).
//
// Lifetime: the NetworkImpl (a Reactor extension) owns every live connection and keeps ports
// and connectors alive while they are active. A connection that is lost is retired: its
// protocol got connectionLost, its descriptor is closed, and it is deleted at the start of a
// later iteration (never inside a callback that may still touch it).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/net/network.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/net/sendfile.hpp"
#include "torsion/net/write_buffer.hpp"

namespace torsion::detail {

class NetworkImpl;
class StreamConnector;

// One connected stream socket (TCP or Unix), server or client side.
class StreamConnection final : public IUNIXTransport,
                               public ISendFileTransport,
                               public IReadDescriptor,
                               public IWriteDescriptor {
 public:
  StreamConnection(NetworkImpl& net, int fd, int family, const sockaddr* peer, socklen_t peerLen,
                   std::unique_ptr<Protocol> protocol, std::shared_ptr<Factory> factory,
                   StreamConnector* connector);
  ~StreamConnection() override;

  // Starts reading and calls the protocol's makeConnection (an exception drops the connection).
  void start();
  // Loses the connection now with `reason` (reactor shutdown, runSoon's delayed abort).
  void lose(const Failure& reason);
  bool abortPending() const noexcept { return flags_ & kAbortPending; }
  bool gone() const noexcept { return flags_ & kDisconnected; }
  // Intrusive list of live connections (NetworkImpl).
  StreamConnection* prev = nullptr;
  StreamConnection* next = nullptr;

  // ---- ITransport --------------------------------------------------------------------------
  void write(std::string_view data) override;
  void writeSequence(std::span<const std::string_view> pieces) override;
  void loseConnection() override;
  void abortConnection() override;
  void loseWriteConnection() override;
  bool disconnecting() const noexcept override { return flags_ & (kDisconnecting | kDisconnected); }
  std::size_t bufferedBytes() const noexcept override { return wbuf_.size(); }
  void setWriteBufferSize(std::size_t bytes) override;
  Address getHost() const override;
  Address getPeer() const override;
  void setTcpNoDelay(bool enabled) override;
  bool getTcpNoDelay() const override;
  void setTcpKeepAlive(bool enabled) override;
  bool getTcpKeepAlive() const override;
  void registerProducer(IProducer& producer, bool streaming) override;
  void unregisterProducer() override;
  void pauseProducing() override;
  void resumeProducing() override;
  void stopProducing() override;
  void sendFileDescriptor(int fd) override;
  SendFileResult sendFile(int fd, std::uint64_t offset, std::size_t count) override;

  // ---- descriptors ---------------------------------------------------------------------------
  int fileno() const override { return fd_; }
  void doRead() override;
  void doWrite() override;
  // doRead/doWrite threw (a protocol callback): the reactor logged it; lose the connection with
  // that exception as the reason.
  void connectionLost(const Failure& reason) override;

 private:
  enum : std::uint32_t {
    kDisconnecting = 1u << 0,     // loseConnection called: flush, then close
    kDisconnected = 1u << 1,      // connectionLost delivered (or under way)
    kAbortPending = 1u << 2,      // abortConnection called, connectionLost comes from runSoon
    kReading = 1u << 3,           // registered as reader
    kWriting = 1u << 4,           // registered as writer
    kReadPaused = 1u << 5,        // pauseProducing(): the protocol asked us to stop reading
    kReadShut = 1u << 6,          // peer sent EOF (half-closeable protocol)
    kWriteShutPending = 1u << 7,  // loseWriteConnection: shut down once flushed
    kWriteShut = 1u << 8,         // our write side is shut down
    kStreaming = 1u << 9,         // the registered producer is a push producer
    kProducerPaused = 1u << 10,   // we paused the push producer
    kHalfCloseable = 1u << 11,    // protocol is an IHalfCloseableProtocol
    kFdReceiver = 1u << 12,       // protocol is an IFileDescriptorReceiver
    kWriteError = 1u << 13,       // a send failed: lose the connection at the next doWrite
    kUnix = 1u << 14,             // AF_UNIX
    kIPv6 = 1u << 15,             // AF_INET6
  };
  void startReading();
  void stopReading();
  void startWriting();
  void stopWriting();
  void afterWrite();
  void sendDirect(const iovec* iov, int count, std::size_t total);
  void flushPendingFds();
  void readWithFds(char* buf, std::size_t size);
  void closeNow(const Failure& reason);
  void shutWriteSide();

  NetworkImpl& net_;
  std::unique_ptr<Protocol> protocol_;
  std::shared_ptr<Factory> factory_;
  StreamConnector* connector_;
  IProducer* producer_ = nullptr;
  WriteBuffer wbuf_;
  std::unique_ptr<std::vector<int>> pendingFds_;  // Unix: descriptors to send with the next byte
  int fd_;
  std::uint32_t flags_ = 0;
  std::uint32_t highWater_ = 64 * 1024;
  // The peer's address as accepted/connected (IP only; Unix peers are asked when needed).
  union {
    sockaddr_in v4;
    sockaddr_in6 v6;
  } peer_{};
};

// A listening stream socket.
class StreamPort final : public IListeningPort, public IReadDescriptor {
 public:
  StreamPort(NetworkImpl& net, int fd, int family, std::shared_ptr<Factory> factory,
             std::string unixPath = {}, std::string lockPath = {});
  ~StreamPort() override;
  void start();  // doStart the factory and watch for connections
  Address getHost() const override;
  Deferred<void> stopListening() override;
  bool listening() const noexcept override { return fd_ >= 0; }
  int fileno() const override { return fd_; }
  void doRead() override;
  void connectionLost(const Failure& reason) override;
  void close();  // stop listening now (shutdown); no Deferred

 private:
  void acceptOverflow();
  NetworkImpl& net_;
  std::shared_ptr<Factory> factory_;
  std::string unixPath_;  // unlinked when the port stops (filesystem names only)
  std::string lockPath_;
  int fd_;
  int family_;
  int numberAccepts_ = 100;
  Address host_;
};

// An outgoing stream connection attempt (TCP or Unix) and, once connected, its connection.
class StreamConnector final : public IConnector, public IWriteDescriptor {
 public:
  StreamConnector(NetworkImpl& net, Address::Family family, std::string host, std::uint16_t port,
                  std::shared_ptr<ClientFactory> factory, Seconds timeout,
                  std::optional<Address> bindAddress, bool checkPID);
  ~StreamConnector() override;
  void connect() override;
  void disconnect() override;
  void stopConnecting() override;
  Address getDestination() const override;
  State state() const noexcept override { return state_; }
  int fileno() const override { return fd_; }
  void doWrite() override;
  void connectionLost(const Failure& reason) override;  // reactor shutdown or a throwing doWrite
  // From the connection: it ended.
  void connectionEnded(const Failure& reason);
  // Reactor shutdown: fail an attempt in progress.
  void abandon();
  // The network is being destroyed: drop the attempt and the self-reference, calling nothing.
  void forget();

 private:
  void begin(std::uint64_t gen);
  void attempt(const Address& to);
  void connectSocket();
  void connected();
  void failed(const Failure& reason);
  void cleanupAttempt();
  NetworkImpl& net_;
  std::shared_ptr<ClientFactory> factory_;
  std::string host_;
  std::uint16_t port_;
  Address::Family family_;
  Seconds timeout_;
  std::optional<Address> bindAddress_;
  bool checkPID_;
  bool factoryStarted_ = false;
  State state_ = State::disconnected;
  int fd_ = -1;
  std::uint64_t generation_ = 0;  // bumps per attempt: stale resolver answers are dropped
  Address target_;
  DelayedCall timeoutCall_;
  DelayedCall startCall_;  // the deferred start of an attempt, or a Unix retry
  Deferred<void> resolving_{nullptr};
  StreamConnection* connection_ = nullptr;
  std::shared_ptr<IConnector> keepAlive_;  // held while not disconnected
};

// A datagram socket (UDP or Unix datagram).
class DatagramPort final : public IDatagramTransport, public IReadDescriptor {
 public:
  DatagramPort(NetworkImpl& net, int fd, int family, std::shared_ptr<DatagramProtocol> protocol,
               std::size_t maxPacketSize, std::string unixPath = {});
  ~DatagramPort() override;
  void start();
  void write(std::string_view data, const Address& to) override;
  void write(std::string_view data) override;
  void connect(const Address& peer) override;
  Address getHost() const override;
  Deferred<void> stopListening() override;
  bool listening() const noexcept override { return fd_ >= 0; }
  std::uint64_t droppedWrites() const noexcept override { return dropped_; }
  void setBroadcastAllowed(bool enabled) override;
  bool getBroadcastAllowed() const override;
  void joinGroup(std::string_view group, std::string_view interface) override;
  void leaveGroup(std::string_view group, std::string_view interface) override;
  void setTTL(int ttl) override;
  int getTTL() const override;
  void setLoopbackMode(bool enabled) override;
  bool getLoopbackMode() const override;
  void setOutgoingInterface(std::string_view interface) override;
  int fileno() const override { return fd_; }
  void doRead() override;
  void connectionLost(const Failure& reason) override;
  void close();

 private:
  void requireIP(const char* what) const;
  void sendError(int err);
  void refused();
  template <class F>
  void deliver(const char* what, F&& f);
  void group(std::string_view group, std::string_view interface, bool join);
  NetworkImpl& net_;
  std::shared_ptr<DatagramProtocol> protocol_;
  std::string unixPath_;
  std::size_t maxPacketSize_;
  std::uint64_t dropped_ = 0;
  int fd_;
  int family_;
  bool connected_ = false;
};

class NetworkImpl final : public IReactorNet, public Reactor::Extension {
 public:
  explicit NetworkImpl(Reactor& reactor);
  ~NetworkImpl() override;

  Reactor& reactor() noexcept { return reactor_; }
  Logger& logger() noexcept { return log_; }
  // The one read buffer of this reactor: dataReceived gets views into it.
  char* readBuffer() noexcept { return readBuffer_.get(); }
  static constexpr std::size_t kReadBufferSize = 64 * 1024;

  // ---- IReactorTime ------------------------------------------------------------------------
  double seconds() const override { return reactor_.seconds(); }
  DelayedCall callLater(Seconds delay, UniqueFunction<void()> f) override {
    return reactor_.callLater(delay, std::move(f));
  }
  std::vector<DelayedCall> getDelayedCalls() const override { return reactor_.getDelayedCalls(); }

  // ---- IReactorNet -------------------------------------------------------------------------
  std::shared_ptr<IListeningPort> listenTCP(std::uint16_t port, std::shared_ptr<Factory> factory,
                                            const TCPListenOptions& options) override;
  std::shared_ptr<IConnector> connectTCP(std::string_view host, std::uint16_t port,
                                         std::shared_ptr<ClientFactory> factory,
                                         const TCPConnectOptions& options) override;
  std::shared_ptr<IListeningPort> listenUNIX(std::string_view path,
                                             std::shared_ptr<Factory> factory,
                                             const UNIXListenOptions& options) override;
  std::shared_ptr<IConnector> connectUNIX(std::string_view path,
                                          std::shared_ptr<ClientFactory> factory,
                                          const UNIXConnectOptions& options) override;
  std::shared_ptr<IDatagramTransport> listenUDP(std::uint16_t port,
                                                std::shared_ptr<DatagramProtocol> protocol,
                                                const UDPListenOptions& options) override;
  std::shared_ptr<IDatagramTransport> listenUNIXDatagram(std::string_view path,
                                                         std::shared_ptr<DatagramProtocol> protocol,
                                                         unsigned mode) override;
  std::shared_ptr<IDatagramTransport> connectUNIXDatagram(
      std::string_view path, std::shared_ptr<DatagramProtocol> protocol,
      std::string_view bindPath) override;
  std::shared_ptr<IListeningPort> adoptStreamPort(int fd, int family,
                                                  std::shared_ptr<Factory> factory) override;
  void adoptStreamConnection(int fd, int family, std::shared_ptr<Factory> factory) override;
  std::shared_ptr<IDatagramTransport> adoptDatagramPort(
      int fd, int family, std::shared_ptr<DatagramProtocol> protocol) override;
  Deferred<std::vector<Address>> resolveHost(std::string_view host, std::uint16_t port,
                                             int family) override;

  // ---- bookkeeping -------------------------------------------------------------------------
  // Makes a connection for an accepted or connected socket and starts it; returns null (and
  // closes fd) if the factory refused it.
  StreamConnection* adoptConnected(int fd, int family, const sockaddr* peer, socklen_t peerLen,
                                   std::shared_ptr<Factory> factory, StreamConnector* connector,
                                   std::unique_ptr<Protocol> protocol);
  // A lost connection: delete it at a safe point.
  void retire(StreamConnection* c);
  // abortConnection: deliver connectionLost(ConnectionAborted) at a safe point.
  void scheduleAbort(StreamConnection* c);
  void portStopped(IListeningPort* p, Deferred<void> done);
  void datagramStopped(DatagramPort* p, Deferred<void> done);
  void connectorActive(std::shared_ptr<IConnector> c);
  // EMFILE: frees the reserved descriptor for a moment (to accept and close), then re-reserves.
  void withSpareDescriptor(const std::function<void()>& f);
  std::size_t connectionCount() const noexcept { return connectionCount_; }

 private:
  void fireSoon(std::shared_ptr<void> keep, Deferred<void> done);
  void schedule();
  void runSoon();
  void disconnectAll();

  Reactor& reactor_;
  Logger log_{"torsion.net"};
  std::unique_ptr<char[]> readBuffer_;
  StreamConnection* connections_ = nullptr;  // intrusive list of live connections
  std::size_t connectionCount_ = 0;
  std::vector<std::shared_ptr<StreamPort>> ports_;
  std::vector<std::shared_ptr<DatagramPort>> datagramPorts_;
  std::vector<std::weak_ptr<IConnector>> connectors_;
  std::vector<StreamConnection*> aborts_;
  std::vector<StreamConnection*> dead_;
  std::vector<UniqueFunction<void()>> soon_;
  DelayedCall soonCall_;
  bool soonScheduled_ = false;
  int spareFd_ = -1;
  friend class StreamConnection;
  friend class StreamPort;
  friend class StreamConnector;
  friend class DatagramPort;
};

// Small socket helpers shared by the files of torsion/net.
std::string errnoText(int err);
void setNonBlockingCloexec(int fd);

}  // namespace torsion::detail
