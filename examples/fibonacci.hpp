// The persistent Fibonacci server of ../shared/seeds/002_*.txt ("This server delivers distinct
// Fibonacci numbers to all interested clients, without repeating numbers between them -- even
// if the server is stopped and started"), in a header so that examples/fibonacci_plugin.cpp
// serves it under torsiond and tests/examples/fibonacci_test.cpp drives the same classes
// without sockets.
//
// The seed keeps a and b on the Factory (1 and 1 to begin with); every time a client sends
// data, the server answers a + b and moves on (a, b = b, a + b). There is ONE sequence for the
// whole server: two clients never get the same number. The seed pickles the Application into
// a .tap file at shutdown; here the service saves {"a": a, "b": b} through
// Service::saveState(), and `torsiond --state FILE fibonacci` restores it at the next start.
//
// Where this differs from the seed, and why:
// - Each number is followed by "\r\n". The seed writes bare digits ('%d'), which a client
//   cannot split when two answers arrive in one read.
// - The numbers are 64-bit unsigned. Python's grow without bound; here, after the last one
//   that fits (12200160415121876738, F(93)) the sequence starts again from a = b = 1, so the
//   next answer is 2. Every answer is still a Fibonacci number; the "no repeats" promise holds
//   for the first 91 answers of each round (a client can tell a new round: the number drops).
// - One answer per dataReceived() call, as the seed: a client wanting one number at a time
//   sends a byte and waits for the line (bytes sent together may arrive as one read).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "torsion/app/internet.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/protocol.hpp"

namespace examples::fibonacci {

// The shared sequence: the last two numbers served (the seed's factory.a and factory.b).
class Sequence {
 public:
  Sequence() = default;
  // Throws std::invalid_argument unless 1 <= a <= b (any other pair would not go on as a
  // Fibonacci-like sequence: {0, 0} would answer 0 forever).
  Sequence(std::uint64_t a, std::uint64_t b) : a_(a), b_(b) {
    if (a < 1 || b < a) {
      throw std::invalid_argument("fibonacci: need 1 <= a <= b, got a = " + std::to_string(a) +
                                  ", b = " + std::to_string(b));
    }
  }

  // The next number: a + b, after which (a, b) = (b, a + b). When a + b does not fit in 64
  // bits the sequence starts again from (1, 1) and the answer is 2.
  std::uint64_t next() {
    if (a_ > std::numeric_limits<std::uint64_t>::max() - b_) {
      a_ = 1;
      b_ = 1;
    }
    const std::uint64_t number = a_ + b_;
    a_ = std::exchange(b_, number);
    return number;
  }

  std::uint64_t a() const noexcept { return a_; }
  std::uint64_t b() const noexcept { return b_; }

  // {"a": a, "b": b}: what the service saves.
  nlohmann::json toJson() const { return {{"a", a_}, {"b", b_}}; }
  // The inverse of toJson(). Throws std::invalid_argument naming what is wrong (not an object,
  // a missing key, a value that is not an unsigned 64-bit integer, or a pair the constructor
  // refuses).
  static Sequence fromJson(const nlohmann::json& state) {
    if (!state.is_object()) {
      throw std::invalid_argument("fibonacci: the saved state is not an object: " + state.dump());
    }
    return Sequence(field(state, "a"), field(state, "b"));
  }

 private:
  static std::uint64_t field(const nlohmann::json& state, const char* key) {
    const auto it = state.find(key);
    if (it == state.end()) {
      throw std::invalid_argument(std::string("fibonacci: the saved state has no \"") + key + "\"");
    }
    // nlohmann stores non-negative integers as unsigned when parsing; a negative, fractional
    // or textual value is refused rather than converted.
    if (!it->is_number_unsigned()) {
      throw std::invalid_argument(std::string("fibonacci: \"") + key +
                                  "\" is not an unsigned 64-bit integer: " + it->dump());
    }
    return it->get<std::uint64_t>();
  }

  std::uint64_t a_ = 1;
  std::uint64_t b_ = 1;
};

// One client: every read gets the next number of the factory's sequence.
class Fibonacci : public torsion::Protocol {
 public:
  explicit Fibonacci(Sequence& sequence) : sequence_(sequence) {}

  void dataReceived(std::string_view) override {
    transport->write(std::to_string(sequence_.next()) + "\r\n");
  }

 private:
  Sequence& sequence_;
};

// Owns the sequence all its connections share.
class FibonacciFactory : public torsion::Factory {
 public:
  std::unique_ptr<torsion::Protocol> buildProtocol(const torsion::Address&) override {
    auto protocol = std::make_unique<Fibonacci>(sequence_);
    protocol->factory = this;
    return protocol;
  }

  Sequence& sequence() noexcept { return sequence_; }
  const Sequence& sequence() const noexcept { return sequence_; }

 private:
  Sequence sequence_;
};

// Listens on an endpoint with a FibonacciFactory, and saves and restores its sequence (the
// seed's pickled Application). Restoring happens before the service starts; saving after it
// stopped (see torsion/app/service.hpp).
class FibonacciService : public torsion::app::StreamServerEndpointService {
 public:
  FibonacciService(std::shared_ptr<torsion::IStreamServerEndpoint> endpoint,
                   std::shared_ptr<FibonacciFactory> factory)
      : StreamServerEndpointService(std::move(endpoint), factory), factory_(std::move(factory)) {}

  std::optional<nlohmann::json> saveState() const override { return factory_->sequence().toJson(); }
  void restoreState(const nlohmann::json& state) override {
    factory_->sequence() = Sequence::fromJson(state);
  }

  FibonacciFactory& fibonacciFactory() const noexcept { return *factory_; }

 private:
  std::shared_ptr<FibonacciFactory> factory_;
};

}  // namespace examples::fibonacci
