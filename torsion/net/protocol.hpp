// Protocol: what to do with the bytes of one connection (Twisted's IProtocol / Protocol),
// and the optional interfaces a protocol may add.
//
// The reactor (through a transport) calls, on the reactor thread and in this order:
//   makeConnection(transport)   once; sets `transport` and calls connectionMade()
//   dataReceived(bytes)         any number of times; `data` is only valid during the call
//   connectionLost(reason)      once; reason wraps ConnectionDone, ConnectionLost or
//                               ConnectionAborted (or the exception that dropped it)
// An exception escaping any of these is logged with its Failure and drops this connection
// (connectionLost then receives that exception); other connections go on.
//
// A connection owns its protocol (made by Factory::buildProtocol) and destroys it at a safe
// point after connectionLost has returned.
#pragma once

#include <string_view>

#include "torsion/defer/failure.hpp"
#include "torsion/net/transport.hpp"

namespace torsion {

class Factory;

class Protocol {
 public:
  virtual ~Protocol() = default;

  // Sets transport and connected, then calls connectionMade(). Overriding it is rare
  // (wrapping protocols do); an override must call the base.
  virtual void makeConnection(ITransport& t);
  // The connection is up: `transport` is set. Greet the peer here.
  virtual void connectionMade() {}
  // Bytes arrived; a view into the reactor's read buffer, valid only during the call: copy
  // what you keep. Chunk boundaries carry no meaning (a framing protocol reassembles).
  virtual void dataReceived(std::string_view data) { (void)data; }
  // The connection is gone. `transport` stays valid until this returns.
  virtual void connectionLost(const Failure& reason) { (void)reason; }

  // The transport of this connection (null before makeConnection).
  ITransport* transport = nullptr;
  // The factory that built this protocol (set by Factory::buildProtocol's default, null for
  // protocols made otherwise). The connection keeps the factory alive while it lives.
  Factory* factory = nullptr;
  // True between makeConnection and connectionLost.
  bool connected = false;
};

// A protocol that wants to know about half-closes (Twisted's IHalfCloseableProtocol): when the
// peer shuts its write side down, readConnectionLost() is called instead of connectionLost,
// and the protocol may go on writing; after loseWriteConnection() has flushed and shut this
// side down, writeConnectionLost() is called. connectionLost still follows once both are done
// (or the connection is lost otherwise).
class IHalfCloseableProtocol {
 public:
  virtual ~IHalfCloseableProtocol() = default;
  virtual void readConnectionLost() = 0;
  virtual void writeConnectionLost() = 0;
};

// A protocol on a Unix stream connection that accepts descriptors sent with
// IUNIXTransport::sendFileDescriptor (Twisted's IFileDescriptorReceiver). It owns each `fd`
// received and must close it.
class IFileDescriptorReceiver {
 public:
  virtual ~IFileDescriptorReceiver() = default;
  virtual void fileDescriptorReceived(int fd) = 0;
};

}  // namespace torsion
