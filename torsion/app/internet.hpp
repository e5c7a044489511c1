// Services for network servers and periodic work (Twisted's application.internet):
// StreamServerEndpointService listens on an endpoint while it runs; TimerService calls a
// function every interval while it runs. ClientService (client_service.hpp) keeps a client
// connection up.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "torsion/app/service.hpp"
#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/defer/task.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/port.hpp"

namespace torsion::app {

// Listens on `endpoint` with `factory` between startService() and stopService().
//
// Listening starts in privilegedStartService() (so a port below 1024 can be bound before the
// runner drops root), or in startService() when that was not called. Endpoints in this
// library listen at once, so a failure (the port is in use) is known there: it is thrown
// from that call (Twisted's _raiseSynchronously, which twistd's strports services set) when
// raiseSynchronously is true, the default; otherwise it is logged. stopService() stops
// listening; its Deferred fires once the port is closed (connections already accepted are
// not closed: they belong to their protocols).
class StreamServerEndpointService : public Service {
 public:
  StreamServerEndpointService(std::shared_ptr<IStreamServerEndpoint> endpoint,
                              std::shared_ptr<Factory> factory);
  ~StreamServerEndpointService() override;

  void privilegedStartService() override;
  void startService() override;
  Deferred<void> stopService() override;

  // Throw a listen failure from privilegedStartService()/startService() (default) instead
  // of logging it.
  void setRaiseSynchronously(bool raise) noexcept { raiseSynchronously_ = raise; }

  // The listening port once listening, else null.
  std::shared_ptr<IListeningPort> port() const noexcept;
  const std::shared_ptr<Factory>& factory() const noexcept { return factory_; }

 private:
  struct State;
  void listen();

  std::shared_ptr<IStreamServerEndpoint> endpoint_;
  std::shared_ptr<Factory> factory_;
  // Shared with the listen() callbacks, which may outlive the service.
  std::shared_ptr<State> state_;
  bool raiseSynchronously_ = true;
};

// Calls `f` every `interval` while running (Twisted's TimerService): first at once in
// startService(), then every interval, through a LoopingCall on `clock`. `f` returns void or
// Deferred<void>; a returned Deferred is waited for before the next call. An exception (or a
// failed Deferred) is logged and ends the calls until the service is started again.
// stopService() stops the loop and fires once a call in progress has finished.
class TimerService : public Service {
 public:
  using Function = std::function<std::optional<Deferred<void>>()>;

  template <class F>
  TimerService(IReactorTime& clock, Seconds interval, F&& f)
      : TimerService(clock, interval, wrap(std::forward<F>(f)), 0) {}
  ~TimerService() override;

  void startService() override;
  Deferred<void> stopService() override;

 private:
  TimerService(IReactorTime& clock, Seconds interval, Function f, int);

  template <class F>
  static Function wrap(F&& f) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(std::is_void_v<R> || std::is_same_v<std::remove_cvref_t<R>, Deferred<void>>,
                  "TimerService(clock, interval, f): f must return void or Deferred<void>");
    return [g = std::forward<F>(f)]() mutable -> std::optional<Deferred<void>> {
      if constexpr (std::is_void_v<R>) {
        g();
        return std::nullopt;
      } else {
        return Deferred<void>(g());
      }
    };
  }

  IReactorTime& clock_;
  Seconds interval_;
  Function f_;
  std::optional<LoopingCall> loop_;
  std::optional<Deferred<void>> loopDone_;
};

}  // namespace torsion::app
