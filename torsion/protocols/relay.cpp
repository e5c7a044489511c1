#include "torsion/protocols/relay.hpp"

#include <stdexcept>
#include <utility>

namespace torsion::protocols {

RelayProtocol::~RelayProtocol() {
  RelayProtocol* p = std::exchange(peer_, nullptr);
  if (p == nullptr) return;
  p->peer_ = nullptr;
  p->peerGone_ = true;
  // Only the peer's transport is known to be intact here (ours may be half destroyed).
  if (registeredOnPeer_ && p->connected && p->transport != nullptr) {
    try {
      p->transport->unregisterProducer();
    } catch (...) {  // NOLINT(bugprone-empty-catch): nothing to do about it in a destructor
    }
  }
}

void RelayProtocol::splice(RelayProtocol& a, RelayProtocol& b) {
  if (&a == &b) throw std::logic_error("RelayProtocol::splice: an end cannot be its own peer");
  if (a.peer_ != nullptr || b.peer_ != nullptr || a.peerGone_ || b.peerGone_) {
    throw std::logic_error("RelayProtocol::splice: an end is already spliced");
  }
  if (!a.connected || !b.connected || a.transport == nullptr || b.transport == nullptr) {
    throw std::logic_error("RelayProtocol::splice: both connections must be up");
  }
  a.peer_ = &b;
  b.peer_ = &a;
  // Set first: a consumer that is closed already calls stopProducing() from inside.
  a.registeredOnPeer_ = true;
  b.transport->registerProducer(a, true);
  if (a.peer_ == &b) {
    b.registeredOnPeer_ = true;
    a.transport->registerProducer(b, true);
  }
  // What each end read while it waited, then the end of file it may have read after it.
  for (RelayProtocol* from : {&a, &b}) {
    RelayProtocol* to = from->peer_;
    if (to == nullptr) break;
    if (!from->pending_.empty()) {
      std::string kept;
      kept.swap(from->pending_);
      to->transport->write(kept);
    }
  }
  for (RelayProtocol* end : {&a, &b}) {
    if (end->readShut_) end->forwardEndOfFile();
  }
  a.holdForPeer_ = false;
  b.holdForPeer_ = false;
  a.updateReading();
  b.updateReading();
}

void RelayProtocol::awaitPeer() {
  holdForPeer_ = true;
  updateReading();
}

void RelayProtocol::dataReceived(std::string_view data) {
  if (peer_ != nullptr) {
    peer_->transport->write(data);
    return;
  }
  if (peerGone_) return;
  pending_.append(data);
  updateReading();
}

void RelayProtocol::connectionLost(const Failure& reason) {
  (void)reason;
  RelayProtocol* p = peer_;
  // `connected` is already false, but the transport is still valid until this returns.
  detach(transport != nullptr);
  pending_.clear();
  if (p != nullptr) p->peerLost();
}

void RelayProtocol::readConnectionLost() {
  readShut_ = true;
  if (peer_ != nullptr) forwardEndOfFile();
  if (writeShut_ && connected && !transport->disconnecting()) transport->loseConnection();
}

void RelayProtocol::writeConnectionLost() {
  writeShut_ = true;
  if (readShut_ && connected && !transport->disconnecting()) transport->loseConnection();
}

void RelayProtocol::pauseProducing() {
  pausedByPeer_ = true;
  updateReading();
}

void RelayProtocol::resumeProducing() {
  pausedByPeer_ = false;
  updateReading();
}

void RelayProtocol::stopProducing() {
  // The peer's transport dropped this end already: no unregistering from it.
  registeredOnPeer_ = false;
  const bool hadPeer = peer_ != nullptr;
  detach(connected && transport != nullptr);
  if (hadPeer) peerLost();
}

void RelayProtocol::peerLost() {
  pending_.clear();
  if (connected && transport != nullptr && !transport->disconnecting()) transport->loseConnection();
}

// Whether the transport should read: not while the peer's transport is full, nor while
// waiting for a peer that was asked for or with too much kept for it.
void RelayProtocol::updateReading() {
  if (!connected || transport == nullptr) return;
  const bool want = pausedByPeer_ || (peer_ == nullptr && !peerGone_ &&
                                      (holdForPeer_ || pending_.size() >= maxPendingBytes_));
  if (want == readPaused_ || transport->disconnecting()) return;
  readPaused_ = want;
  if (want) {
    transport->pauseProducing();
  } else {
    transport->resumeProducing();
  }
}

void RelayProtocol::forwardEndOfFile() {
  if (eofForwarded_ || peer_ == nullptr) return;
  eofForwarded_ = true;
  // Nothing more comes from this side: a close of the peer's write side must not wait for it.
  if (registeredOnPeer_) {
    registeredOnPeer_ = false;
    peer_->transport->unregisterProducer();
  }
  peer_->transport->loseWriteConnection();
}

// Forgets the peer on both sides, unregistering what is still registered on a transport
// that is still there.
void RelayProtocol::detach(bool ownTransportUsable) {
  RelayProtocol* p = std::exchange(peer_, nullptr);
  if (p == nullptr) return;
  p->peer_ = nullptr;
  peerGone_ = true;
  p->peerGone_ = true;
  pausedByPeer_ = false;
  p->pausedByPeer_ = false;
  if (p->registeredOnPeer_) {
    p->registeredOnPeer_ = false;
    if (ownTransportUsable) transport->unregisterProducer();
  }
  if (registeredOnPeer_) {
    registeredOnPeer_ = false;
    if (p->connected && p->transport != nullptr) p->transport->unregisterProducer();
  }
}

}  // namespace torsion::protocols
