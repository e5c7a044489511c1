#include "torsion/protocols/socks.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "torsion/net/errors.hpp"

namespace torsion::protocols {

namespace {

constexpr std::uint8_t kVersion4 = 4;
constexpr std::uint8_t kVersion5 = 5;
constexpr std::uint8_t kConnect = 1;
constexpr std::uint8_t kBind = 2;
constexpr std::uint8_t kUdpAssociate = 3;
constexpr std::uint8_t kNoAuthentication = 0x00;
constexpr std::uint8_t kUsernamePassword = 0x02;
constexpr std::uint8_t kNoAcceptableMethod = 0xFF;
constexpr std::uint8_t kAuthVersion = 0x01;
constexpr std::uint8_t kAtypIPv4 = 1;
constexpr std::uint8_t kAtypDomain = 3;
constexpr std::uint8_t kAtypIPv6 = 4;

std::uint8_t byteAt(const std::string& s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }

std::uint16_t portAt(const std::string& s, std::size_t i) {
  return static_cast<std::uint16_t>((byteAt(s, i) << 8U) | byteAt(s, i + 1));
}

void appendPort(std::string& out, std::uint16_t port) {
  out.push_back(static_cast<char>(port >> 8U));
  out.push_back(static_cast<char>(port & 0xFFU));
}

std::string addressText(const std::string& s, std::size_t at, int family) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const bool ok = ::inet_ntop(family, s.data() + at, text.data(), text.size()) != nullptr;
  return ok ? std::string(text.data()) : std::string();
}

// The packed bytes of a numeric IP address, if `a` is one of that family.
bool packed(const Address& a, int family, void* out) {
  if (!a.isIP()) return false;
  if ((family == AF_INET) != (a.family() == Address::Family::ipv4)) return false;
  std::string host = a.host();
  if (const auto scope = host.find('%'); scope != std::string::npos) host.resize(scope);
  return ::inet_pton(family, host.c_str(), out) == 1;
}

std::string commandName(std::uint8_t command) {
  switch (command) {
    case kConnect:
      return "CONNECT";
    case kBind:
      return "BIND";
    case kUdpAssociate:
      return "UDP ASSOCIATE";
    default:
      return "command " + std::to_string(command);
  }
}

// Host names go to the resolver as C strings and into the log: no NUL, no control bytes, no
// spaces.
bool plausibleHostname(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7F) return false;
  }
  return true;
}

// Compares without stopping at the first difference, so the time taken does not tell how
// much of a password was right.
bool sameSecret(std::string_view expected, std::string_view given) {
  unsigned diff = expected.size() == given.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0U;
    diff |= static_cast<unsigned char>(expected[i]) ^ g;
  }
  return diff == 0;
}

std::string endpointText(const Address& a) {
  if (!a.isIP()) return a.toString();
  if (a.family() == Address::Family::ipv6) {
    return "[" + a.host() + "]:" + std::to_string(a.port());
  }
  return a.host() + ":" + std::to_string(a.port());
}

}  // namespace

Socks5Reply socks5ReplyFor(const Failure& reason) {
  if (reason.check<ConnectionRefusedError>()) return Socks5Reply::connectionRefused;
  if (reason.check<DNSLookupError, ConnectTimeoutError>()) return Socks5Reply::hostUnreachable;
  if (const auto* failed = reason.value<ConnectionFailed>()) {
    if (failed->osError() == ENETUNREACH) return Socks5Reply::networkUnreachable;
    if (failed->osError() == EHOSTUNREACH) return Socks5Reply::hostUnreachable;
  }
  return Socks5Reply::generalFailure;
}

std::string SocksLogEntry::toString() const {
  std::string out = endpointText(client);
  out += " v" + std::to_string(version) + " ";
  out += command.empty() ? std::string("-") : command;
  if (!host.empty()) {
    out += " ";
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out += ":" + std::to_string(port);
  }
  if (!user.empty()) out += " user=" + user;
  out += " " + outcome;
  if (granted && destination.isIP()) out += " (" + endpointText(destination) + ")";
  return out;
}

std::function<void(const SocksLogEntry&)> socksLogWriter(std::ostream& out) {
  return [&out](const SocksLogEntry& entry) {
    const std::time_t now = std::time(nullptr);
    std::array<char, 32> when{};
    std::string stamp = ::ctime_r(&now, when.data()) != nullptr ? when.data() : "";
    if (!stamp.empty() && stamp.back() == '\n') stamp.pop_back();
    out << stamp << '\t' << entry.toString() << '\n';
    out.flush();
  };
}

// ---- SocksServer ----------------------------------------------------------------------------

