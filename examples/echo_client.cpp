// echo_client HOST PORT [MESSAGE...]: sends each MESSAGE as a line to an echo server and prints
// each line that comes back; exits 0 once all came back, 1 (with the reason on stderr) if the
// connection failed or ended early. Without messages it sends Twisted's three.
//
//   build/examples/echo_server 8000 &
//   build/examples/echo_client localhost 8000 hello "fine day"
//   hello
//   fine day
//
// It mirrors Twisted's examples/echoclient.py (a LineReceiver, a ClientFactory with a `done`
// Deferred, and task.react, here torsion::react); see examples/echo_client.hpp.
#include "examples/echo_client.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "examples/port_arg.hpp"
#include "torsion/core/react.hpp"
#include "torsion/net/network.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s HOST PORT [MESSAGE...]\n", argv[0]);
    return 2;
  }
  const std::string host = argv[1];
  const auto port = examples::parsePort(argv[2]);
  if (!port || *port == 0) {
    std::fprintf(stderr, "echo_client: bad port '%s'\n", argv[2]);
    return 2;
  }
  std::vector<std::string> messages(argv + 3, argv + argc);
  if (messages.empty()) messages = examples::echoclient::defaultMessages();
  for (const std::string& m : messages) {
    if (m.find_first_of("\r\n") != std::string::npos) {
      std::fprintf(stderr, "echo_client: a message must be one line\n");
      return 2;
    }
  }

  return torsion::react([&](torsion::Reactor& reactor) -> torsion::Deferred<void> {
    auto factory = std::make_shared<examples::echoclient::EchoClientFactory>(
        messages, [](std::string_view line) {
          std::fwrite(line.data(), 1, line.size(), stdout);
          std::fputc('\n', stdout);
          std::fflush(stdout);
        });
    torsion::network(reactor).connectTCP(host, *port, factory);
    return factory->done().addErrback([host, port](torsion::Failure f) {
      std::fprintf(stderr, "echo_client: %s:%u: %s\n", host.c_str(), static_cast<unsigned>(*port),
                   f.getErrorMessage().c_str());
      // The reason is printed; exit 1 without react() logging it again.
      throw torsion::SystemExit(1);
    });
  });
}
