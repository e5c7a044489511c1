#include "torsion/net/endpoints.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>
#include <variant>
#include <vector>

#include "torsion/defer/errors.hpp"
#include "torsion/net/wrapping_protocol.hpp"
#include "torsion/tls/certificate.hpp"
#include "torsion/tls/errors.hpp"
#include "torsion/tls/options.hpp"
#include "torsion/tls/tls_endpoints.hpp"

namespace torsion {

namespace {

// ---- one connection attempt
// ----------------------------------------------------------------------

// The ClientFactory an endpoint hands to connectTCP/connectUNIX (Twisted's _WrappingFactory):
// builds the user's protocol through the user's factory, wraps it to learn when
// connectionMade ran, and turns the attempt's outcome into `result`.
class WrappingClientFactory final : public ClientFactory {
 public:
  explicit WrappingClientFactory(std::shared_ptr<Factory> wrapped) : wrapped_(std::move(wrapped)) {}

  // Made after construction: the canceller refers to this factory weakly (the factory owns
  // `result`, and a canceller is kept until the Deferred is destroyed).
  static std::shared_ptr<WrappingClientFactory> make(std::shared_ptr<Factory> wrapped) {
    auto f = std::make_shared<WrappingClientFactory>(std::move(wrapped));
    f->result = Deferred<Protocol*>(
        [weak = std::weak_ptr<WrappingClientFactory>(f)](Deferred<Protocol*>& d) {
          d.errback(CancelledError());
          const auto self = weak.lock();
          const auto connector = self ? self->connector.lock() : nullptr;
          if (!connector) return;
          switch (connector->state()) {
            case IConnector::State::connecting:
              connector->stopConnecting();
              break;
            case IConnector::State::connected:
              connector->disconnect();
              break;
            case IConnector::State::disconnected:
              break;
          }
        });
    return f;
  }

  void startFactory() override { wrapped_->doStart(); }
  void stopFactory() override { wrapped_->doStop(); }

  void startedConnecting(IConnector& c) override { connector = c.weak_from_this(); }

  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
    // Cancelled while the connection completed: refuse it (the network closes the socket)
    // without troubling the user's factory.
    if (result.called()) return nullptr;
    std::unique_ptr<Protocol> p;
    try {
      p = wrapped_->buildProtocol(addr);
      if (!p) throw NoProtocolError();
    } catch (...) {
      if (!result.called()) result.errback(Failure::current());
      return nullptr;
    }
    WrappingProtocol::Hooks hooks;
    hooks.made = [d = result](Protocol& inner) mutable {
      if (!d.called()) {
        d.callback(&inner);
      } else if (inner.transport != nullptr) {
        // Cancelled between buildProtocol and connectionMade: nobody wants the connection.
        inner.transport->loseConnection();
      }
    };
    hooks.lost = [d = result](const Failure& reason) mutable {
      // connectionMade threw (the connection was dropped before the Deferred fired).
      if (!d.called()) d.errback(reason);
    };
    return wrapProtocol(std::move(p), std::move(hooks));
  }

  void clientConnectionFailed(IConnector& c, const Failure& reason) override {
    (void)c;
    if (!result.called()) result.errback(reason);
  }

  Deferred<Protocol*> result = nullptr;
  std::weak_ptr<IConnector> connector;