SocksServer::SocksServer(std::shared_ptr<const SocksServerOptions> options)
    : options_(std::move(options)) {
  if (!options_ || !options_->connect) {
    throw std::invalid_argument("SocksServer: the options need a connect function");
  }
}

SocksServer::~SocksServer() {
  self_.reset();
  if (connecting_) std::exchange(connecting_, nullptr).cancel();
}

void SocksServer::dataReceived(std::string_view data) {
  switch (state_) {
    case State::connecting:
    case State::relaying:
      RelayProtocol::dataReceived(data);
      return;
    case State::done:
      return;
    default:
      break;
  }
  buf_.append(data);
  for (;;) {
    bool progressed = false;
    switch (state_) {
      case State::version: {
        if (buf_.empty()) return;
        const std::uint8_t version = byteAt(buf_, 0);
        request_.version = version;
        if (version == kVersion4 && options_->allowVersion4) {
          state_ = State::v4Request;
        } else if (version == kVersion5) {
          state_ = State::v5Methods;
        } else if (version == kVersion4) {
          reject("SOCKSv4 is not accepted", Socks5Reply::notAllowed);
          return;
        } else {
          // Not SOCKS at all: there is no reply format to use.
          state_ = State::done;
          buf_.clear();
          transport->loseConnection();
          return;
        }
        progressed = true;
        break;
      }
      case State::v4Request:
        progressed = parseV4();
        break;
      case State::v5Methods:
        progressed = parseV5Methods();
        break;
      case State::v5Auth:
        progressed = parseV5Auth();
        break;
      case State::v5Request:
        progressed = parseV5Request();
        break;
      default:
        return;  // connecting, relaying or done: what followed the request was handed on
    }
    if (!progressed) return;
  }
}

// 04 CD PORT(2) IP(4) USERID 00 [HOSTNAME 00]
bool SocksServer::parseV4() {
  constexpr std::size_t kFixed = 8;
  if (buf_.size() < kFixed) return false;
  request_.command = byteAt(buf_, 1);
  request_.port = portAt(buf_, 2);
  const std::size_t maxUser = options_->maxUserIdLength;
  const std::size_t userEnd = buf_.find('\0', kFixed);
  if (userEnd == std::string::npos || userEnd - kFixed > maxUser) {
    if (buf_.size() - kFixed <= maxUser) return false;
    reject("user id too long", Socks5Reply::generalFailure);
    return true;
  }
  request_.user = buf_.substr(kFixed, userEnd - kFixed);
  std::size_t consumed = userEnd + 1;
  const bool v4a =
      byteAt(buf_, 4) == 0 && byteAt(buf_, 5) == 0 && byteAt(buf_, 6) == 0 && byteAt(buf_, 7) != 0;
  if (v4a) {
    const std::size_t maxHost = options_->maxHostnameLength;
    const std::size_t hostEnd = buf_.find('\0', consumed);
    if (hostEnd == std::string::npos || hostEnd - consumed > maxHost) {
      if (buf_.size() - consumed <= maxHost) return false;
      reject("host name too long", Socks5Reply::generalFailure);
      return true;
    }
    request_.host = buf_.substr(consumed, hostEnd - consumed);
    consumed = hostEnd + 1;
    if (!plausibleHostname(request_.host)) {
      reject("bad host name", Socks5Reply::hostUnreachable);
      return true;
    }
  } else {
    request_.host = addressText(buf_, 4, AF_INET);
  }
  if (request_.command != kConnect) {
    reject(request_.command == kBind ? "BIND is not supported" : "unknown command",
           Socks5Reply::commandNotSupported);
    return true;
  }
  if (options_->requiresAuthentication()) {
    reject("SOCKSv4 carries no password and authentication is required", Socks5Reply::notAllowed);
    return true;
  }
  startConnect(consumed);
  return true;
}

// 05 NMETHODS METHODS...
bool SocksServer::parseV5Methods() {
  if (buf_.size() < 2) return false;
  const std::size_t count = byteAt(buf_, 1);
  if (buf_.size() < 2 + count) return false;
  const std::string_view methods = std::string_view(buf_).substr(2, count);
  const std::uint8_t wanted =
      options_->requiresAuthentication() ? kUsernamePassword : kNoAuthentication;
  const bool offered = methods.find(static_cast<char>(wanted)) != std::string_view::npos;
  buf_.erase(0, 2 + count);
  if (!offered) {
    const std::array<char, 2> reply{static_cast<char>(kVersion5),
                                    static_cast<char>(kNoAcceptableMethod)};
    transport->write(std::string_view(reply.data(), reply.size()));
    state_ = State::done;
    buf_.clear();
    report(false, "no acceptable authentication method");
    transport->loseConnection();
    return true;
  }
  const std::array<char, 2> reply{static_cast<char>(kVersion5), static_cast<char>(wanted)};
  transport->write(std::string_view(reply.data(), reply.size()));
  state_ = wanted == kUsernamePassword ? State::v5Auth : State::v5Request;
  return true;
}

