// hello_deferred: Deferreds, coroutines, timeouts and a semaphore, in one small program.
//
// Five "downloads" run at most two at a time (DeferredSemaphore); each takes a simulated
// time, and one is slower than the timeout. A coroutine gathers the results. Until the
// reactor lands, time is a testing::Clock that this program advances itself: code written
// against IReactorTime runs the same on the reactor.
#include <cstdio>
#include <string>
#include <vector>

#include "torsion/defer/defer.hpp"
#include "torsion/log/log.hpp"
#include "torsion/testing/clock.hpp"

using namespace std::chrono_literals;
using torsion::Deferred;
using torsion::Failure;
using torsion::Seconds;

namespace {

const torsion::Logger log("hello_deferred");

// A pretend download: fires with the page's size after `duration` of (virtual) time.
// Cancelling it cancels the timer: nothing fires later.
Deferred<std::size_t> download(torsion::IReactorTime& clock, std::string url, Seconds duration) {
  auto timer = std::make_shared<torsion::DelayedCall>();
  Deferred<std::size_t> d([timer](Deferred<std::size_t>&) {
    if (timer->active()) timer->cancel();
  });
  *timer = clock.callLater(duration, [d, url]() mutable { d.callback(url.size() * 1000); });
  return d;
}

// Downloads one URL with a timeout; a timeout becomes a size of 0 and a warning.
Deferred<std::size_t> fetch(torsion::IReactorTime& clock, torsion::DeferredSemaphore& slots,
                            std::string url, Seconds duration) {
  return slots.run([&clock, url, duration] {
    log.info("fetching {url}", {{"url", url}});
    return download(clock, url, duration)
        .addTimeout(3s, clock)
        .addErrback([url](Failure f) -> std::size_t {
          f.trap<torsion::TimeoutError>();
          log.warn("{url} timed out", {{"url", url}});
          return 0;
        });
  });
}

// The coroutine: waits for every download and adds their sizes up.
Deferred<std::size_t> fetchAll(torsion::IReactorTime& clock) {
  torsion::DeferredSemaphore slots(2);
  std::vector<Deferred<std::size_t>> pending;
  const std::vector<std::pair<std::string, Seconds>> jobs = {{"https://example.org/a", 1s},
                                                             {"https://example.org/bb", 2s},
                                                             {"https://example.org/slow", 10s},
                                                             {"https://example.org/ccc", 1s},
                                                             {"https://example.org/dddd", 0.5s}};
  for (const auto& [url, duration] : jobs) pending.push_back(fetch(clock, slots, url, duration));
  std::vector<std::size_t> sizes = co_await torsion::gatherResults(std::move(pending));
  std::size_t total = 0;
  for (std::size_t s : sizes) total += s;
  co_return total;
}

}  // namespace

int main() {
  torsion::globalLogPublisher().addObserver(torsion::textFileObserver(stdout));
  torsion::testing::Clock clock;
  bool done = false;
  fetchAll(clock).addCallback([&](std::size_t total) {
    log.info("all done: {total} bytes in {seconds:.1f} s of virtual time",
             {{"total", total}, {"seconds", clock.seconds()}});
    done = true;
  });
  // Drive virtual time until the work is done (bounded: the slowest path is a few seconds).
  for (int tick = 0; tick < 1000 && !done; ++tick) clock.advance(100ms);
  return done ? 0 : 1;
}
