// hello_web PORT: answers every GET with "Hello, World!" on 127.0.0.1:PORT, through Site and
// Resource (the HTTP candidate of the side-by-side harness, ../shared/bench):
//   bench/run http --candidate 'torsion=/path/to/build/examples/hello_web {port}'
#include <cstdio>
#include <memory>

#include "examples/port_arg.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/net/network.hpp"
#include "torsion/web/server.hpp"

namespace {

class Hello : public torsion::web::Resource {
 public:
  bool isLeaf() const override { return true; }
  torsion::web::RenderResult renderGET(torsion::web::Request& request) override {
    request.setHeader("Content-Type", "text/plain");
    return "Hello, World!";
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  const auto port = examples::parsePort(argv[1]);
  if (!port) {
    std::fprintf(stderr, "hello_web: bad port '%s'\n", argv[1]);
    return 2;
  }
  torsion::Reactor reactor;
  auto site = std::make_shared<torsion::web::Site>(std::make_shared<Hello>(), reactor);
  torsion::network(reactor).listenTCP(*port, site, {.backlog = 4096, .interface = "127.0.0.1"});
  reactor.run();
  return 0;
}
