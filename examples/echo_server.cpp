// echo_server PORT: echoes every byte back, on 127.0.0.1:PORT (Twisted's echoserv.py).
//
// The side-by-side benchmark harness (../shared/bench) runs it as torsion's candidate:
//   bench/run echo --candidate 'torsion=/path/to/build/examples/echo_server {port}'
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "examples/port_arg.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/network.hpp"
#include "torsion/net/protocol.hpp"

namespace {

class Echo : public torsion::Protocol {
 public:
  void connectionMade() override {
    // Backpressure: the connection is the producer of what it writes back, so it stops
    // reading while a slow client leaves more than the water mark unread.
    transport->registerProducer(*transport, true);
  }
  void dataReceived(std::string_view data) override { transport->write(data); }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  const auto port = examples::parsePort(argv[1]);
  if (!port) {
    std::fprintf(stderr, "echo_server: bad port '%s'\n", argv[1]);
    return 2;
  }
  torsion::Reactor reactor;
  auto& net = torsion::network(reactor);
  net.listenTCP(*port, torsion::Factory::forProtocol<Echo>(),
                {.backlog = 4096, .interface = "127.0.0.1"});
  reactor.run();
  return 0;
}
