// ClientService: keeps one connection up through a client endpoint, connecting again after a
// backoff delay whenever an attempt fails or the connection is lost (Twisted's
// application.internet.ClientService).
//
//   ClientService service(clientFromString(net, "tcp:feeds.example:4000"),
//                         Factory::forProtocol<FeedClient>(), net);
//   service.startService();
//   Protocol* p = co_await service.whenConnected();   // the connection now, or the next one
//   ...
//   co_await service.stopService();                   // closes it and waits until it is gone
//
// It is a Service: put it in an application's tree (setServiceParent) and it connects when
// the application starts and disconnects, waited for, when it stops.
//
// The states are Twisted's (_ClientMachine): not started, connecting, waiting (for the retry
// delay), connected, disconnecting (stop asked while connected or connecting), restarting
// (start asked while disconnecting), stopped. All calls on the reactor thread.
#pragma once

#include <functional>
#include <memory>

#include "torsion/app/service.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::app {

// How long to wait before the next attempt, given how many attempts in a row have failed
// (1 after the first failure; a lost connection counts as one failure).
using RetryPolicy = std::function<Seconds(int failedAttempts)>;

// Twisted's backoffPolicy: min(initialDelay * factor^min(100, attempt), maxDelay) + jitter(),
// where jitter() is uniform in [0, 1) unless given (so the cap is maxDelay + 1).
RetryPolicy backoffPolicy(double initialDelay = 1.0, double maxDelay = 60.0, double factor = 1.5,
                          std::function<double()> jitter = {});

class ClientService : public Service {
 public:
  // `endpoint` is where to connect; `factory` builds each connection's protocol; `clock`
  // schedules retries (the reactor, or a testing::Clock) and must outlive the service. An
  // empty `retryPolicy` is backoffPolicy().
  ClientService(std::shared_ptr<IStreamClientEndpoint> endpoint, std::shared_ptr<Factory> factory,
                IReactorTime& clock, RetryPolicy retryPolicy = {});
  // Stops at once: cancels a pending retry or an attempt in progress, loses the connection
  // (loseConnection) without waiting for it, and fails whenConnected() waiters with
  // CancelledError. Prefer stopService() and waiting for it.
  ~ClientService() override;

  ClientService(const ClientService&) = delete;
  ClientService& operator=(const ClientService&) = delete;

  // Starts connecting (and keeps a connection up from now on). A second call while running
  // logs a warning and does nothing.
  void startService() override;

  // Stops reconnecting and closes the connection. The Deferred fires (never fails) once the
  // connection is lost, the attempt in progress is cancelled or the pending retry dropped;
  // whenConnected() waiters then fail with CancelledError. Cancelling it only stops waiting.
  Deferred<void> stopService() override;

  // The protocol of the current connection (at once), or of the next one. The pointer is
  // valid until that protocol's connectionLost() returns. Fails with CancelledError when the
  // service is stopped before a connection comes up (at once if it is stopped now); with
  // failAfterFailures = n > 0, fails with the attempt's error once n attempts in a row failed
  // while waiting (1: the first failure). Cancelling it only stops waiting.
  Deferred<Protocol*> whenConnected(int failAfterFailures = 0);

 private:
  class Machine;
  std::shared_ptr<Machine> machine_;
};

}  // namespace torsion::app
