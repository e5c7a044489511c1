#include "torsion/app/internet.hpp"

#include <utility>

#include "torsion/defer/errors.hpp"
#include "torsion/log/logger.hpp"

namespace torsion::app {
namespace {

const Logger& log() {
  static const Logger logger("torsion.app.internet");
  return logger;
}

}  // namespace

// ---- StreamServerEndpointService ----------------------------------------------------------

struct StreamServerEndpointService::State {
  std::shared_ptr<IListeningPort> port;
  std::optional<Deferred<std::shared_ptr<IListeningPort>>> listening;
  std::exception_ptr failure;  // a listen failure not yet thrown or logged
  bool synchronous = true;     // listen() has not returned yet
  bool raiseSynchronously = true;
};

StreamServerEndpointService::StreamServerEndpointService(
    std::shared_ptr<IStreamServerEndpoint> endpoint, std::shared_ptr<Factory> factory)
    : endpoint_(std::move(endpoint)),
      factory_(std::move(factory)),
      state_(std::make_shared<State>()) {}

StreamServerEndpointService::~StreamServerEndpointService() {
  if (state_->listening) {
    state_->listening->cancel();
  }
}

std::shared_ptr<IListeningPort> StreamServerEndpointService::port() const noexcept {
  return state_->port;
}

void StreamServerEndpointService::listen() {
  auto st = state_;
  st->failure = nullptr;
  st->synchronous = true;
  st->raiseSynchronously = raiseSynchronously_;
  auto listening = endpoint_->listen(factory_).addCallbacks(
      [st](std::shared_ptr<IListeningPort> port) {
        st->listening.reset();
        st->port = port;
        return port;
      },
      [st](Failure f) -> std::shared_ptr<IListeningPort> {
        st->listening.reset();
        if (f.check<CancelledError>()) {
          return nullptr;  // stopService() or the destructor cancelled the attempt
        }
        if (st->synchronous && st->raiseSynchronously) {
          st->failure = f.exception();
        } else {
          log().failure("Error listening", f, LogLevel::error);
        }
        return nullptr;
      });
  if (!listening.called()) {
    st->listening = std::move(listening);  // cancelled by stopService() if still pending
  }
  st->synchronous = false;
  if (auto error = std::exchange(st->failure, nullptr)) {
    std::rethrow_exception(error);
  }
}

void StreamServerEndpointService::privilegedStartService() {
  Service::privilegedStartService();
  if (!state_->port && !state_->listening) {
    listen();
  }
}

void StreamServerEndpointService::startService() {
  if (!state_->port && !state_->listening) {
    listen();
  }
  Service::startService();
}

Deferred<void> StreamServerEndpointService::stopService() {
  Service::stopService();
  if (state_->listening) {
    auto listening = std::move(*state_->listening);
    state_->listening.reset();
    listening.cancel();
  }
  if (auto port = std::exchange(state_->port, nullptr)) {
    return port->stopListening();
  }
  return succeed();
}

// ---- TimerService -------------------------------------------------------------------------

TimerService::TimerService(IReactorTime& clock, Seconds interval, Function f, int)
    : clock_(clock), interval_(interval), f_(std::move(f)) {}

TimerService::~TimerService() = default;

void TimerService::startService() {
  Service::startService();
  loop_.emplace(clock_, [this]() -> Deferred<void> {
    auto outcome = f_();
    return outcome ? std::move(*outcome) : succeed();
  });
  loopDone_ = loop_->start(interval_, true).addErrback([](Failure f) {
    log().failure("Error in a TimerService call; the calls stop", f, LogLevel::error);
  });
}

Deferred<void> TimerService::stopService() {
  Service::stopService();
  if (loop_ && loop_->running()) {
    loop_->stop();
  }
  if (loopDone_) {
    auto done = std::move(*loopDone_);
    loopDone_.reset();
    return done;
  }
  return succeed();
}

}  // namespace torsion::app
