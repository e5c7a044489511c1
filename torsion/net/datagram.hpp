// Datagram sockets: UDP and Unix datagrams (Twisted's DatagramProtocol, IUDPTransport,
// IMulticastTransport, IUNIXDatagramTransport).
//
// A DatagramProtocol is attached to one port (listenUDP, listenUNIXDatagram...). The port
// calls, on the reactor thread: makeConnection(transport) -> startProtocol(), then
// datagramReceived(data, from) per datagram, then stopProtocol() when the port stops. Datagrams
// are not buffered: a write the socket cannot take now (EAGAIN, ENOBUFS) is dropped, as UDP
// allows, and counted in droppedWrites().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"

namespace torsion {

class IDatagramTransport {
 public:
  virtual ~IDatagramTransport() = default;
  // Sends one datagram to `to` (unconnected sockets).
  virtual void write(std::string_view data, const Address& to) = 0;
  // Sends one datagram to the connected peer. Throws std::logic_error if not connected.
  virtual void write(std::string_view data) = 0;
  // Connects the socket to one peer (numeric host): only its datagrams are received, and an
  // ICMP "port unreachable" for what was sent reaches the protocol as connectionRefused().
  virtual void connect(const Address& peer) = 0;
  virtual Address getHost() const = 0;
  // Closes the socket; the protocol gets stopProtocol(). The Deferred fires on the next
  // iteration. A second call returns a fired Deferred.
  virtual Deferred<void> stopListening() = 0;
  virtual bool listening() const noexcept = 0;
  // Datagrams the kernel would not take at once (and so were dropped).
  virtual std::uint64_t droppedWrites() const noexcept = 0;

  // ---- UDP only (throw std::logic_error on a Unix datagram socket) ------------------------
  virtual void setBroadcastAllowed(bool enabled) = 0;
  virtual bool getBroadcastAllowed() const = 0;
  // Multicast (IPv4 groups; `interface` is the local interface address, "" for any).
  virtual void joinGroup(std::string_view group, std::string_view interface = {}) = 0;
  virtual void leaveGroup(std::string_view group, std::string_view interface = {}) = 0;
  virtual void setTTL(int ttl) = 0;
  virtual int getTTL() const = 0;
  virtual void setLoopbackMode(bool enabled) = 0;
  virtual bool getLoopbackMode() const = 0;
  virtual void setOutgoingInterface(std::string_view interface) = 0;
};

class DatagramProtocol {
 public:
  virtual ~DatagramProtocol() = default;
  // Sets transport, then calls startProtocol().
  virtual void makeConnection(IDatagramTransport& t);
  // The port is listening.
  virtual void startProtocol() {}
  // The port stopped; `transport` is valid until this returns.
  virtual void stopProtocol() {}
  // One datagram; `data` is a view valid only during the call.
  virtual void datagramReceived(std::string_view data, const Address& from) {
    (void)data;
    (void)from;
  }
  // Connected UDP only: the peer is not listening (ICMP port unreachable).
  virtual void connectionRefused() {}
  // Unix datagram sockets: a datagram could not be delivered (no such socket).
  virtual void connectionFailed(const Failure& reason) { (void)reason; }

  IDatagramTransport* transport = nullptr;
};

}  // namespace torsion
