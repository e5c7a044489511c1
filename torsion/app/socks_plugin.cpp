// torsiond socks: a SOCKSv4/4a proxy as Twisted's twisted/tap/socks.py, plus SOCKSv5 with
// username/password authentication (--user).
#include <CLI/CLI.hpp>
#include <fstream>

#include "torsion/app/builtin_plugins.hpp"
#include "torsion/app/internet.hpp"
#include "torsion/protocols/socks.hpp"

namespace torsion::app {
namespace {

class SocksMaker final : public ServiceMaker {
 public:
  std::string name() const override { return "socks"; }
  std::string description() const override { return "A SOCKSv4 (4a) and SOCKSv5 proxy service."; }

  void addOptions(CLI::App& cmd) override {
    cmd.add_option("-i,--interface", interface_, "local interface to which we listen")
        ->capture_default_str();
    cmd.add_option("-p,--port", port_, "Port on which to listen (or a server endpoint)")
        ->capture_default_str();
    cmd.add_option("-l,--log", log_, "file to log connection data to")->type_name("FILE");
    cmd.add_option("--listen", listen_, "Server endpoint to listen on (instead of -i and -p)")
        ->type_name("ENDPOINT");
    cmd.add_option("--user", users_,
                   "NAME:PASSWORD allowed to connect (SOCKSv5, RFC 1929); once given, "
                   "clients must authenticate and SOCKSv4 is refused")
        ->type_name("NAME:PASSWORD");
  }

  std::shared_ptr<Service> makeService(PluginContext& ctx) override {
    protocols::SocksServerOptions options;
    for (const auto& user : users_) {
      auto colon = user.find(':');
      if (colon == std::string::npos || colon == 0) {
        throw UsageError("socks: --user '" + user + "' is not NAME:PASSWORD");
      }
      options.credentials[user.substr(0, colon)] = user.substr(colon + 1);
    }
    if (!log_.empty()) {
      auto out = std::make_shared<std::ofstream>(log_, std::ios::app);
      if (!*out) {
        throw UsageError("socks: cannot open the --log file " + log_);
      }
      auto write = protocols::socksLogWriter(*out);
      // The stream lives as long as the factory's options (the function holds it).
      options.log = [out, write](const protocols::SocksLogEntry& entry) {
        write(entry);
        out->flush();
      };
    }
    std::string listen = listen_;
    if (listen.empty()) {
      bool number = !port_.empty() && port_.find_first_not_of("0123456789") == std::string::npos;
      listen = number ? "tcp:" + port_ + ":interface=" + escape(interface_) : port_;
    }
    auto factory = std::make_shared<protocols::SocksFactory>(ctx.net, std::move(options));
    return std::make_shared<StreamServerEndpointService>(ctx.serverEndpoint(listen), factory);
  }

 private:
  // Colons in an IPv6 interface are escaped in an endpoint string.
  static std::string escape(const std::string& value) {
    std::string out;
    for (char c : value) {
      if (c == ':' || c == '\\' || c == '=') {
        out += '\\';
      }
      out += c;
    }
    return out;
  }

  std::string interface_ = "127.0.0.1";
  std::string port_ = "1080";
  std::string log_;
  std::string listen_;
  std::vector<std::string> users_;
};

}  // namespace

std::unique_ptr<ServiceMaker> makeSocksPlugin() { return std::make_unique<SocksMaker>(); }

}  // namespace torsion::app
