// A SOCKS proxy server: SOCKSv4 and 4a CONNECT as Twisted's twisted.protocols.socks (SOCKSv4,
// SOCKSv4Factory, SOCKSv4Outgoing), plus SOCKSv5 (RFC 1928) CONNECT with "no
// authentication" or username/password (RFC 1929), which Twisted lacks. Once the destination
// is connected the two connections are spliced with RelayProtocol (backpressure both ways,
// half-close and close passed through).
//
//   SocksServerOptions options;
//   options.credentials = {{"alice", "secret"}};          // v5 then requires them
//   auto& net = network(reactor);
//   net.listenTCP(1080, std::make_shared<SocksFactory>(net, options),
//                 TCPListenOptions{.interface = "127.0.0.1"});
//
// What each version does:
//   - v4: `04 CD PORT(2) IP(4) USERID 00`, and for 4a (IP 0.0.0.x, x != 0) a host name and
//     00 after the user id. CONNECT (CD 1) connects to the address or name; the reply is
//     `00 5A PORT IP` (90, granted) with the destination's address as connected (as Twisted
//     replies), or `00 5B 0000 00000000` (91, rejected), after which the connection is closed.
//     BIND (CD 2) is not supported (Twisted has it): it is answered 91. v4 carries no password,
//     so when credentials are configured every v4 request is answered 91.
//   - v5: the client's methods; the server picks 00 (no authentication) when no credentials
//     are configured, 02 (username/password) when they are (00 is then never accepted), or
//     answers FF (no acceptable method) and closes. After a failed RFC 1929 check it answers
//     `01 01` and closes. CONNECT takes an IPv4 address (ATYP 1), a domain name (3) or an
//     IPv6 address (4); the reply carries REP 00 and the address the outgoing connection is
//     bound to (BND.ADDR/BND.PORT, its getHost()), or a failure code and closes:
//       01 general failure, 03 network unreachable, 04 host unreachable (and DNS failures and
//       connect timeouts), 05 connection refused, 07 command not supported (BIND and UDP
//       ASSOCIATE), 08 address type not supported.
//   - anything else as the first byte: the connection is closed without an answer.
//
// The request is parsed incrementally (it may arrive one byte at a time) and what it may
// hold is bounded (user id and host name lengths, SocksServerOptions), so a client that sends
// garbage gets a failure reply or is closed, and never grows memory; bytes sent after the
// request, before the destination is connected, are kept for it (bounded by RelayProtocol)
// and reading pauses until then.
//
// Where the outgoing connection goes is decided by SocksServerOptions::connect, a function
// making a client endpoint from host and port (HostnameEndpoint over an IReactorNet by
// default), so tests can connect through a MemoryReactor. Each request can be reported to
// SocksServerOptions::log (Twisted's `-l/--log` file; here one line per request, see
// socksLogWriter, where Twisted writes a hex dump of the traffic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "torsion/defer/deferred.hpp"
#include "torsion/net/address.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/network.hpp"
#include "torsion/protocols/relay.hpp"

namespace torsion::protocols {

// SOCKSv4 reply codes (CD of the reply).
enum class Socks4Reply : std::uint8_t { granted = 90, rejected = 91 };

// SOCKSv5 reply codes (REP, RFC 1928 section 6).
enum class Socks5Reply : std::uint8_t {
  succeeded = 0x00,
  generalFailure = 0x01,
  notAllowed = 0x02,
  networkUnreachable = 0x03,
  hostUnreachable = 0x04,
  connectionRefused = 0x05,
  ttlExpired = 0x06,
  commandNotSupported = 0x07,
  addressTypeNotSupported = 0x08,
};

// The SOCKSv5 reply for a failed connect: ConnectionRefusedError -> connectionRefused,
// DNSLookupError and ConnectTimeoutError -> hostUnreachable, a ConnectionFailed for an
// unreachable network or host -> networkUnreachable / hostUnreachable, anything else ->
// generalFailure.
Socks5Reply socks5ReplyFor(const Failure& reason);

// One request, as reported to SocksServerOptions::log once its outcome is known.
struct SocksLogEntry {
  Address client;          // the SOCKS client's address
  int version = 0;         // 4 or 5
  std::string command;     // "CONNECT", "BIND", "UDP ASSOCIATE" or "command N"
  std::string host;        // as the client named it: an address or a name
  std::uint16_t port = 0;  //
  std::string user;        // the v4 user id or the v5 user name ("" if none)
  bool granted = false;    //
  std::string outcome;     // "granted", or why not
  Address destination;     // the destination as connected (none unless granted)

