// react(): run a Reactor around a main function, and get an exit code (Twisted's task.react).
//
//     int main() {
//       return torsion::react([](torsion::Reactor& reactor) -> torsion::Deferred<void> {
//         std::string page = co_await fetch(reactor, "http://example.com/");
//         std::puts(page.c_str());
//       });
//     }
//
// Twisted's react calls sys.exit itself; torsion's returns the code, for main() to return.
#pragma once

#include <type_traits>
#include <utility>

#include "torsion/core/errors.hpp"
#include "torsion/core/function.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/defer/deferred.hpp"

namespace torsion {

// Ends a program with an exit code: a main function given to react() that fails with
// SystemExit(code) makes react() return `code`, without logging an error (Python's
// SystemExit, which Twisted's react honours the same way).
class SystemExit : public Error {
 public:
  explicit SystemExit(int code = 0);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

namespace detail {
int react(UniqueFunction<Deferred<void>(Reactor&)> main, Reactor::Options options);
}  // namespace detail

// Makes a Reactor with `options`, calls main(reactor) once it is running, and runs it until
// the Deferred main returned fires; then stops the reactor (shutdown triggers run as usual)
// and returns, once run() returned:
//  * 0 if the Deferred fired with a value;
//  * the code of a SystemExit it failed with;
//  * 1 for any other failure, which is logged first (critical, "main function encountered
//    error", namespace "torsion.core.react"). An exception main throws counts as a failure.
// main: (Reactor&) -> Deferred<T> (any T; the value is ignored), typically a coroutine.
//
// If something else stops the reactor first (stop() from elsewhere, SIGINT or SIGTERM),
// react() returns 0, as Twisted's does, unless main's Deferred failed during the shutdown.
// main's Deferred is then neither waited for nor cancelled: whatever it waits on is released
// with the reactor (pending timed calls are destroyed without running, see Reactor).
// main is called in place (not copied), during react().
template <class F>
int react(F&& main, Reactor::Options options = {}) {
  using R = std::remove_cvref_t<std::invoke_result_t<F&, Reactor&>>;
  static_assert(detail::IsDeferred<R>::value,
                "react(main): main(reactor) must return a Deferred (or be a coroutine "
                "returning one)");
  return detail::react(
      [&main](Reactor& reactor) -> Deferred<void> {
        if constexpr (std::is_same_v<R, Deferred<void>>) {
          return main(reactor);
        } else {
          return main(reactor).addCallback([](typename R::value_type&&) {});
        }
      },
      std::move(options));
}

}  // namespace torsion