 private:
  std::shared_ptr<Factory> wrapped_;
};

// Starts one attempt with `start` (which calls connectTCP or connectUNIX with the factory it
// is given) and returns its Deferred.
template <class Start>
Deferred<Protocol*> attempt(std::shared_ptr<Factory> factory, Start&& start) {
  auto wf = WrappingClientFactory::make(std::move(factory));
  Deferred<Protocol*> d = wf->result;
  try {
    std::shared_ptr<IConnector> c = start(std::shared_ptr<ClientFactory>(wf));
    if (c && wf->connector.expired()) wf->connector = c;
  } catch (...) {
    if (!d.called()) d.errback(Failure::current());
  }
  return d;
}

template <class Listen>
Deferred<std::shared_ptr<IListeningPort>> listenNow(Listen&& listen) {
  try {
    return succeed(std::shared_ptr<IListeningPort>(listen()));
  } catch (...) {
    return fail<std::shared_ptr<IListeningPort>>(Failure::current());
  }
}

TCPConnectOptions connectOptions(Seconds timeout, std::optional<Address> bindAddress) {
  TCPConnectOptions o;
  o.timeout = timeout;
  o.bindAddress = std::move(bindAddress);
  return o;
}

// ---- Happy Eyeballs
// --------------------------------------------------------------------------------

// RFC 8305 section 4: alternate families, starting with the family of the first answer.
std::vector<Address> interleave(const std::vector<Address>& addresses) {
  std::vector<Address> first;
  std::vector<Address> other;
  for (const auto& a : addresses) {
    if (!a.isIP()) continue;
    (a.family() == addresses.front().family() ? first : other).push_back(a);
  }
  std::vector<Address> out;
  out.reserve(first.size() + other.size());
  for (std::size_t i = 0; i < std::max(first.size(), other.size()); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < other.size()) out.push_back(other[i]);
  }
  return out;
}

class HappyEyeballs : public std::enable_shared_from_this<HappyEyeballs> {
 public:
  HappyEyeballs(IReactorNet& net, std::shared_ptr<Factory> factory, std::string host,
                std::uint16_t port, TCPConnectOptions options, Seconds attemptDelay)
      : net_(net),
        factory_(std::move(factory)),
        host_(std::move(host)),
        port_(port),
        options_(std::move(options)),
        attemptDelay_(attemptDelay) {}

  Deferred<Protocol*> start() {
    winner_ = Deferred<Protocol*>([weak = weak_from_this()](Deferred<Protocol*>&) {
      if (const auto self = weak.lock()) self->abandon();
    });
    Deferred<Protocol*> result = winner_;
    // A local handle: the lookup may answer inside addCallbacks, which clears resolving_.
    Deferred<std::vector<Address>> lookup = net_.resolveHost(host_, port_, AF_UNSPEC);
    resolving_ = lookup;
    lookup.addCallbacks(
        [self = shared_from_this()](std::vector<Address> addresses) {
          self->resolved(std::move(addresses));
        },
        [self = shared_from_this()](const Failure& f) { self->resolutionFailed(f); });
    return result;
  }

 private:
  void resolved(std::vector<Address> addresses) {
    resolving_ = nullptr;
    if (done_) return;
    addresses_ = addresses.empty() ? std::vector<Address>() : interleave(addresses);
    if (addresses_.empty()) {
      finish(Failure(DNSLookupError("no results for hostname lookup: " + host_)));
      return;
    }
    startNext();
  }

  void resolutionFailed(const Failure& f) {
    resolving_ = nullptr;
    if (done_) return;
    if (f.check<DNSLookupError>()) {
      finish(f);
    } else {
      finish(Failure(
          DNSLookupError("Couldn't find the hostname '" + host_ + "': " + f.getErrorMessage())));
    }
  }

  void startNext() {
    if (done_ || next_ >= addresses_.size()) return;
    const Address& address = addresses_[next_++];
    if (timer_.active()) timer_.cancel();
    if (next_ < addresses_.size()) {
      timer_ = net_.callLater(attemptDelay_, [self = shared_from_this()] { self->startNext(); });
    }
    Deferred<Protocol*> d = attempt(factory_, [&](std::shared_ptr<ClientFactory> f) {
      return net_.connectTCP(address.host(), port_, std::move(f), options_);
    });
    // The callbacks name their attempt by number: a handle to it would keep its own chain
    // alive.
    const std::size_t id = next_;
    pending_.emplace_back(id, d);
    d.addCallbacks([self = shared_from_this(), id](Protocol* p) { self->succeeded(id, p); },
                   [self = shared_from_this(), id](const Failure& f) { self->failed(id, f); });
  }

