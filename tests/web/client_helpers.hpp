// Helpers shared by the HTTP client's tests: a recording body receiver, a holder for a
// Deferred's eventual result, and a tiny raw HTTP server for the real-TCP tests.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/protocol.hpp"
#include "torsion/web/client_response.hpp"

namespace torsion::web::test {

// What a RecordingReceiver saw; shared, since the connection owns the receiver.
struct BodyLog {
  std::string data;
  std::optional<Failure> end;
  IProducer* producer = nullptr;
  int made = 0;
  int reads = 0;
  // Called from dataReceived after recording (to pause, stop, throw...).
  std::function<void(BodyLog&)> onData;
};

class RecordingReceiver final : public BodyReceiver {
 public:
  explicit RecordingReceiver(std::shared_ptr<BodyLog> log) : log_(std::move(log)) {}
  void connectionMade() override {
    ++log_->made;
    log_->producer = producer;
  }
  void dataReceived(std::string_view data) override {
    log_->data.append(data);
    ++log_->reads;
    if (log_->onData) log_->onData(*log_);
  }
  void connectionLost(const Failure& reason) override {
    log_->end = reason;
    log_->producer = nullptr;
  }

 private:
  std::shared_ptr<BodyLog> log_;
};

inline std::shared_ptr<BodyLog> deliverTo(Response& r) {
  auto log = std::make_shared<BodyLog>();
  r.deliverBody(std::make_unique<RecordingReceiver>(log));
  return log;
}

// The result of a Deferred once it fired (the Deferred is consumed).
template <class T>
struct Eventually {
  std::shared_ptr<std::optional<Result<T>>> slot = std::make_shared<std::optional<Result<T>>>();
  explicit Eventually(Deferred<T> d) {
    d.addBoth([s = slot](Result<T> r) { s->emplace(std::move(r)); });
  }
  bool fired() const { return slot->has_value(); }
  bool ok() const { return fired() && (*slot)->ok(); }
  T& value() { return (**slot).value(); }
  const Failure& failure() const { return (**slot).failure(); }
};

// Runs the reactor until `done()` or about 10 s of turns.
template <class P>
bool spinUntil(Reactor& reactor, P done, int turns = 400) {
  for (int i = 0; i < turns && !done(); ++i) reactor.iterate(Seconds(0.025));
  return done();
}

// One request as the raw server parsed it.
struct RawRequest {
  std::string head;  // request line and fields, up to the empty line
  std::string body;
  std::string requestLine() const { return head.substr(0, head.find("\r\n")); }
  bool hasField(std::string_view line) const {
    return head.find("\r\n" + std::string(line) + "\r\n") != std::string::npos;
  }
  // The value of a field (first, case as sent), or empty.
  std::string field(std::string_view name) const {
    const std::string key = "\r\n" + std::string(name) + ": ";
    const auto at = head.find(key);
    if (at == std::string::npos) return {};
    const auto start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// What the raw server does with a request.
struct RawAnswer {
  std::string bytes;    // written as they are (may be empty)
  bool close = false;   // close the connection after writing
  bool silent = false;  // write nothing, keep the connection open
};

// A small HTTP/1.1 server made of string handling on torsion's own listenTCP: good enough to
// answer the client's requests (Content-Length bodies only), and fully under the test's
// control. `handler(request, connectionIndex, requestIndexOnConnection)`.
struct RawServerState {
  std::function<RawAnswer(const RawRequest&, int, int)> handler;
  int connections = 0;
  int lost = 0;
  std::vector<RawRequest> requests;
};

class RawHttpServer final : public Protocol {
 public:
  explicit RawHttpServer(std::shared_ptr<RawServerState> state) : state_(std::move(state)) {}
  void connectionMade() override { index_ = state_->connections++; }
  void dataReceived(std::string_view data) override {
    buffer_.append(data);
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      RawRequest r;
      r.head = buffer_.substr(0, end + 2);
      std::size_t length = 0;
      const std::string cl = r.field("Content-Length");
      if (!cl.empty()) length = std::stoul(cl);
      if (buffer_.size() < end + 4 + length) return;
      r.body = buffer_.substr(end + 4, length);
      buffer_.erase(0, end + 4 + length);
      state_->requests.push_back(r);
      const RawAnswer a = state_->handler(r, index_, served_++);
      if (a.silent) continue;
      if (!a.bytes.empty()) transport->write(a.bytes);
      if (a.close) {
        transport->loseConnection();
        return;
      }
    }
  }
  void connectionLost(const Failure&) override { ++state_->lost; }

 private:
  std::shared_ptr<RawServerState> state_;
  std::string buffer_;
  int index_ = 0;
  int served_ = 0;
};

inline std::shared_ptr<Factory> rawServerFactory(std::shared_ptr<RawServerState> state) {
  return std::make_shared<Factory>(
      [state]() -> std::unique_ptr<Protocol> { return std::make_unique<RawHttpServer>(state); });
}

inline std::string ok(std::string_view body, std::string_view extra = {}) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra) + "\r\n" + std::string(body);
}

}  // namespace torsion::web::test
