// The client of examples/echo_client.cpp, in a header so that tests/examples/echo_client_test.cpp
// drives the same classes through StringTransport, the loopback and a real reactor.
//
// It is Twisted's examples/echoclient.py: a LineReceiver that sends its lines on connect, and
// an EchoClientFactory whose `done` Deferred says how it went (for task.react, here
// torsion::react). Each message goes out as one line ("\r\n"); each line that comes back is
// handed to `onEcho`; once every message came back the client closes the connection and `done`
// fires. `done` fails with the connection error (ConnectionRefusedError, DNSLookupError,
// ConnectTimeoutError...) if the connection could not be made, with EchoMismatch if a line came
// back different, and with IncompleteEcho if the connection ended before every line came back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/port.hpp"
#include "torsion/protocols/line_receiver.hpp"

namespace examples::echoclient {

// The server answered a line with something else.
class EchoMismatch : public torsion::Error {
 public:
  using torsion::Error::Error;
};

// The connection ended before every line came back.
class IncompleteEcho : public torsion::Error {
 public:
  using torsion::Error::Error;
};

// What Twisted's echoclient.py sends.
inline std::vector<std::string> defaultMessages() {
  return {"Hello, world!", "What a fine day it is.", "Bye-bye!"};
}

class EchoClientFactory;

class EchoClient : public torsion::protocols::LineReceiver {
 public:
  // Lines as long as the longest message must come back whole, even past LineReceiver's
  // default limit.
  explicit EchoClient(EchoClientFactory& owner);

  void connectionMade() override;
  void lineReceived(std::string_view line) override;

 private:
  EchoClientFactory& owner_;
};

class EchoClientFactory : public torsion::ClientFactory {
 public:
  // `messages` must not contain '\r' or '\n' (each is one line). `onEcho` gets each line that
  // came back, in order.
  EchoClientFactory(std::vector<std::string> messages,
                    std::function<void(std::string_view)> onEcho = {})
      : messages_(std::move(messages)), onEcho_(std::move(onEcho)) {}

  std::unique_ptr<torsion::Protocol> buildProtocol(const torsion::Address&) override {
    auto client = std::make_unique<EchoClient>(*this);
    client->factory = this;
    return client;
  }

  void clientConnectionFailed(torsion::IConnector&, const torsion::Failure& reason) override {
    finish(reason);
  }
  void clientConnectionLost(torsion::IConnector&, const torsion::Failure& reason) override {
    if (!error_.empty()) {
      finish(torsion::Failure(EchoMismatch(error_)));
    } else if (echoed_ < messages_.size()) {
      finish(torsion::Failure(IncompleteEcho(
          "the connection ended after " + std::to_string(echoed_) + " of " +
          std::to_string(messages_.size()) + " lines came back: " + reason.getErrorMessage())));
    } else {
      finish({});
    }
  }

  // Fires once: with no value when every line came back, or with the failure. Cancelling it
  // does not touch the connection (drop the connector for that).
  torsion::Deferred<void> done() const { return done_; }
  std::size_t echoed() const noexcept { return echoed_; }
  const std::vector<std::string>& messages() const noexcept { return messages_; }

 private:
  friend class EchoClient;

  // The protocol's report: `line` came back. Returns whether the client is finished.
  bool echo(std::string_view line) {
    if (echoed_ >= messages_.size() || line != messages_[echoed_]) {
      error_ = "expected " +
               (echoed_ < messages_.size() ? "\"" + messages_[echoed_] + "\"" : "nothing") +
               ", the server sent \"" + std::string(line) + "\"";
      return true;
    }
    ++echoed_;
    if (onEcho_) onEcho_(line);
    return echoed_ == messages_.size();
  }

  void finish(std::optional<torsion::Failure> failure) {
    if (done_.called()) return;
    if (failure) {
      done_.errback(std::move(*failure));
    } else {
      done_.callback();
    }
  }

  std::vector<std::string> messages_;
  std::function<void(std::string_view)> onEcho_;
  std::size_t echoed_ = 0;
  std::string error_;
  torsion::Deferred<void> done_;
};

inline EchoClient::EchoClient(EchoClientFactory& owner) : owner_(owner) {
  for (const std::string& message : owner.messages()) {
    maxLength = std::max(maxLength, message.size());
  }
}

inline void EchoClient::connectionMade() {
  for (const std::string& message : owner_.messages()) sendLine(message);
  if (owner_.messages().empty()) transport->loseConnection();
}

inline void EchoClient::lineReceived(std::string_view line) {
  if (owner_.echo(line)) transport->loseConnection();
}

}  // namespace examples::echoclient
