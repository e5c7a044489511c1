#include "torsion/testing/memory_reactor.hpp"

#include <stdexcept>
#include <utility>

#include "torsion/net/errors.hpp"

namespace torsion::testing {

// ---- FakeListeningPort --------------------------------------------------------------------

Deferred<void> FakeListeningPort::stopListening() {
  ++stopCalls_;
  listening_ = false;
  return succeed();
}

// ---- FakeConnector --------------------------------------------------------------------------

void FakeConnector::connect() {
  if (state_ != State::disconnected) {
    throw std::logic_error("FakeConnector::connect: can't connect in the current state");
  }
  ++connectCalls_;
  state_ = State::connecting;
  factory_->startedConnecting(*this);
}

void FakeConnector::disconnect() {
  ++disconnectCalls_;
  state_ = State::disconnected;
}

void FakeConnector::stopConnecting() {
  if (state_ != State::connecting) {
    throw std::logic_error("FakeConnector::stopConnecting: not connecting");
  }
  stoppedConnecting_ = true;
  state_ = State::disconnected;
}

// ---- FakeDatagramPort -------------------------------------------------------------------------

FakeDatagramPort::FakeDatagramPort(Address host, std::shared_ptr<DatagramProtocol> protocol,
                                   bool udp)
    : host_(std::move(host)), protocol_(std::move(protocol)), udp_(udp) {}

void FakeDatagramPort::write(std::string_view data, const Address& to) {
  written.push_back(Datagram{std::string(data), to});
}

void FakeDatagramPort::write(std::string_view data) {
  if (!peer_) throw std::logic_error("FakeDatagramPort::write: not connected");
  written.push_back(Datagram{std::string(data), *peer_});
}

Deferred<void> FakeDatagramPort::stopListening() {
  ++stopCalls_;
  if (listening_) {
    listening_ = false;
    if (protocol_) protocol_->stopProtocol();
  }
  return succeed();
}

void FakeDatagramPort::checkUdp(const char* what) const {
  if (!udp_) throw std::logic_error(std::string(what) + ": not a UDP port");
}

void FakeDatagramPort::setBroadcastAllowed(bool enabled) {
  checkUdp("setBroadcastAllowed");
  broadcast_ = enabled;
}

bool FakeDatagramPort::getBroadcastAllowed() const {
  checkUdp("getBroadcastAllowed");
  return broadcast_;
}

namespace {
std::string groupName(std::string_view group, std::string_view interface) {
  std::string name(group);
  if (!interface.empty()) {
    name += '%';
    name += interface;
  }
  return name;
}
}  // namespace

void FakeDatagramPort::joinGroup(std::string_view group, std::string_view interface) {
  checkUdp("joinGroup");
  groups.push_back(groupName(group, interface));
}

void FakeDatagramPort::leaveGroup(std::string_view group, std::string_view interface) {
  checkUdp("leaveGroup");
  const std::string name = groupName(group, interface);
  std::erase(groups, name);
}

void FakeDatagramPort::setTTL(int ttl) {
  checkUdp("setTTL");
  ttl_ = ttl;
}

int FakeDatagramPort::getTTL() const {
  checkUdp("getTTL");
  return ttl_;
}

void FakeDatagramPort::setLoopbackMode(bool enabled) {
  checkUdp("setLoopbackMode");
  loopback_ = enabled;
}

bool FakeDatagramPort::getLoopbackMode() const {
  checkUdp("getLoopbackMode");
  return loopback_;
}

void FakeDatagramPort::setOutgoingInterface(std::string_view interface) {
  checkUdp("setOutgoingInterface");
  outgoingInterface_ = std::string(interface);
}

// ---- MemoryReactor ----------------------------------------------------------------------------

namespace {

// The address a listening socket on `interface` would report ("" means every IPv4 address).
Address listeningAddress(const std::string& interface, std::uint16_t port, Address::Type type) {
  try {
    return Address::ip(interface.empty() ? std::string_view("0.0.0.0") : interface, port, type);
  } catch (const std::invalid_argument&) {
    throw CannotListenError(interface, std::to_string(port), "not a numeric address");
  }
}

std::optional<Address> numeric(std::string_view host, std::uint16_t port) {
  try {
    return Address::ip(host, port);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

bool ofFamily(const Address& a, int family) {
  switch (family) {
    case AF_INET:
      return a.family() == Address::Family::ipv4;
    case AF_INET6:
      return a.family() == Address::Family::ipv6;
    default:
      return true;
  }
}

Address adoptedAddress(int family, Address::Type type) {
  switch (family) {
    case AF_INET:
      return Address::ip("0.0.0.0", 1234, type);
    case AF_INET6:
      return Address::ip("::", 1234, type);
    case AF_UNIX:
      return Address::unix("", type);
    default:
      throw std::invalid_argument("MemoryReactor: unsupported address family " +
                                  std::to_string(family));
  }
}

}  // namespace

std::uint16_t MemoryReactor::assignPort(std::uint16_t asked) {
  return asked != 0 ? asked : nextEphemeralPort_++;
}

Address MemoryReactor::destinationOf(std::string_view host, std::uint16_t port) const {
  if (std::optional<Address> a = numeric(host, port)) return *a;
  const auto it = hosts.find(host);
  if (it != hosts.end() && !it->second.empty()) return Address::ip(it->second.front(), port);
  return Address();
}

std::shared_ptr<IListeningPort> MemoryReactor::listenTCP(std::uint16_t port,
                                                         std::shared_ptr<Factory> factory,
                                                         const TCPListenOptions& options) {
  auto listening = std::make_shared<FakeListeningPort>(
      listeningAddress(options.interface, assignPort(port), Address::Type::stream));
  tcpServers.push_back(TCPServer{port, std::move(factory), options.backlog, options.interface,
                                 options.reusePort, listening});
  return listening;
}

std::shared_ptr<IConnector> MemoryReactor::connectTCP(std::string_view host, std::uint16_t port,
                                                      std::shared_ptr<ClientFactory> factory,
                                                      const TCPConnectOptions& options) {
  auto connector = std::make_shared<FakeConnector>(destinationOf(host, port), factory);
  tcpClients.push_back(
      TCPClient{std::string(host), port, factory, options.timeout, options.bindAddress, connector});
  connectors.push_back(connector);
  if (factory) factory->startedConnecting(*connector);
  return connector;
}

std::shared_ptr<IListeningPort> MemoryReactor::listenUNIX(std::string_view path,
                                                          std::shared_ptr<Factory> factory,
                                                          const UNIXListenOptions& options) {
  auto listening = std::make_shared<FakeListeningPort>(Address::unix(path));
  unixServers.push_back(UNIXServer{std::string(path), std::move(factory), options.backlog,
                                   options.mode, options.wantPID, listening});
  return listening;
}

std::shared_ptr<IConnector> MemoryReactor::connectUNIX(std::string_view path,
                                                       std::shared_ptr<ClientFactory> factory,
                                                       const UNIXConnectOptions& options) {
  auto connector = std::make_shared<FakeConnector>(Address::unix(path), factory);
  unixClients.push_back(
      UNIXClient{std::string(path), factory, options.timeout, options.checkPID, connector});
  connectors.push_back(connector);
  if (factory) factory->startedConnecting(*connector);
  return connector;
}

// Each datagram port is recorded before its protocol starts, so that a startProtocol() that
// looks at the reactor finds it.
std::shared_ptr<IDatagramTransport> MemoryReactor::listenUDP(
    std::uint16_t port, std::shared_ptr<DatagramProtocol> protocol,
    const UDPListenOptions& options) {
  auto transport = std::make_shared<FakeDatagramPort>(
      listeningAddress(options.interface, assignPort(port), Address::Type::datagram), protocol,
      true);
  udpPorts.push_back(UDPPort{port, protocol, options.interface, options.maxPacketSize,
                             options.reusePort, transport});
  if (protocol) protocol->makeConnection(*transport);
  return transport;
}

std::shared_ptr<IDatagramTransport> MemoryReactor::listenUNIXDatagram(
    std::string_view path, std::shared_ptr<DatagramProtocol> protocol, unsigned mode) {
  auto transport = std::make_shared<FakeDatagramPort>(Address::unix(path, Address::Type::datagram),
                                                      protocol, false);
  unixDatagramPorts.push_back(
      UNIXDatagramPort{std::string(path), protocol, mode, false, {}, transport});
  if (protocol) protocol->makeConnection(*transport);
  return transport;
}

std::shared_ptr<IDatagramTransport> MemoryReactor::connectUNIXDatagram(
    std::string_view path, std::shared_ptr<DatagramProtocol> protocol, std::string_view bindPath) {
  auto transport = std::make_shared<FakeDatagramPort>(
      Address::unix(bindPath, Address::Type::datagram), protocol, false);
  transport->connect(Address::unix(path, Address::Type::datagram));
  unixDatagramPorts.push_back(
      UNIXDatagramPort{std::string(path), protocol, 0666, true, std::string(bindPath), transport});
  if (protocol) protocol->makeConnection(*transport);
  return transport;
}

std::shared_ptr<IListeningPort> MemoryReactor::adoptStreamPort(int fd, int family,
                                                               std::shared_ptr<Factory> factory) {
  auto listening =
      std::make_shared<FakeListeningPort>(adoptedAddress(family, Address::Type::stream));
  adoptedPorts.push_back(AdoptedPort{fd, family, std::move(factory), listening});
  return listening;
}

void MemoryReactor::adoptStreamConnection(int fd, int family, std::shared_ptr<Factory> factory) {
  adoptedStreamConnections.push_back(AdoptedConnection{fd, family, std::move(factory)});
}

std::shared_ptr<IDatagramTransport> MemoryReactor::adoptDatagramPort(
    int fd, int family, std::shared_ptr<DatagramProtocol> protocol) {
  auto transport = std::make_shared<FakeDatagramPort>(
      adoptedAddress(family, Address::Type::datagram), protocol, family != AF_UNIX);
  adoptedDatagramPorts.push_back(AdoptedDatagramPort{fd, family, protocol, transport});
  if (protocol) protocol->makeConnection(*transport);
  return transport;
}

Deferred<std::vector<Address>> MemoryReactor::resolveHost(std::string_view host, std::uint16_t port,
                                                          int family) {
  resolutions.push_back(Resolution{std::string(host), port, family});
  std::vector<Address> found;
  if (std::optional<Address> a = numeric(host, port)) {
    found.push_back(*a);
  } else if (const auto it = hosts.find(host); it != hosts.end()) {
    for (const std::string& text : it->second) found.push_back(Address::ip(text, port));
  }
  std::erase_if(found, [family](const Address& a) { return !ofFamily(a, family); });
  if (found.empty()) return fail<std::vector<Address>>(DNSLookupError(std::string(host)));
  return succeed(std::move(found));
}

// ---- RaisingMemoryReactor -------------------------------------------------------------------

void RaisingMemoryReactor::raiseListen() const {
  if (listenError_) std::rethrow_exception(listenError_);
}

void RaisingMemoryReactor::raiseConnect() const {
  if (connectError_) std::rethrow_exception(connectError_);
}

std::shared_ptr<IListeningPort> RaisingMemoryReactor::listenTCP(std::uint16_t port,
                                                                std::shared_ptr<Factory> factory,
                                                                const TCPListenOptions& options) {
  raiseListen();
  return MemoryReactor::listenTCP(port, std::move(factory), options);
}

std::shared_ptr<IConnector> RaisingMemoryReactor::connectTCP(std::string_view host,
                                                             std::uint16_t port,
                                                             std::shared_ptr<ClientFactory> factory,
                                                             const TCPConnectOptions& options) {
  raiseConnect();
  return MemoryReactor::connectTCP(host, port, std::move(factory), options);
}

std::shared_ptr<IListeningPort> RaisingMemoryReactor::listenUNIX(std::string_view path,
                                                                 std::shared_ptr<Factory> factory,
                                                                 const UNIXListenOptions& options) {
  raiseListen();
  return MemoryReactor::listenUNIX(path, std::move(factory), options);
}

std::shared_ptr<IConnector> RaisingMemoryReactor::connectUNIX(
    std::string_view path, std::shared_ptr<ClientFactory> factory,
    const UNIXConnectOptions& options) {
  raiseConnect();
  return MemoryReactor::connectUNIX(path, std::move(factory), options);
}

std::shared_ptr<IDatagramTransport> RaisingMemoryReactor::listenUDP(
    std::uint16_t port, std::shared_ptr<DatagramProtocol> protocol,
    const UDPListenOptions& options) {
  raiseListen();
  return MemoryReactor::listenUDP(port, std::move(protocol), options);
}

std::shared_ptr<IDatagramTransport> RaisingMemoryReactor::listenUNIXDatagram(
    std::string_view path, std::shared_ptr<DatagramProtocol> protocol, unsigned mode) {
  raiseListen();
  return MemoryReactor::listenUNIXDatagram(path, std::move(protocol), mode);
}

std::shared_ptr<IDatagramTransport> RaisingMemoryReactor::connectUNIXDatagram(
    std::string_view path, std::shared_ptr<DatagramProtocol> protocol, std::string_view bindPath) {
  raiseConnect();
  return MemoryReactor::connectUNIXDatagram(path, std::move(protocol), bindPath);
}

std::shared_ptr<IListeningPort> RaisingMemoryReactor::adoptStreamPort(
    int fd, int family, std::shared_ptr<Factory> factory) {
  raiseListen();
  return MemoryReactor::adoptStreamPort(fd, family, std::move(factory));
}

void RaisingMemoryReactor::adoptStreamConnection(int fd, int family,
                                                 std::shared_ptr<Factory> factory) {
  raiseConnect();
  MemoryReactor::adoptStreamConnection(fd, family, std::move(factory));
}

std::shared_ptr<IDatagramTransport> RaisingMemoryReactor::adoptDatagramPort(
    int fd, int family, std::shared_ptr<DatagramProtocol> protocol) {
  raiseListen();
  return MemoryReactor::adoptDatagramPort(fd, family, std::move(protocol));
}

}  // namespace torsion::testing