  void forget(std::size_t id) {
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [id](const auto& entry) { return entry.first == id; }),
                   pending_.end());
  }

  void succeeded(std::size_t id, Protocol* p) {
    forget(id);
    if (done_) {
      // Cannot happen with attempts that are cancelled synchronously; close rather than leak.
      if (p->transport != nullptr) p->transport->loseConnection();
      return;
    }
    done_ = true;
    cancelRest();
    winner_.callback(p);
  }

  void failed(std::size_t id, const Failure& f) {
    forget(id);
    if (done_) return;
    lastFailure_ = f;
    if (!pending_.empty()) return;
    if (next_ < addresses_.size()) {
      startNext();
    } else {
      finish(*lastFailure_);
    }
  }

  void finish(const Failure& f) {
    done_ = true;
    cancelRest();
    winner_.errback(f);
  }

  // The winner's Deferred was cancelled: stop everything; the Deferred then fails with
  // CancelledError.
  void abandon() {
    done_ = true;
    if (resolving_) {
      Deferred<std::vector<Address>> r = std::exchange(resolving_, nullptr);
      r.cancel();
    }
    cancelRest();
  }

  void cancelRest() {
    if (timer_.active()) timer_.cancel();
    // Each cancel fires that attempt, which removes it from pending_.
    const auto rest = pending_;
    for (auto entry : rest) entry.second.cancel();
  }

  IReactorNet& net_;
  std::shared_ptr<Factory> factory_;
  std::string host_;
  std::uint16_t port_;
  TCPConnectOptions options_;
  Seconds attemptDelay_;

  Deferred<Protocol*> winner_ = nullptr;
  Deferred<std::vector<Address>> resolving_ = nullptr;
  std::vector<Address> addresses_;
  std::size_t next_ = 0;
  std::vector<std::pair<std::size_t, Deferred<Protocol*>>> pending_;
  std::optional<Failure> lastFailure_;
  DelayedCall timer_;
  bool done_ = false;
};

// TCP6ClientEndpoint's connect: resolve to IPv6, then connect to the first address.
Deferred<Protocol*> connectIPv6(IReactorNet& net, std::string host, std::uint16_t port,
                                TCPConnectOptions options, std::shared_ptr<Factory> factory) {
  std::vector<Address> addresses = co_await net.resolveHost(host, port, AF_INET6);
  const auto v6 = std::find_if(addresses.begin(), addresses.end(), [](const Address& a) {
    return a.family() == Address::Family::ipv6;
  });
  if (v6 == addresses.end()) throw DNSLookupError("no IPv6 address for " + host);
  const std::string numeric = v6->host();
  co_return co_await attempt(std::move(factory), [&](std::shared_ptr<ClientFactory> f) {
    return net.connectTCP(numeric, port, std::move(f), options);
  });
}

// connectProtocol's factory: hands out its one protocol.
class OneShotFactory final : public Factory {
 public:
  explicit OneShotFactory(std::unique_ptr<Protocol> p) : protocol_(std::move(p)) {}
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
    (void)addr;
    return std::move(protocol_);
  }

 private:
  std::unique_ptr<Protocol> protocol_;
};

std::optional<Address> bindAddressOf(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return Address::ip(s, 0);
}

// ---- the files of ssl: and tls: descriptions
// ---------------------------------------------------

// Runs `load`, turning a CertificateError into an EndpointStringError that names the parameter
// and its file (the file is the part of the description at fault).
template <class F>
auto loading(std::string_view parameter, const std::string& file, F&& load) {
  try {
    return load();
  } catch (const tls::CertificateError& e) {
    throw EndpointStringError(fmt::format("bad {}: {}", parameter, e.what()), file);
  }
}

// The key and certificate of one side: keyFile's first key, certFile's first certificate and
// the rest of certFile's certificates as its chain (unless a chain file is given).
void loadKeyPair(tls::CertificateOptions& o, std::string_view keyParam, const std::string& keyFile,
                 std::string_view certParam, const std::string& certFile) {
  o.privateKey = loading(keyParam, keyFile, [&] { return tls::PrivateKey::loadPEMFile(keyFile); });
  o.certificate =
      loading(certParam, certFile, [&] { return tls::Certificate::loadPEMFile(certFile); });
}

