// logtail_server FILE [PORT]: a push server that sends every line appended to FILE to every
// connected client, as it is written (`tail -F` over TCP). PORT defaults to 8888.
//
//   build/examples/logtail_server /var/log/nginx/access.log 8888 &
//   nc localhost 8888                      # prints each new request as it is logged
//
// It mirrors the "enhanced weblog server" of the Twisted article in
// ../shared/seeds/002_*.txt (WebLogFactory rereading access-log with callLater, WebLog
// protocols pushing new hits to their clients), without the XML. The file is polled five times
// a second; truncation and rotation start it over; a client that stops reading is dropped
// once 1 MiB waits for it, so it cannot grow the server's memory. See examples/logtail.hpp.
// Ctrl-C stops it.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "examples/logtail.hpp"
#include "examples/port_arg.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/log/log.hpp"
#include "torsion/net/network.hpp"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: %s FILE [PORT]\n", argv[0]);
    return 2;
  }
  std::optional<std::uint16_t> port = 8888;
  if (argc == 3) {
    port = examples::parsePort(argv[2]);
    if (!port) {
      std::fprintf(stderr, "logtail_server: bad port '%s'\n", argv[2]);
      return 2;
    }
  }
  torsion::globalLogPublisher().addObserver(torsion::textFileObserver(stdout));
  torsion::Reactor reactor;
  auto& net = torsion::network(reactor);
  try {
    auto listening =
        net.listenTCP(*port, std::make_shared<examples::logtail::LogTailFactory>(
                                 reactor, argv[1], examples::logtail::LogTailOptions{}));
    std::printf("Following %s on port %u\n", argv[1],
                static_cast<unsigned>(listening->getHost().port()));
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "logtail_server: %s\n", e.what());
    return 1;
  }
  reactor.run();
  return 0;
}
