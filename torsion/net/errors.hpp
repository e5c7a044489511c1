// Error types of the network layer, after twisted.internet.error.
//
// Connection outcomes travel as Failures wrapping these: connectionLost(reason) receives
// ConnectionDone (orderly close), ConnectionLost (error or reset) or ConnectionAborted (a local
// abortConnection); clientConnectionFailed receives a ConnectError subclass.
#pragma once

#include <string>

#include "torsion/core/errors.hpp"

namespace torsion {

// Base of "the connection ended" reasons.
class ConnectionClosed : public Error {
 public:
  using Error::Error;
};

// The connection was closed cleanly.
class ConnectionDone : public ConnectionClosed {
 public:
  ConnectionDone() : ConnectionClosed("Connection was closed cleanly.") {}
  explicit ConnectionDone(const std::string& what) : ConnectionClosed(what) {}
};

// The connection was lost in a non-clean fashion (error, reset, reactor shutdown).
class ConnectionLost : public ConnectionClosed {
 public:
  ConnectionLost()
      : ConnectionClosed("Connection to the other side was lost in a non-clean fashion.") {}
  explicit ConnectionLost(const std::string& what) : ConnectionClosed(what) {}
};

// abortConnection() was called on this side.
class ConnectionAborted : public ConnectionLost {
 public:
  ConnectionAborted() : ConnectionLost("Connection was aborted locally using abortConnection.") {}
};

// Base of the reasons a connection attempt failed.
class ConnectError : public Error {
 public:
  explicit ConnectError(const std::string& what = "An error occurred while connecting.")
      : Error(what) {}
};

class ConnectionRefusedError : public ConnectError {
 public:
  ConnectionRefusedError() : ConnectError("Connection was refused by other side.") {}
  explicit ConnectionRefusedError(const std::string& what) : ConnectError(what) {}
};

// The connection attempt timed out (twisted.internet.error.TimeoutError; not to be confused
// with torsion::TimeoutError of addTimeout).
class ConnectTimeoutError : public ConnectError {
 public:
  ConnectTimeoutError() : ConnectError("User timeout caused connection failure.") {}
};

// A host name could not be resolved.
class DNSLookupError : public ConnectError {
 public:
  explicit DNSLookupError(const std::string& what) : ConnectError("DNS lookup failed: " + what) {}
};

// Binding the local address of an outgoing connection failed.
class ConnectBindError : public ConnectError {
 public:
  explicit ConnectBindError(const std::string& what) : ConnectError("Couldn't bind: " + what) {}
};

// connector.stopConnecting() was called (Twisted's UserError).
class UserError : public ConnectError {
 public:
  UserError() : ConnectError("User aborted connection.") {}
};

// Any other failure of connect(): unreachable network, no route...
class ConnectionFailed : public ConnectError {
 public:
  // `osError` is the errno that made connect() fail, 0 when there was none (Twisted's
  // ConnectError.osError), so callers can tell ENETUNREACH from EHOSTUNREACH without parsing
  // the message.
  explicit ConnectionFailed(const std::string& what, int osError = 0)
      : ConnectError(what), osError_(osError) {}
  int osError() const noexcept { return osError_; }

 private:
  int osError_;
};

// listen failed (address in use, permission, bad interface).
class CannotListenError : public Error {
 public:
  CannotListenError(const std::string& interface, const std::string& port, const std::string& why)
      : Error("Couldn't listen on " + (interface.empty() ? std::string("any") : interface) + ":" +
              port + ": " + why + "."),
        interface_(interface),
        port_(port) {}
  const std::string& interface() const noexcept { return interface_; }
  const std::string& port() const noexcept { return port_; }

 private:
  std::string interface_;
  std::string port_;
};

}  // namespace torsion