std::shared_ptr<const tls::TLSContext> makeContext(const tls::CertificateOptions& o,
                                                   tls::TLSSide side, std::string_view keyParam,
                                                   const std::string& keyFile) {
  return loading(keyParam, keyFile, [&] { return tls::TLSContext::make(o, side); });
}

tls::TrustRoot trustFrom(std::string_view parameter, const std::string& directory) {
  if (directory.empty()) return tls::platformTrust();
  return loading(parameter, directory, [&] {
    return tls::TrustRoot::fromCertificates(tls::loadCertificatesFromDirectory(directory));
  });
}

}  // namespace

// ---- servers
// -------------------------------------------------------------------------------------

TCP4ServerEndpoint::TCP4ServerEndpoint(IReactorNet& net, std::uint16_t port, int backlog,
                                       std::string interface)
    : net_(net), port_(port) {
  options_.backlog = backlog;
  options_.interface = std::move(interface);
}

Deferred<std::shared_ptr<IListeningPort>> TCP4ServerEndpoint::listen(
    std::shared_ptr<Factory> factory) {
  return listenNow([&] { return net_.listenTCP(port_, std::move(factory), options_); });
}

TCP6ServerEndpoint::TCP6ServerEndpoint(IReactorNet& net, std::uint16_t port, int backlog,
                                       std::string interface)
    : TCP4ServerEndpoint(net, port, backlog, std::move(interface)) {}

UNIXServerEndpoint::UNIXServerEndpoint(IReactorNet& net, std::string path, int backlog,
                                       unsigned mode, bool wantPID)
    : net_(net), path_(std::move(path)) {
  options_.backlog = backlog;
  options_.mode = mode;
  options_.wantPID = wantPID;
}

Deferred<std::shared_ptr<IListeningPort>> UNIXServerEndpoint::listen(
    std::shared_ptr<Factory> factory) {
  return listenNow([&] { return net_.listenUNIX(path_, std::move(factory), options_); });
}

AdoptedStreamServerEndpoint::AdoptedStreamServerEndpoint(IReactorNet& net, int fd, int family)
    : net_(net), fd_(fd), family_(family) {}

Deferred<std::shared_ptr<IListeningPort>> AdoptedStreamServerEndpoint::listen(
    std::shared_ptr<Factory> factory) {
  if (used_) return fail<std::shared_ptr<IListeningPort>>(AlreadyListened());
  used_ = true;
  return listenNow([&] {
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0) {
      const int err = errno;
      throw CannotListenError("descriptor " + std::to_string(fd_), "",
                              std::string("cannot adopt it: ") + std::strerror(err));
    }
    auto port = net_.adoptStreamPort(fd_, family_, std::move(factory));
    ::close(fd_);
    return port;
  });
}

int systemdListenDescriptor(int index) {
  return systemdListenDescriptor(
      index, [](const char* name) -> const char* { return ::getenv(name); }, ::getpid());
}

int systemdListenDescriptor(int index, const std::function<const char*(const char*)>& getenv,
                            long pid) {
  const auto number = [](const char* s, long& out) {
    const std::string_view v(s);
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && end == v.data() + v.size();
  };
  const char* listenPid = getenv("LISTEN_PID");
  if (listenPid == nullptr) {
    throw SystemdActivationError(
        "systemd socket activation: LISTEN_PID is not set (was this process started by a "
        "systemd .socket unit?)");
  }
  long owner = 0;
  if (!number(listenPid, owner)) {
    throw SystemdActivationError(
        fmt::format("systemd socket activation: LISTEN_PID='{}' is not a process id", listenPid));
  }
  if (owner != pid) {
    throw SystemdActivationError(fmt::format(
        "systemd socket activation: LISTEN_PID={} names another process (this one is {}); the "
        "descriptors were meant for it",
        owner, pid));
  }
  const char* listenFds = getenv("LISTEN_FDS");
  if (listenFds == nullptr) {
    throw SystemdActivationError("systemd socket activation: LISTEN_FDS is not set");
  }
  long count = 0;
  if (!number(listenFds, count) || count < 0) {
    throw SystemdActivationError(
        fmt::format("systemd socket activation: LISTEN_FDS='{}' is not a count", listenFds));
  }
  if (index < 0 || index >= count) {
    throw SystemdActivationError(fmt::format(
        "systemd socket activation: index {} is out of range: systemd passed {} descriptor{} "
        "(LISTEN_FDS={})",
        index, count, count == 1 ? "" : "s", count));
  }
  constexpr int kFirst = 3;  // SD_LISTEN_FDS_START
  return kFirst + index;
}