  // "127.0.0.1:50000 v5 CONNECT example.com:80 user=alice granted" (no time stamp).
  std::string toString() const;
};

struct SocksServerOptions {
  // Makes the endpoint to reach host:port (host: a numeric IPv4/IPv6 address or a name).
  // SocksFactory(net, ...) fills it with a HostnameEndpoint when empty. An exception from it
  // is answered as a general failure.
  std::function<std::unique_ptr<IStreamClientEndpoint>(const std::string& host, std::uint16_t port)>
      connect;
  // User name -> password for SOCKSv5 username/password authentication. When it (or
  // checkPassword) is set, v5 clients must authenticate and v4 requests are rejected.
  std::map<std::string, std::string, std::less<>> credentials;
  // Checks a user name and password instead of `credentials` (used when set).
  std::function<bool(std::string_view user, std::string_view password)> checkPassword;
  // Accept SOCKSv4/4a requests (v5 is always accepted).
  bool allowVersion4 = true;
  // Longest v4 user id and v4a host name accepted (a longer one is rejected with 91).
  std::size_t maxUserIdLength = 255;
  std::size_t maxHostnameLength = 255;
  // Called once per request with its outcome (Twisted's --log).
  std::function<void(const SocksLogEntry&)> log;

  bool requiresAuthentication() const noexcept {
    return static_cast<bool>(checkPassword) || !credentials.empty();
  }
};

// A log function that writes one line per request to `out` (which must outlive it): the local
// time as ctime() gives it (as Twisted's log), a tab, and SocksLogEntry::toString().
std::function<void(const SocksLogEntry&)> socksLogWriter(std::ostream& out);

// The outgoing connection, to the destination (Twisted's SOCKSv4Outgoing).
class SocksOutgoing : public RelayProtocol {};

// The connection of one SOCKS client (Twisted's SOCKSv4, with v5).
class SocksServer : public RelayProtocol {
 public:
  // `options` must have `connect` set.
  explicit SocksServer(std::shared_ptr<const SocksServerOptions> options);
  ~SocksServer() override;

  // Before the request is complete: parses. Once the connect is asked for: the relay's.
  void dataReceived(std::string_view data) override;
  // End of file before the request is complete: closes. After: the relay's half-close.
  void readConnectionLost() override;
  // Cancels a connect in flight, then as the relay.
  void connectionLost(const Failure& reason) override;

  // Where the conversation is (for tests).
  enum class State : std::uint8_t {
    version,     // waiting for the first byte
    v4Request,   // reading a SOCKSv4 request
    v5Methods,   // reading the v5 method selection
    v5Auth,      // reading the RFC 1929 username/password
    v5Request,   // reading the v5 request
    connecting,  // the destination is being connected
    relaying,    // spliced to it
    done,        // answered with a failure, closing
  };
  State state() const noexcept { return state_; }
  // Handshake bytes received and not parsed yet (bounded by the longest request).
  std::size_t bufferedBytes() const noexcept { return buf_.size(); }

 private:
  struct Request {
    int version = 0;
    std::uint8_t command = 0;
    std::string host;
    std::uint16_t port = 0;
    std::string user;
  };

  bool parseV4();
  bool parseV5Methods();
  bool parseV5Auth();
  bool parseV5Request();
  void startConnect(std::size_t consumed);
  void targetConnected(Protocol* outgoing);
  void targetFailed(const Failure& reason);
  void reject(std::string_view why, Socks5Reply code);
  void report(bool granted, std::string outcome, const Address& destination = {});
  void writeV5Reply(Socks5Reply code, const Address& bound);

  std::shared_ptr<const SocksServerOptions> options_;
  State state_ = State::version;
  std::string buf_;
  Request request_;
  Deferred<Protocol*> connecting_{nullptr};
  // Lets the connect's callbacks tell whether this protocol still exists.
  std::shared_ptr<SocksServer*> self_;
};

// Builds a SocksServer for each connection, all sharing one set of options (Twisted's
// SOCKSv4Factory).
class SocksFactory : public Factory {
 public:
  // `options.connect` must be set.
  explicit SocksFactory(SocksServerOptions options);
  // Connects through `net` (HostnameEndpoint) unless options.connect is set; `net` must
  // outlive the factory.
  SocksFactory(IReactorNet& net, SocksServerOptions options);

  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override;
  const SocksServerOptions& options() const noexcept { return *options_; }

 private:
  std::shared_ptr<const SocksServerOptions> options_;
};

}  // namespace torsion::protocols
