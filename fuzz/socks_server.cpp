// Fuzzes the SOCKS server (torsion/protocols/socks.hpp): arbitrary bytes from a client, in
// chunks whose sizes come from the input, over a StringTransportWithDisconnection, with a fake
// connect function whose attempts succeed or fail when the input says so.
//
// The first byte sets: credentials required (bit 0), SOCKSv4 allowed (bit 1), connect
// attempts completed at once (bit 2) and then failed instead of connected (bit 3), end of file
// after the last chunk (bit 4). A chunk whose flag is set completes a pending attempt first.
//
// Invariants: the handshake buffer never holds more than the longest request; no more than
// one connect attempt per connection, and none once the server answered with a failure;
// the first reply byte matches the version spoken (00 for v4, 05 for v5); a v4 answer is
// exactly 8 bytes; bytes fed while relaying reach the destination unchanged and in order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "torsion/net/endpoints.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/protocols/socks.hpp"
#include "torsion/testing/string_transport.hpp"

namespace {

using torsion::Address;
using torsion::Deferred;
using torsion::Failure;
using torsion::Protocol;
using torsion::fuzz::check;
using torsion::protocols::SocksServer;
using torsion::protocols::SocksServerOptions;
using torsion::testing::StringTransport;
using torsion::testing::StringTransportWithDisconnection;

constexpr std::size_t kMaxName = 32;

struct Attempt {
  Deferred<Protocol*> result{nullptr};
  std::shared_ptr<torsion::Factory> factory;
  std::unique_ptr<Protocol> protocol;
  std::unique_ptr<StringTransport> transport;
  bool done = false;
};

class Endpoint : public torsion::IStreamClientEndpoint {
 public:
  explicit Endpoint(std::vector<std::unique_ptr<Attempt>>& attempts) : attempts_(attempts) {}
  Deferred<Protocol*> connect(std::shared_ptr<torsion::Factory> factory) override {
    auto a = std::make_unique<Attempt>();
    a->result = Deferred<Protocol*>();
    a->factory = std::move(factory);
    Deferred<Protocol*> d = a->result;
    attempts_.push_back(std::move(a));
    return d;
  }

 private:
  std::vector<std::unique_ptr<Attempt>>& attempts_;
};

void complete(Attempt& a, bool fail) {
  if (a.done || a.result.called()) return;
  a.done = true;
  if (fail) {
    a.result.errback(Failure(torsion::ConnectionRefusedError()));
    return;
  }
  const Address destination = Address::ip("192.0.2.1", 80);
  a.protocol = a.factory->buildProtocol(destination);
  a.transport = std::make_unique<StringTransport>(Address::ip("10.0.0.1", 4000), destination);
  a.protocol->makeConnection(*a.transport);
  a.result.callback(a.protocol.get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torsion::fuzz::FuzzInput input(data, size);
  const std::uint8_t settings = input.byte();
  const bool completeAtOnce = (settings & 0x04U) != 0;
  const bool failAttempts = (settings & 0x08U) != 0;

  std::vector<std::unique_ptr<Attempt>> attempts;
  SocksServerOptions options;
  if ((settings & 0x01U) != 0) options.credentials = {{"user", "pass"}};
  options.allowVersion4 = (settings & 0x02U) != 0;
  options.maxUserIdLength = kMaxName;
  options.maxHostnameLength = kMaxName;
  options.connect = [&](const std::string& host, std::uint16_t port) {
    (void)port;
    check(!host.empty(), "a connect to an empty host");
    check(host.find('\0') == std::string::npos, "a host name holding NUL");
    return std::make_unique<Endpoint>(attempts);
  };
  int logged = 0;
  options.log = [&](const torsion::protocols::SocksLogEntry& e) {
    ++logged;
    check(e.version == 4 || e.version == 5, "a log entry for an unknown version");
    (void)e.toString();
  };
  // The longest message the server may have to hold while it is incomplete.
  const std::size_t longest = std::max<std::size_t>(8 + 2 * (kMaxName + 1), 3 + 255 + 255);

  auto server = std::make_unique<SocksServer>(std::make_shared<SocksServerOptions>(options));
  StringTransportWithDisconnection transport;
  transport.connect(*server);

  std::string fedWhileRelaying;
  std::uint8_t firstByte = 0;
  bool sawFirst = false;
  while (!input.empty() && transport.connected()) {
    bool flag = false;
    const std::string_view chunk = input.chunk(flag);
    if (flag && !attempts.empty()) complete(*attempts.back(), failAttempts);
    if (!transport.connected()) break;
    if (!sawFirst && !chunk.empty()) {
      sawFirst = true;
      firstByte = static_cast<std::uint8_t>(chunk.front());
    }
    const bool relaying = server->state() == SocksServer::State::relaying;
    const bool wasDone = server->state() == SocksServer::State::done;
    const std::size_t attemptsBefore = attempts.size();
    server->dataReceived(chunk);
    if (relaying) fedWhileRelaying.append(chunk);
    if (wasDone) check(attempts.size() == attemptsBefore, "a connect after a failure reply");
    check(server->bufferedBytes() <= longest, "the handshake buffer outgrew the longest request");
    check(server->pendingBytes() <= server->maxPendingBytes() + 64,
          "bytes kept for the destination past the limit");
    check(attempts.size() <= 1, "more than one connect attempt");
    if (completeAtOnce && !attempts.empty()) complete(*attempts.back(), failAttempts);
  }
  if (transport.connected() && (settings & 0x10U) != 0) server->readConnectionLost();

  const std::string out = transport.value();
  if (!out.empty()) {
    if (firstByte == 4) {
      check(out[0] == '\0', "a v4 answer not starting with 00");
      const bool answered = server->state() == SocksServer::State::relaying ||
                            server->state() == SocksServer::State::done;
      if (answered && server->state() == SocksServer::State::done) {
        check(out.size() == 8, "a v4 failure answer that is not 8 bytes");
      }
    } else {
      check(firstByte == 5 && out[0] == '\x05', "an answer to something that was not SOCKS");
    }
  }
  if (!attempts.empty() && attempts.back()->transport) {
    const std::string arrived = attempts.back()->transport->value();
    check(arrived.size() >= fedWhileRelaying.size() &&
              arrived.compare(arrived.size() - fedWhileRelaying.size(), std::string::npos,
                              fedWhileRelaying) == 0,
          "relayed bytes lost or reordered");
  }
  check(logged <= 1, "more than one log entry for one request");
  if (transport.connected()) transport.loseConnection();
  return 0;
}