// 01 ULEN UNAME PLEN PASSWD (RFC 1929)
bool SocksServer::parseV5Auth() {
  if (buf_.size() < 2) return false;
  const std::size_t userLength = byteAt(buf_, 1);
  if (buf_.size() < 3 + userLength) return false;
  const std::size_t passwordLength = byteAt(buf_, 2 + userLength);
  const std::size_t total = 3 + userLength + passwordLength;
  if (buf_.size() < total) return false;
  const std::string_view user = std::string_view(buf_).substr(2, userLength);
  const std::string_view password = std::string_view(buf_).substr(3 + userLength, passwordLength);
  bool ok = byteAt(buf_, 0) == kAuthVersion;
  if (ok) {
    if (options_->checkPassword) {
      ok = options_->checkPassword(user, password);
    } else {
      const auto found = options_->credentials.find(user);
      ok = found != options_->credentials.end() && sameSecret(found->second, password);
    }
  }
  request_.user = user;
  // The password is not kept any longer than it takes to check it.
  std::fill(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(total), '\0');
  buf_.erase(0, total);
  const std::array<char, 2> reply{static_cast<char>(kAuthVersion), static_cast<char>(ok ? 0 : 1)};
  transport->write(std::string_view(reply.data(), reply.size()));
  if (!ok) {
    state_ = State::done;
    buf_.clear();
    report(false, "authentication failed");
    transport->loseConnection();
    return true;
  }
  state_ = State::v5Request;
  return true;
}

// 05 CMD 00 ATYP DST.ADDR DST.PORT
bool SocksServer::parseV5Request() {
  if (buf_.size() < 4) return false;
  request_.command = byteAt(buf_, 1);
  if (byteAt(buf_, 0) != kVersion5) {
    reject("bad version in request", Socks5Reply::generalFailure);
    return true;
  }
  if (request_.command != kConnect) {
    reject(commandName(request_.command) + " is not supported", Socks5Reply::commandNotSupported);
    return true;
  }
  std::size_t consumed = 0;
  switch (byteAt(buf_, 3)) {
    case kAtypIPv4:
      if (buf_.size() < 4 + 4 + 2) return false;
      request_.host = addressText(buf_, 4, AF_INET);
      consumed = 4 + 4;
      break;
    case kAtypIPv6:
      if (buf_.size() < 4 + 16 + 2) return false;
      request_.host = addressText(buf_, 4, AF_INET6);
      consumed = 4 + 16;
      break;
    case kAtypDomain: {
      if (buf_.size() < 5) return false;
      const std::size_t length = byteAt(buf_, 4);
      if (buf_.size() < 5 + length + 2) return false;
      request_.host = buf_.substr(5, length);
      consumed = 5 + length;
      if (!plausibleHostname(request_.host)) {
        request_.port = portAt(buf_, consumed);
        reject("bad host name", Socks5Reply::hostUnreachable);
        return true;
      }
      break;
    }
    default:
      reject("address type not supported", Socks5Reply::addressTypeNotSupported);
      return true;
  }
  request_.port = portAt(buf_, consumed);
  startConnect(consumed + 2);
  return true;
}

void SocksServer::startConnect(std::size_t consumed) {
  std::string rest = buf_.substr(consumed);
  std::string().swap(buf_);
  state_ = State::connecting;
  awaitPeer();
  // Bytes the client sent after its request wait for the destination (the relay keeps them).
  if (!rest.empty()) RelayProtocol::dataReceived(rest);
  std::unique_ptr<IStreamClientEndpoint> endpoint;
  try {
    endpoint = options_->connect(request_.host, request_.port);
    if (!endpoint) throw ConnectionFailed("no endpoint for " + request_.host);
  } catch (...) {
    targetFailed(Failure::current());
    return;
  }
  self_ = std::make_shared<SocksServer*>(this);
  std::weak_ptr<SocksServer*> weak = self_;
  // A local handle: the callbacks may run at once and reset connecting_. The endpoint may go
  // once the attempt has started.
  Deferred<Protocol*> attempt = connectProtocol(*endpoint, std::make_unique<SocksOutgoing>());
  connecting_ = attempt;
  attempt.addCallbacks(
      [weak](Protocol* outgoing) {
        if (auto self = weak.lock()) {
          (*self)->targetConnected(outgoing);
        } else if (outgoing->transport != nullptr) {
          outgoing->transport->loseConnection();
        }
      },
      [weak](const Failure& reason) {
        if (auto self = weak.lock()) (*self)->targetFailed(reason);
      });
}