// ---- clients
// -------------------------------------------------------------------------------------

TCP4ClientEndpoint::TCP4ClientEndpoint(IReactorNet& net, std::string host, std::uint16_t port,
                                       Seconds timeout, std::optional<Address> bindAddress)
    : net_(net),
      host_(std::move(host)),
      port_(port),
      options_(connectOptions(timeout, std::move(bindAddress))) {}

Deferred<Protocol*> TCP4ClientEndpoint::connect(std::shared_ptr<Factory> factory) {
  return attempt(std::move(factory), [&](std::shared_ptr<ClientFactory> f) {
    return net_.connectTCP(host_, port_, std::move(f), options_);
  });
}

TCP6ClientEndpoint::TCP6ClientEndpoint(IReactorNet& net, std::string host, std::uint16_t port,
                                       Seconds timeout, std::optional<Address> bindAddress)
    : net_(net),
      host_(std::move(host)),
      port_(port),
      options_(connectOptions(timeout, std::move(bindAddress))) {}

Deferred<Protocol*> TCP6ClientEndpoint::connect(std::shared_ptr<Factory> factory) {
  return connectIPv6(net_, host_, port_, options_, std::move(factory));
}

UNIXClientEndpoint::UNIXClientEndpoint(IReactorNet& net, std::string path, Seconds timeout,
                                       bool checkPID)
    : net_(net), path_(std::move(path)) {
  options_.timeout = timeout;
  options_.checkPID = checkPID;
}

Deferred<Protocol*> UNIXClientEndpoint::connect(std::shared_ptr<Factory> factory) {
  return attempt(std::move(factory), [&](std::shared_ptr<ClientFactory> f) {
    return net_.connectUNIX(path_, std::move(f), options_);
  });
}

HostnameEndpoint::HostnameEndpoint(IReactorNet& net, std::string host, std::uint16_t port,
                                   Seconds timeout, std::optional<Address> bindAddress,
                                   Seconds attemptDelay)
    : net_(net),
      host_(std::move(host)),
      port_(port),
      options_(connectOptions(timeout, std::move(bindAddress))),
      attemptDelay_(attemptDelay) {}

Deferred<Protocol*> HostnameEndpoint::connect(std::shared_ptr<Factory> factory) {
  return std::make_shared<HappyEyeballs>(net_, std::move(factory), host_, port_, options_,
                                         attemptDelay_)
      ->start();
}

// ---- strings
// -------------------------------------------------------------------------------------

