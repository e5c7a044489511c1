// chat_server [PORT]: a line-based chat room (PORT defaults to 8123, as in Twisted's chat.py).
//
//   build/examples/chat_server 8123 &
//   nc -C localhost 8123          # twice or more, in separate terminals
//   What's your name?
//   alice
//   Welcome, alice!
//   * bob has joined
//   <bob> hi alice
//
// Each client first picks a name (a name in use is refused: "Name taken, please choose
// another."); every line it sends afterwards goes to everyone else as "<name> line", and
// joins and departures are announced. It mirrors the chat server of Twisted's "Writing
// Servers" howto (chat.py), the "chat services" of ../shared/seeds/003_*.txt; see
// examples/chat.hpp for the protocol and its limits. Ctrl-C stops it.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "examples/chat.hpp"
#include "examples/port_arg.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/log/log.hpp"
#include "torsion/net/network.hpp"

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: %s [PORT]\n", argv[0]);
    return 2;
  }
  std::optional<std::uint16_t> port = 8123;
  if (argc == 2) {
    port = examples::parsePort(argv[1]);
    if (!port) {
      std::fprintf(stderr, "chat_server: bad port '%s'\n", argv[1]);
      return 2;
    }
  }
  torsion::globalLogPublisher().addObserver(torsion::textFileObserver(stdout));
  torsion::Reactor reactor;
  auto& net = torsion::network(reactor);
  try {
    auto listening = net.listenTCP(*port, std::make_shared<examples::chat::ChatFactory>());
    std::printf("Chat server on port %u\n", static_cast<unsigned>(listening->getHost().port()));
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chat_server: %s\n", e.what());
    return 1;
  }
  reactor.run();
  return 0;
}
