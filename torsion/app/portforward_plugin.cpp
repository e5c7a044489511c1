// torsiond portforward: a TCP relay (Twisted's twisted/tap/portforward.py), with endpoint
// strings on both sides as the modern form.
#include <CLI/CLI.hpp>

#include "torsion/app/builtin_plugins.hpp"
#include "torsion/app/internet.hpp"
#include "torsion/protocols/portforward.hpp"

namespace torsion::app {
namespace {

class PortForwardMaker final : public ServiceMaker {
 public:
  std::string name() const override { return "portforward"; }
  std::string description() const override { return "A simple port-forwarder."; }

  void addOptions(CLI::App& cmd) override {
    cmd.add_option("-p,--port", port_, "Set the port number (or a server endpoint)")
        ->capture_default_str();
    cmd.add_option("-h,--host", host_, "Set the host")->capture_default_str();
    cmd.add_option("-d,--dest_port,--dest-port", destPort_, "Set the destination port")
        ->capture_default_str();
    cmd.add_option("--listen", listen_, "Server endpoint to listen on (instead of --port)")
        ->type_name("ENDPOINT");
    cmd.add_option("--connect", connect_,
                   "Client endpoint to forward to (instead of --host and --dest_port)")
        ->type_name("ENDPOINT");
  }

  std::shared_ptr<Service> makeService(PluginContext& ctx) override {
    std::string listen = !listen_.empty() ? listen_ : portToEndpoint(port_);
    std::shared_ptr<Factory> factory;
    if (!connect_.empty()) {
      factory = std::make_shared<protocols::ProxyFactory>(ctx.clientEndpoint(connect_));
    } else {
      if (destPort_ < 1 || destPort_ > 65535) {
        throw UsageError("portforward: --dest_port " + std::to_string(destPort_) +
                         " is not a port number (1-65535)");
      }
      factory = std::make_shared<protocols::ProxyFactory>(ctx.net, host_,
                                                          static_cast<std::uint16_t>(destPort_));
    }
    return std::make_shared<StreamServerEndpointService>(ctx.serverEndpoint(listen), factory);
  }

 private:
  // twistd's strports: a bare number means "tcp:NUMBER".
  static std::string portToEndpoint(const std::string& port) {
    if (!port.empty() && port.find_first_not_of("0123456789") == std::string::npos) {
      return "tcp:" + port;
    }
    return port;
  }

  std::string port_ = "6666";
  std::string host_ = "localhost";
  int destPort_ = 6665;
  std::string listen_;
  std::string connect_;
};

}  // namespace

std::unique_ptr<ServiceMaker> makePortForwardPlugin() {
  return std::make_unique<PortForwardMaker>();
}

}  // namespace torsion::app
