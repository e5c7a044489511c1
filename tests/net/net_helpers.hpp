// Helpers for the network tests that run a real Reactor over loopback.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "torsion/core/reactor.hpp"
#include "torsion/net/datagram.hpp"
#include "torsion/net/errors.hpp"
#include "torsion/net/factory.hpp"
#include "torsion/net/network.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::test {

// Runs reactor iterations until pred() holds; at most `cap` iterations of at most 50 ms of
// waiting each (so a broken test fails instead of hanging). Returns pred().
inline bool spinUntil(Reactor& reactor, const std::function<bool()>& pred, int cap = 2000) {
  for (int i = 0; i < cap && !pred(); ++i) reactor.iterate(Seconds(0.05));
  return pred();
}

// What happened to one connection. It outlives the protocol (which its connection deletes
// after connectionLost), so tests read it after the connection is gone.
struct Record {
  std::string received;
  bool made = false;
  bool lost = false;
  bool readLost = false;
  bool writeLost = false;
  std::optional<Failure> reason;
  ITransport* transport = nullptr;  // valid while connected
  std::vector<int> fds;             // descriptors received (the test closes them)
  std::function<void(Record&)> onMade;
  std::function<void(Record&, std::string_view)> onData;
  std::function<void(Record&)> onLost;
};

// A protocol that records into a Record.
struct Recorder : Protocol {
  std::shared_ptr<Record> rec = std::make_shared<Record>();
  void connectionMade() override {
    rec->made = true;
    rec->transport = transport;
    if (rec->onMade) rec->onMade(*rec);
  }
  void dataReceived(std::string_view data) override {
    rec->received.append(data);
    if (rec->onData) rec->onData(*rec, data);
  }
  void connectionLost(const Failure& r) override {
    rec->lost = true;
    rec->reason = r;
    rec->transport = nullptr;
    if (rec->onLost) rec->onLost(*rec);
  }
};

// Answers after the peer's EOF, unless told to stay quiet (mark a client
// quiet by setting its Record's readLost first).
struct HalfCloser : Recorder, IHalfCloseableProtocol {
  void readConnectionLost() override {
    const bool quiet = rec->readLost;
    rec->readLost = true;
    if (quiet) return;
    transport->write("reply after your EOF");
    transport->loseConnection();
  }
  void writeConnectionLost() override { rec->writeLost = true; }
};

// A factory handing out Recorders (or P), and keeping their Records.
template <class P = Recorder>
struct Collecting : ClientFactory {
  std::vector<std::shared_ptr<Record>> built;
  std::function<void(Record&)> setup;
  int started = 0;
  int stopped = 0;
  std::optional<Failure> failedReason;
  std::optional<Failure> lostReason;
  std::unique_ptr<Protocol> buildProtocol(const Address&) override {
    auto p = std::make_unique<P>();
    p->factory = this;
    if (setup) setup(*p->rec);
    built.push_back(p->rec);
    return p;
  }
  void startFactory() override { ++started; }
  void stopFactory() override { ++stopped; }
  void clientConnectionFailed(IConnector&, const Failure& r) override { failedReason = r; }
  void clientConnectionLost(IConnector&, const Failure& r) override { lostReason = r; }
};

// A datagram protocol that records what happens to its port.
struct Catcher : DatagramProtocol {
  struct Datagram {
    std::string data;
    Address from;
  };
  std::vector<Datagram> got;
  int started = 0;
  int stopped = 0;
  int refused = 0;
  bool transportSetWhenStopped = false;
  std::vector<Failure> failures;  // connectionFailed
  std::function<void(std::string_view, const Address&)> onDatagram;
  void startProtocol() override { ++started; }
  void stopProtocol() override {
    ++stopped;
    transportSetWhenStopped = transport != nullptr;
  }
  void datagramReceived(std::string_view data, const Address& from) override {
    got.push_back({std::string(data), from});
    if (onDatagram) onDatagram(data, from);
  }
  void connectionRefused() override { ++refused; }
  void connectionFailed(const Failure& reason) override { failures.push_back(reason); }
  // True once a datagram with exactly `data` arrived.
  bool has(std::string_view data) const {
    for (const auto& d : got) {
      if (d.data == data) return true;
    }
    return false;
  }
};

inline Reactor::Options quietOptions(const char* poller = "") {
  Reactor::Options o;
  o.poller = poller;
  o.installSignalHandlers = false;
  return o;
}

// Suites parameterised by the poller run once on each:
//   INSTANTIATE_TEST_SUITE_P(Pollers, Suite, ::testing::ValuesIn(kPollers), pollerName);
inline const char* const kPollers[] = {"epoll", "poll"};
inline std::string pollerName(const ::testing::TestParamInfo<const char*>& info) {
  return info.param;
}

// A fresh directory under /tmp (short, for Unix socket paths), removed with what it holds.
class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/torsion-XXXXXX";
    if (::mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A Linux abstract socket name no other test process uses ("@" form).
inline std::string abstractName(const std::string& what) {
  static int counter = 0;
  return "@torsion-test-" + std::to_string(::getpid()) + "-" + what + "-" +
         std::to_string(++counter);
}

}  // namespace torsion::test
