#include "torsion/app/client_service.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "torsion/defer/errors.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/net/wrapping_protocol.hpp"

namespace torsion::app {

namespace {

const Logger& logger() {
  static const Logger log("torsion.net.ClientService");
  return log;
}

}  // namespace

RetryPolicy backoffPolicy(double initialDelay, double maxDelay, double factor,
                          std::function<double()> jitter) {
  if (!jitter) {
    auto engine = std::make_shared<std::mt19937>(std::random_device{}());
    jitter = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
  return [=](int attempt) {
    const double grown = initialDelay * std::pow(factor, std::min(100, attempt));
    // pow overflows to inf (Twisted catches OverflowError): the cap applies.
    const double delay = std::isfinite(grown) ? std::min(grown, maxDelay) : maxDelay;
    return Seconds(delay + jitter());
  };
}

class ClientService::Machine : public std::enable_shared_from_this<Machine> {
 public:
  Machine(std::shared_ptr<IStreamClientEndpoint> endpoint, std::shared_ptr<Factory> factory,
          IReactorTime& clock, RetryPolicy policy)
      : endpoint_(std::move(endpoint)),
        factory_(std::move(factory)),
        clock_(clock),
        policy_(policy ? std::move(policy) : backoffPolicy()) {}

  // ---- inputs ----------------------------------------------------------------------------------

  void start() {
    switch (state_) {
      case State::init:
      case State::stopped:
        connect();
        break;
      case State::disconnecting:
        state_ = State::restarting;
        failedAttempts_ = 0;
        break;
      case State::connecting:
      case State::waiting:
      case State::connected:
      case State::restarting:
        break;
    }
  }

  Deferred<void> stop() {
    switch (state_) {
      case State::init:
      case State::stopped:
        state_ = State::stopped;
        return succeed();
      case State::connecting: {
        state_ = State::disconnecting;
        Deferred<void> w = waitForStop();
        // Cancelling fails the attempt at once, which ends the stop (connectionFailed).
        if (inProgress_) {
          Deferred<Protocol*> attempt = std::exchange(inProgress_, nullptr);
          attempt.cancel();
        }
        return w;
      }
      case State::waiting: {
        state_ = State::stopped;
        Deferred<void> w = waitForStop();
        unawait(Failure(CancelledError()));
        if (retryCall_.active()) retryCall_.cancel();
        finishStopping();
        return w;
      }
      case State::connected: {
        state_ = State::disconnecting;
        Deferred<void> w = waitForStop();
        if (current_ != nullptr && current_->transport != nullptr) {
          current_->transport->loseConnection();
        }
        return w;
      }
      case State::disconnecting:
        return waitForStop();
      case State::restarting:
        state_ = State::disconnecting;
        return waitForStop();
    }
    return succeed();
  }

  Deferred<Protocol*> whenConnected(int failAfterFailures) {
    if (state_ == State::connected) return succeed(current_);
    if (state_ == State::stopped) return fail<Protocol*>(CancelledError());
    Deferred<Protocol*> d;
    awaiting_.push_back({d, failAfterFailures});
    return d;
  }

  // The service object goes away: stop without waiting, and forget everything.
  void abandon() {
    const State was = state_;
    state_ = State::stopped;
    if (retryCall_.active()) retryCall_.cancel();
    if (inProgress_) {
      Deferred<Protocol*> attempt = std::exchange(inProgress_, nullptr);
      attempt.cancel();
    }
    if (was == State::connected || was == State::disconnecting || was == State::restarting) {
      if (current_ != nullptr && current_->transport != nullptr) {
        current_->transport->loseConnection();
      }
    }
    current_ = nullptr;
    unawait(Failure(CancelledError()));
    finishStopping();
  }

 private:
  enum class State { init, connecting, waiting, connected, disconnecting, restarting, stopped };

  // Passes buildProtocol on to the user's factory and wraps what it builds, to hear about the
  // connection's end (Twisted's _DisconnectFactory).
  class DisconnectFactory final : public Factory {
   public:
    DisconnectFactory(std::shared_ptr<Factory> wrapped, std::weak_ptr<Machine> machine)
        : wrapped_(std::move(wrapped)), machine_(std::move(machine)) {}
    std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
      std::unique_ptr<Protocol> p = wrapped_->buildProtocol(addr);
      if (!p) return nullptr;
      WrappingProtocol::Hooks hooks;
      hooks.lost = [machine = machine_](const Failure&) {
        if (const auto m = machine.lock()) m->clientDisconnected();
      };
      return wrapProtocol(std::move(p), std::move(hooks));
    }
    void startFactory() override { wrapped_->doStart(); }
    void stopFactory() override { wrapped_->doStop(); }

   private:
    std::shared_ptr<Factory> wrapped_;
    std::weak_ptr<Machine> machine_;
  };

  struct Waiter {
    Deferred<Protocol*> deferred;
    int remaining;  // failures still allowed before failing it; 0: never
  };

  void connect() {
    state_ = State::connecting;
    auto proxy = std::make_shared<DisconnectFactory>(factory_, weak_from_this());
    Deferred<Protocol*> attempt = endpoint_->connect(proxy);
    inProgress_ = attempt;
    attempt.addCallbacks(
        [weak = weak_from_this()](Protocol* p) {
          if (const auto m = weak.lock()) m->connectionMade(p);
        },
        [weak = weak_from_this()](const Failure& f) {
          if (const auto m = weak.lock()) m->connectionFailed(f);
        });
  }

  void connectionMade(Protocol* p) {
    inProgress_ = nullptr;
    // The endpoint fires with what DisconnectFactory built; callers want the protocol inside.
    auto* wrapper = dynamic_cast<WrappingProtocol*>(p);
    Protocol* user = wrapper != nullptr ? &wrapper->wrapped() : p;
    switch (state_) {
      case State::connecting:
        state_ = State::connected;
        failedAttempts_ = 0;
        current_ = user;
        unawait(user);
        break;
      default:
        // Stopped while the attempt could not be stopped: nobody wants this connection.
        current_ = user;
        if (user->transport != nullptr) user->transport->loseConnection();
        break;
    }
  }

  void connectionFailed(const Failure& f) {
    inProgress_ = nullptr;
    switch (state_) {
      case State::connecting:
        state_ = State::waiting;
        wait();
        deliverConnectionFailure(f);
        break;
      case State::disconnecting:
        state_ = State::stopped;
        unawait(Failure(CancelledError()));
        finishStopping();
        break;
      case State::restarting:
        finishStopping();
        connect();
        break;
      default:
        break;
    }
  }

  void clientDisconnected() {
    current_ = nullptr;
    switch (state_) {
      case State::connected:
        state_ = State::waiting;
        wait();
        break;
      case State::disconnecting:
        state_ = State::stopped;
        unawait(Failure(CancelledError()));
        finishStopping();
        break;
      case State::restarting:
        finishStopping();
        connect();
        break;
      default:
        break;
    }
  }

  void reconnect() {
    if (state_ == State::waiting) connect();
  }

  // ---- outputs ---------------------------------------------------------------------------------

  void wait() {
    ++failedAttempts_;
    const Seconds delay = policy_(failedAttempts_);
    logger().info("Scheduling retry {attempt} to connect in {delay} seconds.",
                  {{"attempt", failedAttempts_}, {"delay", delay.count()}});
    retryCall_ = clock_.callLater(delay, [weak = weak_from_this()] {
      if (const auto m = weak.lock()) m->reconnect();
    });
  }

  Deferred<void> waitForStop() {
    Deferred<void> d;
    stopWaiters_.push_back(d);
    return d;
  }

  void finishStopping() {
    auto waiting = std::exchange(stopWaiters_, {});
    for (auto& w : waiting) w.callback();
  }

  template <class V>
  void unawait(const V& value) {
    auto waiting = std::exchange(awaiting_, {});
    for (auto& w : waiting) w.deferred.callback(value);
  }

  void deliverConnectionFailure(const Failure& f) {
    std::vector<Deferred<Protocol*>> ready;
    std::vector<Waiter> notReady;
    for (auto& w : awaiting_) {
      if (w.remaining == 0) {
        notReady.push_back(std::move(w));
      } else if (w.remaining <= 1) {
        ready.push_back(std::move(w.deferred));
      } else {
        notReady.push_back({std::move(w.deferred), w.remaining - 1});
      }
    }
    awaiting_ = std::move(notReady);
    for (auto& d : ready) d.errback(f);
  }

  std::shared_ptr<IStreamClientEndpoint> endpoint_;
  std::shared_ptr<Factory> factory_;
  IReactorTime& clock_;
  RetryPolicy policy_;

  State state_ = State::init;
  int failedAttempts_ = 0;
  Deferred<Protocol*> inProgress_ = nullptr;
  DelayedCall retryCall_;
  Protocol* current_ = nullptr;
  std::vector<Waiter> awaiting_;
  std::vector<Deferred<void>> stopWaiters_;
};

ClientService::ClientService(std::shared_ptr<IStreamClientEndpoint> endpoint,
                             std::shared_ptr<Factory> factory, IReactorTime& clock,
                             RetryPolicy retryPolicy)
    : machine_(std::make_shared<Machine>(std::move(endpoint), std::move(factory), clock,
                                         std::move(retryPolicy))) {}

ClientService::~ClientService() { machine_->abandon(); }

void ClientService::startService() {
  if (running()) {
    logger().warn("Duplicate ClientService.startService");
    return;
  }
  Service::startService();
  machine_->start();
}

Deferred<void> ClientService::stopService() {
  Service::stopService();
  return machine_->stop();
}

Deferred<Protocol*> ClientService::whenConnected(int failAfterFailures) {
  return machine_->whenConnected(failAfterFailures);
}

}  // namespace torsion::app
