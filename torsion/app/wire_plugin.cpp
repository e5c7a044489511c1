// torsiond wire: the inetd-internal services of RFC 862-868 on any endpoints
// (Twisted's twisted.protocols.wire, which twistd serves through its inetd plugin).
#include <CLI/CLI.hpp>

#include "torsion/app/builtin_plugins.hpp"
#include "torsion/app/internet.hpp"
#include "torsion/protocols/wire.hpp"

namespace torsion::app {
namespace {

struct WireService {
  const char* option;
  const char* help;
  std::shared_ptr<Factory> (*factory)();
};

template <class P>
std::shared_ptr<Factory> factoryOf() {
  return Factory::forProtocol<P>();
}

const WireService kServices[] = {
    {"echo", "echo (RFC 862): sends back what it receives", &factoryOf<protocols::Echo>},
    {"discard", "discard (RFC 863): reads and drops everything", &factoryOf<protocols::Discard>},
    {"chargen", "chargen (RFC 864): sends characters until the client leaves",
     &factoryOf<protocols::Chargen>},
    {"daytime", "daytime (RFC 867): sends the time as text and closes",
     &factoryOf<protocols::Daytime>},
    {"qotd", "qotd (RFC 865): sends a quote and closes", &factoryOf<protocols::QOTD>},
    {"time", "time (RFC 868): sends the time as 32 bits and closes", &factoryOf<protocols::Time>},
    {"who", "who: sends the active users and closes", &factoryOf<protocols::Who>},
};

class WireMaker final : public ServiceMaker {
 public:
  std::string name() const override { return "wire"; }
  std::string description() const override {
    return "Echo, discard, chargen, daytime, qotd, time and who services";
  }

  void addOptions(CLI::App& cmd) override {
    cmd.footer(
        "Each option takes an endpoint and may be repeated, e.g.\n"
        "  torsiond -n wire --echo tcp:7007 --daytime tcp:1313:interface=127.0.0.1");
    for (std::size_t i = 0; i < std::size(kServices); ++i) {
      cmd.add_option(std::string("--") + kServices[i].option, endpoints_[i],
                     std::string("serve ") + kServices[i].help)
          ->type_name("ENDPOINT");
    }
  }

  std::shared_ptr<Service> makeService(PluginContext& ctx) override {
    auto tree = std::make_shared<MultiService>();
    bool any = false;
    for (std::size_t i = 0; i < std::size(kServices); ++i) {
      for (const auto& description : endpoints_[i]) {
        auto service = std::make_shared<StreamServerEndpointService>(
            ctx.serverEndpoint(description), kServices[i].factory());
        service->setServiceParent(*tree);
        any = true;
      }
    }
    if (!any) {
      throw UsageError("wire: give at least one service, e.g. --echo tcp:7007");
    }
    return tree;
  }

 private:
  std::vector<std::string> endpoints_[std::size(kServices)];
};

}  // namespace

std::unique_ptr<ServiceMaker> makeWirePlugin() { return std::make_unique<WireMaker>(); }

}  // namespace torsion::app
