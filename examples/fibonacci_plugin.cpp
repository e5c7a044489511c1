// torsiond fibonacci [--port ENDPOINT]: the persistent Fibonacci server of
// ../shared/seeds/002_*.txt (Twisted's "twistd -f Fibonacci.tap"), as an external torsiond
// plugin. The classes are in examples/fibonacci.hpp.
//
//   TORSION_PLUGIN_PATH=build/examples/plugins torsiond -n --state fib.json fibonacci
//   nc 127.0.0.1 8888        (type a line: 2; another: 3; ...)
//   ^C, then start it again: it goes on where it left off.
//
// Built as a MODULE (build/examples/plugins/fibonacci.so, see examples/CMakeLists.txt) against
// torsion's headers only: torsiond provides torsion's symbols when it loads the library.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "examples/fibonacci.hpp"
#include "torsion/app/plugin.hpp"

namespace {

using examples::fibonacci::FibonacciFactory;
using examples::fibonacci::FibonacciService;

class FibonacciMaker final : public torsion::app::ServiceMaker {
 public:
  std::string name() const override { return "fibonacci"; }
  std::string description() const override {
    return "Serves one Fibonacci sequence to all clients, kept across restarts (--state)";
  }
  void addOptions(CLI::App& command) override {
    command.add_option("-p,--port", port_, "Endpoint to listen on")
        ->type_name("ENDPOINT")
        ->capture_default_str();
    command.footer(
        "Each time a client sends data it gets the next number and \"\\r\\n\". Run with\n"
        "torsiond --state FILE to continue the sequence after a restart.");
  }
  std::shared_ptr<torsion::app::Service> makeService(
      torsion::app::PluginContext& context) override {
    auto service = std::make_shared<FibonacciService>(context.serverEndpoint(port_),
                                                      std::make_shared<FibonacciFactory>());
    service->setName("fibonacci");
    return service;
  }

 private:
  std::string port_ = "tcp:8888";
};

}  // namespace

TORSION_PLUGIN(registry) { registry.add(std::make_unique<FibonacciMaker>()); }
