// Fuzzes HTTP11ClientProtocol (torsion/web/client_protocol.hpp), the client's connection, with
// untrusted server bytes arriving in arbitrary pieces, while the caller takes the response
// early, late or never, pauses and resumes the body, reads it with a maximum, and sends the next
// request whenever the connection is free again. Whatever the bytes, once the connection is
// gone: every request's Deferred has fired exactly once, every receiver got exactly one
// connectionLost and no byte after it, and the protocol is Closed.
//
// Input: [settings][chunk...]; a chunk is a header byte (low 6 bits + 1 = size; top bit: toggle
// the receiver's pause after this chunk) and that many bytes. settings bits 0-1: what to do with
// each response (deliverBody at once, later, drop it, readBody with a small maximum); bits 2-3:
// the method (GET, HEAD, POST with a chunked body, PUT with a 5-byte body); bit 4: the
// connection ends with an abort rather than an orderly close; bit 5: small parser limits.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/testing/string_transport.hpp"
#include "torsion/web/client_protocol.hpp"

namespace {

using torsion::Failure;
using torsion::fuzz::check;
namespace web = torsion::web;

struct BodyState {
  std::size_t bytes = 0;
  int ends = 0;
  torsion::IProducer* producer = nullptr;
  bool paused = false;
};

class Receiver final : public web::BodyReceiver {
 public:
  explicit Receiver(std::shared_ptr<BodyState> s) : s_(std::move(s)) {}
  void connectionMade() override { s_->producer = producer; }
  void dataReceived(std::string_view data) override {
    check(s_->ends == 0, "body bytes after the body ended");
    check(!data.empty(), "an empty body read");
    s_->bytes += data.size();
  }
  void connectionLost(const Failure&) override {
    ++s_->ends;
    s_->producer = nullptr;
  }

 private:
  std::shared_ptr<BodyState> s_;
};

struct Exchange {
  int fired = 0;
  std::unique_ptr<web::Response> response;
  std::shared_ptr<BodyState> body;
  std::optional<torsion::Deferred<std::string>> read;
  int readFired = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  torsion::fuzz::FuzzInput in(data, size);
  const std::uint8_t settings = in.byte();
  const int mode = settings & 0x03;
  const int method = (settings >> 2) & 0x03;
  const bool abortAtEnd = (settings & 0x10) != 0;
  web::Limits limits;
  if ((settings & 0x20) != 0) {
    limits.maxStartLine = 32;
    limits.maxFieldLine = 32;
    limits.maxFieldSection = 96;
    limits.maxFieldCount = 4;
    limits.maxChunkLine = 8;
  }

  torsion::testing::StringTransportWithDisconnection transport;
  auto protocol = std::make_unique<web::HTTP11ClientProtocol>(limits);
  transport.connect(*protocol);
  std::vector<std::unique_ptr<Exchange>> exchanges;

  auto deliver = [&](Exchange& ex) {
    ex.body = std::make_shared<BodyState>();
    ex.response->deliverBody(std::make_unique<Receiver>(ex.body));
  };
  auto send = [&]() {
    web::ClientRequest r;
    r.headers.addRawHeader("Host", "fuzz");
    std::shared_ptr<web::PipeBodyProducer> pipe;
    switch (method) {
      case 1:
        r.method = "HEAD";
        break;
      case 2:
        r.method = "POST";
        pipe = std::make_shared<web::PipeBodyProducer>();
        r.body = pipe;
        break;
      case 3:
        r.method = "PUT";
        r.body = std::make_shared<web::StringBodyProducer>("hello");
        break;
      default:
        break;
    }
    auto ex = std::make_unique<Exchange>();
    Exchange* e = ex.get();
    exchanges.push_back(std::move(ex));
    protocol->request(std::move(r))
        .addBoth([&, e](torsion::Result<std::unique_ptr<web::Response>> res) {
          ++e->fired;
          if (!res.ok()) return;
          e->response = std::move(res).value();
          if (mode == 0) deliver(*e);
          if (mode == 2) e->response.reset();
          if (mode == 3) {
            e->read = web::readBody(std::move(e->response), 16);
            e->read->addBoth([e](torsion::Result<std::string> r) {
              ++e->readFired;
              if (r.ok()) check(r.value().size() <= 16, "readBody over its maximum");
            });
          }
        });
    if (pipe) {
      pipe->write("abc");
      pipe->finish();
    }
  };

  send();
  for (;;) {
    bool toggle = false;
    const std::string_view chunk = in.chunk(toggle);
    if (chunk.empty()) break;
    if (!protocol->connected) break;
    protocol->dataReceived(chunk);
    Exchange& last = *exchanges.back();
    if (mode == 1 && last.response && !last.body) deliver(last);
    if (toggle && last.body && last.body->producer != nullptr) {
      last.body->paused = !last.body->paused;
      if (last.body->paused) {
        last.body->producer->pauseProducing();
      } else {
        last.body->producer->resumeProducing();
      }
    }
    if (protocol->state() == web::HTTP11ClientProtocol::State::Quiescent && exchanges.size() < 64) {
      send();
    }
  }
  if (protocol->connected) {
    if (abortAtEnd) {
      transport.abortConnection();
    } else {
      transport.loseConnection();
    }
  }
  for (auto& ex : exchanges) {
    if (mode == 1 && ex->response && !ex->body) deliver(*ex);  // a body asked for after the end
  }
  check(protocol->state() == web::HTTP11ClientProtocol::State::Closed, "not closed at the end");
  for (auto& ex : exchanges) {
    check(ex->fired == 1, "a request Deferred did not fire exactly once");
    if (ex->body) check(ex->body->ends == 1, "a receiver did not get exactly one end");
    if (ex->read) check(ex->readFired == 1, "readBody did not fire exactly once");
  }
  return 0;
}
