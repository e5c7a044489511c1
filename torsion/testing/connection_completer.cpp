#include "torsion/testing/connection_completer.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "torsion/log/logger.hpp"
#include "torsion/net/errors.hpp"

namespace torsion::testing {

ConnectionCompleter::ConnectionCompleter(MemoryReactor& reactor, LoopbackOptions options)
    : reactor_(reactor), options_(std::move(options)) {}

bool ConnectionCompleter::handled(const FakeConnector* c) const {
  return std::find(handled_.begin(), handled_.end(), std::make_pair(c, c->connectCalls())) !=
         handled_.end();
}

FakeConnector* ConnectionCompleter::oldestPending() const {
  for (const std::shared_ptr<FakeConnector>& c : reactor_.connectors) {
    if (c->state() == IConnector::State::connecting && !handled(c.get())) return c.get();
  }
  return nullptr;
}

std::size_t ConnectionCompleter::pending() const {
  return static_cast<std::size_t>(
      std::count_if(reactor_.connectors.begin(), reactor_.connectors.end(), [this](const auto& c) {
        return c->state() == IConnector::State::connecting && !handled(c.get());
      }));
}

bool ConnectionCompleter::findListener(const FakeConnector& c, Listener& out) const {
  const Address dest = c.getDestination();
  if (dest.family() == Address::Family::unix) {
    for (const MemoryReactor::UNIXServer& s : reactor_.unixServers) {
      if (s.listeningPort->listening() && s.path == dest.name()) {
        out = Listener{s.factory, s.listeningPort->getHost()};
        return true;
      }
    }
    return false;
  }
  if (!dest.isIP()) return false;  // a name the test did not put in reactor.hosts
  for (const MemoryReactor::TCPServer& s : reactor_.tcpServers) {
    const Address host = s.listeningPort->getHost();
    const bool anyAddress = host.host() == "0.0.0.0" || host.host() == "::";
    if (s.listeningPort->listening() && host.port() == dest.port() &&
        (anyAddress || host.host() == dest.host())) {
      out = Listener{s.factory, dest};
      return true;
    }
  }
  return false;
}

IOPump* ConnectionCompleter::succeedOnce() {
  for (const std::shared_ptr<FakeConnector>& shared : reactor_.connectors) {
    FakeConnector* c = shared.get();
    if (c->state() != IConnector::State::connecting || handled(c)) continue;
    Listener listener;
    if (!findListener(*c, listener)) continue;
    markHandled(c);

    LoopbackOptions options = options_;
    options.serverAddress = listener.address;
    if (listener.address.family() == Address::Family::unix) {
      options.clientAddress = Address::unix("");
    } else {
      const auto it = std::find_if(reactor_.tcpClients.begin(), reactor_.tcpClients.end(),
                                   [c](const auto& t) { return t.connector.get() == c; });
      if (it != reactor_.tcpClients.end() && it->bindAddress && it->bindAddress->port() != 0) {
        options.clientAddress = *it->bindAddress;
      } else {
        const bool v6 = listener.address.family() == Address::Family::ipv6;
        options.clientAddress = Address::ip(v6 ? "::1" : "127.0.0.1", nextClientPort_++);
      }
    }

    std::shared_ptr<ClientFactory> clientFactory = c->factory();
    std::unique_ptr<Protocol> client;
    try {
      client = clientFactory->buildProtocol(options.serverAddress);
    } catch (...) {
      c->setState(IConnector::State::disconnected);
      clientFactory->clientConnectionFailed(*c, Failure::current());
      return nullptr;
    }
    if (!client) {
      c->setState(IConnector::State::disconnected);
      clientFactory->clientConnectionFailed(
          *c, Failure(ConnectError(
                  "The factory refused the connection (buildProtocol returned null).")));
      return nullptr;
    }

    std::unique_ptr<Protocol> server;
    try {
      server = listener.factory->buildProtocol(options.clientAddress);
    } catch (...) {
      // As a listening port does: logged, and the connection refused (the client reads EOF).
      Logger("torsion.testing.loopback")
          .failure("Unhandled error in {callback}; refusing the connection", Failure::current(),
                   LogLevel::error, {{"callback", "buildProtocol"}});
    }
    Protocol* s = server.get();
    Protocol* cp = client.get();
    auto pump = std::unique_ptr<IOPump>(
        new IOPump(options, s, std::move(server), listener.factory, cp, std::move(client)));
    c->setState(IConnector::State::connected);
    pump->client_->afterLost_ = [shared](const Failure& reason) {
      shared->setState(IConnector::State::disconnected);
      shared->factory()->clientConnectionLost(*shared, reason);
    };
    pumps_.push_back(std::move(pump));
    IOPump* made = pumps_.back().get();
    made->start();
    return made;
  }
  return nullptr;
}

bool ConnectionCompleter::failOnce(const Failure& reason) {
  FakeConnector* c = oldestPending();
  if (c == nullptr) return false;
  markHandled(c);
  c->setState(IConnector::State::disconnected);
  c->factory()->clientConnectionFailed(*c, reason);
  return true;
}

bool ConnectionCompleter::pump() {
  bool moved = false;
  for (const std::unique_ptr<IOPump>& p : pumps_) moved = p->pump() || moved;
  return moved;
}

bool ConnectionCompleter::flush() {
  bool any = false;
  for (std::size_t rounds = 0; pump(); ++rounds) {
    any = true;
    if (rounds + 1 >= options_.maxFlushPumps) {
      throw std::runtime_error("ConnectionCompleter::flush: still busy after " +
                               std::to_string(rounds + 1) + " pumps");
    }
  }
  return any;
}

}  // namespace torsion::testing
