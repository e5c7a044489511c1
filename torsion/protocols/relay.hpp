// RelayProtocol: one end of a relay that splices two connections into one byte stream each
// way (the Proxy base of Twisted's twisted.protocols.portforward, shared here by portforward
// and SOCKS).
//
// Two RelayProtocols, each the protocol of its own connection, are joined with splice(a, b).
// From then on:
//   - what a reads is written to b's transport and the other way round, in order;
//   - backpressure in both directions: each end is registered as a streaming producer on the
//     other's transport, so when b's transport buffers more than its high-water mark it calls
//     a.pauseProducing(), which pauses a's transport (it stops reading), and resumeProducing()
//     once drained. A peer that stops reading therefore holds the relay to about one
//     write-buffer's worth of bytes per direction, whatever the other side sends;
//   - half-close passes through: when a's peer shuts its write side (a.readConnectionLost()),
//     b's transport gets loseWriteConnection() (after its buffered bytes); an end whose read
//     and write sides are both shut loses its connection;
//   - a full close passes through: when a's connection is lost (for any reason), b's
//     transport gets loseConnection(), which flushes what b still has to send first.
//
// Before splice, an end keeps what it reads (pendingBytes()) and hands it to the peer at
// splice; past maxPendingBytes it pauses its transport, so an end whose peer is still being
// connected holds at most that plus one read. awaitPeer() pauses reading at once until the
// splice, as Twisted's ProxyServer pauses the accepted connection until its client connects.
// A half-close read before the splice is passed on at the splice.
//
// Both ends are protocols owned by their connections; neither owns the other. An end whose
// connection is lost detaches from its peer (and unregisters from the peer's transport)
// inside connectionLost, so the pair never points at a destroyed protocol. Everything runs on
// the reactor thread. Subclasses (portforward's ProxyServer, the SOCKS server) override
// dataReceived/connectionLost for their own phase before the splice and call the base after.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "torsion/defer/failure.hpp"
#include "torsion/net/producer.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::protocols {

class RelayProtocol : public Protocol, public IHalfCloseableProtocol, public IProducer {
 public:
  // Bytes an end keeps for a peer that is not spliced yet before it pauses reading.
  static constexpr std::size_t kDefaultMaxPendingBytes = 64 * 1024;

  RelayProtocol() = default;
  explicit RelayProtocol(std::size_t maxPendingBytes) : maxPendingBytes_(maxPendingBytes) {}
  RelayProtocol(const RelayProtocol&) = delete;
  RelayProtocol& operator=(const RelayProtocol&) = delete;
  // Detaches from a peer still spliced (a protocol destroyed without connectionLost, as in
  // tests that drop a loopback): the peer forgets this end; no transport is closed.
  ~RelayProtocol() override;

  // Joins two ends whose connections are up (between connectionMade and connectionLost;
  // std::logic_error otherwise, or if either is spliced already or they are the same): each
  // registers as the streaming producer of the other's transport, the bytes each kept go to
  // the other, a half-close each read is passed on, and both read again (unless a transport
  // is already above its high-water mark, which pauses the other end at once).
  static void splice(RelayProtocol& a, RelayProtocol& b);

  // The end this one is spliced to (null before splice and once either connection is lost).
  RelayProtocol* peer() const noexcept { return peer_; }
  // Bytes read and kept for a peer not spliced yet.
  std::size_t pendingBytes() const noexcept { return pending_.size(); }
  std::size_t maxPendingBytes() const noexcept { return maxPendingBytes_; }
  // Pauses reading until splice (call it with the connection up, typically in
  // connectionMade or once a handshake asked for the outgoing connection).
  void awaitPeer();
  // Whether this end has asked its transport to stop reading (waiting for a peer, too much
  // pending, or paused by the peer's transport).
  bool readingPaused() const noexcept { return readPaused_; }

  // ---- Protocol / IHalfCloseableProtocol --------------------------------------------------
  // Spliced: writes `data` to the peer's transport. Not yet: keeps it (pauses past the limit).
  // After the peer is gone: drops it (this connection is closing).
  void dataReceived(std::string_view data) override;
  // Detaches from the peer and loses the peer's connection (after its buffered bytes).
  void connectionLost(const Failure& reason) override;
  // The remote end shut its write side: shut the peer's write side (at the splice if not
  // spliced yet); lose this connection if this end's write side is shut too.
  void readConnectionLost() override;
  // This end's write side is shut (the peer read end of file): lose the connection if the
  // read side is shut too.
  void writeConnectionLost() override;

  // ---- IProducer: called by the PEER's transport, which this end feeds ----------------------
  // The peer's transport is over its high-water mark: stop reading from this connection.
  void pauseProducing() override;
  // It drained: read again.
  void resumeProducing() override;
  // The peer's transport is gone: lose this connection too (after its buffered bytes).
  void stopProducing() override;

 protected:
  // The peer went away (its connection was lost, or its transport stopped this end): loses
  // this connection. Override to do more; call the base.
  virtual void peerLost();

 private:
  void updateReading();
  void forwardEndOfFile();
  void detach(bool ownTransportUsable);

  std::string pending_;
  std::size_t maxPendingBytes_ = kDefaultMaxPendingBytes;
  RelayProtocol* peer_ = nullptr;
  bool registeredOnPeer_ = false;  // this end is the producer of the peer's transport
  bool holdForPeer_ = false;       // awaitPeer() until splice
  bool pausedByPeer_ = false;      // the peer's transport asked this end to pause
  bool readPaused_ = false;        // what this end last told its transport
  bool readShut_ = false;
  bool writeShut_ = false;
  bool eofForwarded_ = false;
  bool peerGone_ = false;  // spliced once, and the peer is gone since
};

}  // namespace torsion::protocols
