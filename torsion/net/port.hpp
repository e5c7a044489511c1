// Handles of listening ports and of outgoing connection attempts (Twisted's IListeningPort
// and IConnector).
//
// The reactor's network layer keeps a port listening (and a connector connecting) until it is
// stopped, whether or not the caller keeps the shared_ptr it got; keeping it is how you stop
// it later. A handle outlives what it names safely: stopping twice, or stopping after the
// reactor shut down, is a defined no-op.
#pragma once

#include <memory>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"

namespace torsion {

class IListeningPort {
 public:
  virtual ~IListeningPort() = default;
  // The local address (with the real port number when listening on port 0).
  virtual Address getHost() const = 0;
  // Closes the listening socket and stops the factory (if this was its last port). The
  // Deferred fires once that is done (on the next iteration; it never fails). Connections
  // already accepted are not touched. A second call returns an already-fired Deferred.
  virtual Deferred<void> stopListening() = 0;
  // True until stopListening() (or reactor shutdown).
  virtual bool listening() const noexcept = 0;
};

// Connectors are made with make_shared: a factory that retries later (ReconnectingClientFactory)
// keeps the connector alive through connector.shared_from_this().
class IConnector : public std::enable_shared_from_this<IConnector> {
 public:
  enum class State { disconnected, connecting, connected };
  virtual ~IConnector() = default;
  // Starts a new attempt (after a failure or a lost connection: this is how
  // ReconnectingClientFactory retries). Throws std::logic_error if not disconnected.
  virtual void connect() = 0;
  // Stops the attempt (clientConnectionFailed gets UserError) or loses the connection.
  virtual void disconnect() = 0;
  // Stops an attempt in progress; throws std::logic_error if not connecting.
  virtual void stopConnecting() = 0;
  virtual Address getDestination() const = 0;
  virtual State state() const noexcept = 0;
};

}  // namespace torsion