std::unique_ptr<IStreamServerEndpoint> serverFromString(IReactorNet& net,
                                                        std::string_view description) {
  const ServerDescription d = parseServerDescription(description);
  if (const auto* tcp = std::get_if<TCPServerDescription>(&d)) {
    if (tcp->ipv6) {
      return std::make_unique<TCP6ServerEndpoint>(net, tcp->port, tcp->backlog, tcp->interface);
    }
    return std::make_unique<TCP4ServerEndpoint>(net, tcp->port, tcp->backlog, tcp->interface);
  }
  if (const auto* unix = std::get_if<UNIXServerDescription>(&d)) {
    return std::make_unique<UNIXServerEndpoint>(net, unix->address, unix->backlog, unix->mode,
                                                unix->lockfile);
  }
  if (const auto* ssl = std::get_if<SSLServerDescription>(&d)) {
    const std::string& certFile = ssl->certKey.empty() ? ssl->privateKey : ssl->certKey;
    const std::string_view certParam = ssl->certKey.empty() ? "privateKey" : "certKey";
    tls::CertificateOptions o;
    loadKeyPair(o, "privateKey", ssl->privateKey, certParam, certFile);
    if (!ssl->extraCertChain.empty()) {
      o.extraCertChain = loading("extraCertChain", ssl->extraCertChain, [&] {
        return tls::Certificate::loadPEMChainFile(ssl->extraCertChain);
      });
    }
    auto context = makeContext(o, tls::TLSSide::server, "privateKey", ssl->privateKey);
    return std::make_unique<tls::SSL4ServerEndpoint>(net, ssl->port, std::move(context),
                                                     ssl->backlog, ssl->interface);
  }
  const auto& systemd = std::get<SystemdServerDescription>(d);
  return std::make_unique<AdoptedStreamServerEndpoint>(net, systemdListenDescriptor(systemd.index),
                                                       systemd.family);
}

std::unique_ptr<IStreamClientEndpoint> clientFromString(IReactorNet& net,
                                                        std::string_view description) {
  const ClientDescription d = parseClientDescription(description);
  if (const auto* tcp = std::get_if<TCPClientDescription>(&d)) {
    if (tcp->ipv6) {
      return std::make_unique<TCP6ClientEndpoint>(net, tcp->host, tcp->port, tcp->timeout,
                                                  bindAddressOf(tcp->bindAddress));
    }
    return std::make_unique<TCP4ClientEndpoint>(net, tcp->host, tcp->port, tcp->timeout,
                                                bindAddressOf(tcp->bindAddress));
  }
  if (const auto* unix = std::get_if<UNIXClientDescription>(&d)) {
    return std::make_unique<UNIXClientEndpoint>(net, unix->path, unix->timeout, unix->checkPID);
  }
  if (const auto* ssl = std::get_if<SSLClientDescription>(&d)) {
    auto o = tls::optionsForClientTLS(ssl->hostname.empty() ? ssl->tcp.host : ssl->hostname,
                                      trustFrom("caCertsDir", ssl->caCertsDir));
    const std::string& keyFile = ssl->privateKey.empty() ? ssl->certKey : ssl->privateKey;
    if (!ssl->certKey.empty()) {
      loadKeyPair(o, ssl->privateKey.empty() ? "certKey" : "privateKey", keyFile, "certKey",
                  ssl->certKey);
    }
    auto context = makeContext(o, tls::TLSSide::client, "privateKey", keyFile);
    return std::make_unique<tls::TLSClientEndpoint>(
        std::move(context),
        std::make_unique<TCP4ClientEndpoint>(net, ssl->tcp.host, ssl->tcp.port, ssl->tcp.timeout,
                                             bindAddressOf(ssl->tcp.bindAddress)));
  }
  const auto& t = std::get<TLSClientDescription>(d);
  auto o = tls::optionsForClientTLS(t.host, trustFrom("trustRoots", t.trustRoots));
  const std::string& keyFile = t.privateKey.empty() ? t.certificate : t.privateKey;
  if (!t.certificate.empty()) {
    loadKeyPair(o, t.privateKey.empty() ? "certificate" : "privateKey", keyFile, "certificate",
                t.certificate);
  }
  auto context = makeContext(o, tls::TLSSide::client, "privateKey", keyFile);
  return std::make_unique<tls::TLSClientEndpoint>(
      std::move(context), std::make_unique<HostnameEndpoint>(net, t.host, t.port, t.timeout,
                                                             bindAddressOf(t.bindAddress)));
}

Deferred<Protocol*> connectProtocol(IStreamClientEndpoint& endpoint,
                                    std::unique_ptr<Protocol> protocol) {
  return endpoint.connect(std::make_shared<OneShotFactory>(std::move(protocol)));
}

}  // namespace torsion
