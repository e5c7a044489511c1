// A steady connection allocates nothing per read or write: reads go into the reactor's one
// buffer, dataReceived gets a view, and a write the socket takes at once is not copied.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "net/net_helpers.hpp"

namespace {
std::atomic<long> allocations{0};
}  // namespace

// Counts every allocation of this test program (the other tests of the binary are unaffected
// but for the count).
void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace torsion::test {
namespace {

TEST(SteadyConnection, allocatesNothingPerReadOrWrite) {
  Reactor reactor{quietOptions()};
  IReactorNet& net = network(reactor);
  auto server = std::make_shared<Collecting<>>();
  auto client = std::make_shared<Collecting<>>();
  int roundTrips = 0;
  server->setup = [](Record& r) {
    r.onData = [](Record& rec, std::string_view data) { rec.transport->write(data); };
  };
  client->setup = [&](Record& r) {
    r.onData = [&](Record& rec, std::string_view data) {
      ++roundTrips;
      rec.received.clear();  // keep the record's string at its capacity
      rec.transport->write(data);
    };
  };
  auto port = net.listenTCP(0, server, TCPListenOptions{.interface = "127.0.0.1"});
  net.connectTCP("127.0.0.1", port->getHost().port(), client);
  ASSERT_TRUE(spinUntil(reactor, [&] { return !client->built.empty() && client->built[0]->made; }));
  client->built[0]->received.reserve(1024);
  server->built.at(0)->received.reserve(1 << 20);
  client->built[0]->transport->write(std::string(64, 'm'));
  ASSERT_TRUE(spinUntil(reactor, [&] { return roundTrips >= 100; }));  // warm up
  const long before = allocations.load();
  const int start = roundTrips;
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return roundTrips >= start + 2000; }, 100000));
  const long perTrip = (allocations.load() - before) / (roundTrips - start);
  EXPECT_EQ(allocations.load() - before, 0) << "about " << perTrip << " per round trip";
}

}  // namespace
}  // namespace torsion::test