void SocksServer::targetConnected(Protocol* outgoing) {
  connecting_ = nullptr;
  auto* relay = dynamic_cast<RelayProtocol*>(outgoing);
  if (!connected || state_ != State::connecting || relay == nullptr) {
    if (outgoing->transport != nullptr) outgoing->transport->loseConnection();
    return;
  }
  const Address destination = outgoing->transport->getPeer();
  if (request_.version == kVersion4) {
    // Twisted answers with the destination's address as connected.
    std::string reply{'\0', static_cast<char>(Socks4Reply::granted)};
    std::array<unsigned char, 4> ip{};
    const bool v4 = packed(destination, AF_INET, ip.data());
    appendPort(reply, v4 ? destination.port() : 0);
    reply.append(reinterpret_cast<const char*>(ip.data()), ip.size());
    transport->write(reply);
  } else {
    writeV5Reply(Socks5Reply::succeeded, outgoing->transport->getHost());
  }
  report(true, "granted", destination);
  state_ = State::relaying;
  RelayProtocol::splice(*this, *relay);
}

void SocksServer::targetFailed(const Failure& reason) {
  connecting_ = nullptr;
  if (!connected || state_ != State::connecting) return;  // cancelled by connectionLost
  reject(reason.getErrorMessage(), socks5ReplyFor(reason));
}

void SocksServer::reject(std::string_view why, Socks5Reply code) {
  if (request_.version == kVersion4) {
    const std::array<char, 8> reply{'\0', static_cast<char>(Socks4Reply::rejected)};
    transport->write(std::string_view(reply.data(), reply.size()));
  } else {
    writeV5Reply(code, Address());
  }
  state_ = State::done;
  std::string().swap(buf_);
  report(false, std::string(why));
  transport->loseConnection();
}

void SocksServer::writeV5Reply(Socks5Reply code, const Address& bound) {
  std::string reply{static_cast<char>(kVersion5), static_cast<char>(code), '\0'};
  std::array<unsigned char, 16> ip{};
  if (packed(bound, AF_INET6, ip.data())) {
    reply.push_back(static_cast<char>(kAtypIPv6));
    reply.append(reinterpret_cast<const char*>(ip.data()), 16);
    appendPort(reply, bound.port());
  } else {
    const bool v4 = packed(bound, AF_INET, ip.data());
    reply.push_back(static_cast<char>(kAtypIPv4));
    reply.append(reinterpret_cast<const char*>(ip.data()), 4);
    appendPort(reply, v4 ? bound.port() : 0);
  }
  transport->write(reply);
}

void SocksServer::report(bool granted, std::string outcome, const Address& destination) {
  if (!options_->log) return;
  SocksLogEntry entry;
  entry.client = transport->getPeer();
  entry.version = request_.version;
  entry.command = request_.command == 0 ? std::string() : commandName(request_.command);
  entry.host = request_.host;
  entry.port = request_.port;
  entry.user = request_.user;
  entry.granted = granted;
  entry.outcome = std::move(outcome);
  entry.destination = destination;
  options_->log(entry);
}

void SocksServer::readConnectionLost() {
  switch (state_) {
    case State::connecting:
    case State::relaying:
      RelayProtocol::readConnectionLost();
      return;
    case State::done:
      return;
    default:
      // The request never came whole: there is nothing to relay.
      state_ = State::done;
      std::string().swap(buf_);
      transport->loseConnection();
      return;
  }
}

void SocksServer::connectionLost(const Failure& reason) {
  if (connecting_) std::exchange(connecting_, nullptr).cancel();
  RelayProtocol::connectionLost(reason);
}

// ---- SocksFactory ---------------------------------------------------------------------------

SocksFactory::SocksFactory(SocksServerOptions options)
    : options_(std::make_shared<const SocksServerOptions>(std::move(options))) {
  if (!options_->connect) {
    throw std::invalid_argument("SocksFactory: the options need a connect function");
  }
}

SocksFactory::SocksFactory(IReactorNet& net, SocksServerOptions options) {
  if (!options.connect) {
    options.connect = [&net](const std::string& host, std::uint16_t port) {
      return std::make_unique<HostnameEndpoint>(net, host, port);
    };
  }
  options_ = std::make_shared<const SocksServerOptions>(std::move(options));
}

std::unique_ptr<Protocol> SocksFactory::buildProtocol(const Address& addr) {
  (void)addr;
  auto protocol = std::make_unique<SocksServer>(options_);
  protocol->factory = this;
  return protocol;
}

}  // namespace torsion::protocols
