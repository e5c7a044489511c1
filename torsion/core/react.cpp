// react(): Twisted's task.react around a torsion::Reactor.
#include "torsion/core/react.hpp"

#include <memory>
#include <string>
#include <utility>

#include "torsion/log/logger.hpp"

namespace torsion {

SystemExit::SystemExit(int code)
    : Error("SystemExit: exit code " + std::to_string(code)), code_(code) {}

namespace detail {
namespace {

// What main's Deferred, which may outlive react() (whoever holds it may fire it after the
// reactor is gone), shares with react(): the exit code, and whether react() still listens.
struct ReactState {
  int code = 0;
  bool stopping = false;  // the shutdown has begun
  bool over = false;      // run() returned
};

int exitCodeFor(const Failure& failure) {
  if (const SystemExit* exit = failure.value<SystemExit>()) return exit->code();
  static const Logger log("torsion.core.react");
  log.failure("main function encountered error", failure);
  return 1;
}

}  // namespace

int react(UniqueFunction<Deferred<void>(Reactor&)> main, Reactor::Options options) {
  Reactor reactor(std::move(options));
  const auto state = std::make_shared<ReactState>();
  reactor.addSystemEventTrigger(Reactor::Phase::before, "shutdown",
                                [state] { state->stopping = true; });
  reactor.callWhenRunning([&reactor, &main, state] {
    Deferred<void> finished = maybeDeferred(main, reactor);
    finished.addBoth([&reactor, state](Result<void> result) {
      if (state->over) return;
      if (!result.ok()) state->code = exitCodeFor(result.failure());
      // Twisted's react stops the reactor only if no shutdown is under way.
      if (!state->stopping) {
        try {
          reactor.stop();
        } catch (const ReactorNotRunning&) {  // stop() was called, the shutdown not begun yet
        }
      }
    });
  });
  reactor.run();
  state->over = true;
  return state->code;
}

}  // namespace detail
}  // namespace torsion
