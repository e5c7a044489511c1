// hello_reactor: the same small job as hello_deferred, on a real Reactor.
//
// Five pretend downloads run at most two at a time; one is slower than the timeout. A
// blocking checksum runs on the reactor's thread pool (deferToThread), a LoopingCall ticks
// while the work goes on, and react() turns the coroutine's outcome into the exit code.
// `make run` runs it (until torsiond exists).
#include <cstdio>
#include <string>
#include <vector>

#include "torsion/core/react.hpp"
#include "torsion/core/threads.hpp"
#include "torsion/defer/defer.hpp"
#include "torsion/log/log.hpp"

using namespace std::chrono_literals;
using torsion::Deferred;
using torsion::Failure;
using torsion::Reactor;
using torsion::Seconds;

namespace {

const torsion::Logger log("hello_reactor");

// A pretend download: fires with the page's size after `duration`; cancelling it cancels the
// timer.
Deferred<std::size_t> download(Reactor& reactor, std::string url, Seconds duration) {
  auto timer = std::make_shared<torsion::DelayedCall>();
  Deferred<std::size_t> d([timer](Deferred<std::size_t>&) {
    if (timer->active()) timer->cancel();
  });
  *timer = reactor.callLater(duration, [d, url]() mutable { d.callback(url.size() * 1000); });
  return d;
}

// Blocking work for the thread pool: a checksum of the sizes (pretend it reads files).
std::size_t checksum(std::vector<std::size_t> sizes) {
  std::size_t h = 1469598103934665603ULL;
  for (std::size_t s : sizes) h = (h ^ s) * 1099511628211ULL;
  return h;
}

Deferred<void> fetchAll(Reactor& reactor) {
  torsion::DeferredSemaphore slots(2);
  torsion::LoopingCall ticker(reactor, [] { log.info("tick"); });
  Deferred<void> ticking = ticker.start(100ms);

  const std::vector<std::pair<std::string, Seconds>> jobs = {{"https://example.org/a", 100ms},
                                                             {"https://example.org/bb", 200ms},
                                                             {"https://example.org/slow", 1s},
                                                             {"https://example.org/ccc", 100ms},
                                                             {"https://example.org/dddd", 50ms}};
  std::vector<Deferred<std::size_t>> pending;
  for (const auto& [url, duration] : jobs) {
    pending.push_back(slots.run([&reactor, url = url, duration = duration] {
      log.info("fetching {url}", {{"url", url}});
      return download(reactor, url, duration)
          .addTimeout(300ms, reactor)
          .addErrback([url](Failure f) -> std::size_t {
            f.trap<torsion::TimeoutError>();
            log.warn("{url} timed out", {{"url", url}});
            return 0;
          });
    }));
  }
  std::vector<std::size_t> sizes = co_await torsion::gatherResults(std::move(pending));
  std::size_t sum = co_await torsion::deferToThread(reactor, [sizes] { return checksum(sizes); });
  ticker.stop();
  co_await std::move(ticking);
  std::size_t total = 0;
  for (std::size_t s : sizes) total += s;
  log.info("all done: {total} bytes, checksum {sum:x}", {{"total", total}, {"sum", sum}});
}

}  // namespace

int main() {
  torsion::globalLogPublisher().addObserver(torsion::textFileObserver(stdout));
  return torsion::react([](Reactor& reactor) { return fetchAll(reactor); });
}
