// ConnectionCompleter: completes the connection attempts recorded by a MemoryReactor through
// the in-memory loopback (Twisted's iosim.ConnectionCompleter).
//
// Code under test listens and connects on a MemoryReactor, which only records the calls; the
// test then decides how each attempt ends:
//
//   MemoryReactor reactor;
//   startServer(reactor);                          // listenTCP(8080, serverFactory)
//   startClient(reactor);                          // connectTCP("127.0.0.1", 8080, clientFactory)
//   ConnectionCompleter completer(reactor);
//   IOPump* pump = completer.succeedOnce();        // both protocols built and connected
//   pump->flush();
//   ...
//   completer.failOnce(Failure(ConnectionRefusedError()));   // the next attempt fails
//
// An attempt is a connector of reactor.connectors still "connecting" that this completer has
// not handled yet, oldest first (a connector that connect()s again makes a new attempt).
// succeedOnce() connects it to the listener it names (a TCP port listening on its port, on
// that host or on every address; a Unix port on its path): the server's factory builds the
// server protocol for the client's address, the client's factory builds the client protocol
// for the server's address, the connector becomes "connected", and once the client's
// connectionLost has run, the connector is "disconnected" and the client factory hears
// clientConnectionLost(connector, reason), as from the real connector. If the client factory
// refuses (null, or throws), the attempt fails instead: clientConnectionFailed with
// ConnectError (or that exception). A server factory that refuses (null, or throws: logged)
// gives the client end of file. Factories are not started (MemoryReactor does not start them
// either). The completer owns the pumps; it must outlive them, and the reactor must outlive
// it.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "torsion/defer/failure.hpp"
#include "torsion/testing/loopback.hpp"
#include "torsion/testing/memory_reactor.hpp"

namespace torsion::testing {

class ConnectionCompleter {
 public:
  // `options` are used for every connection (their addresses are replaced by the attempt's).
  explicit ConnectionCompleter(MemoryReactor& reactor, LoopbackOptions options = {});
  ConnectionCompleter(const ConnectionCompleter&) = delete;
  ConnectionCompleter& operator=(const ConnectionCompleter&) = delete;

  // Connects the oldest pending attempt that names a listening port; returns its pump (owned
  // here), or null if no pending attempt names one. With options.greet, the pump was flushed.
  IOPump* succeedOnce();
  // Fails the oldest pending attempt: the connector becomes "disconnected" and its factory gets
  // clientConnectionFailed(connector, reason). Returns false if none is pending.
  bool failOnce(const Failure& reason);

  // Attempts recorded and not yet handled.
  std::size_t pending() const;
  // pump() / flush() on every connection made so far; whether anything moved.
  bool pump();
  bool flush();
  const std::vector<std::unique_ptr<IOPump>>& pumps() const noexcept { return pumps_; }

 private:
  struct Listener {
    std::shared_ptr<Factory> factory;
    Address address;
  };
  bool handled(const FakeConnector* c) const;
  void markHandled(const FakeConnector* c) { handled_.emplace_back(c, c->connectCalls()); }
  FakeConnector* oldestPending() const;
  bool findListener(const FakeConnector& c, Listener& out) const;

  MemoryReactor& reactor_;
  LoopbackOptions options_;
  // Attempts handled: a connector and its connectCalls() then (a retry is a new attempt).
  std::vector<std::pair<const FakeConnector*, int>> handled_;
  std::vector<std::unique_ptr<IOPump>> pumps_;
  std::uint16_t nextClientPort_ = 50000;
};

}  // namespace torsion::testing
