// Helpers for the network tests that run a real Reactor over loopback.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torsion/core/reactor.hpp"
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

inline Reactor::Options quietOptions() {
  Reactor::Options o;
  o.installSignalHandlers = false;
  return o;
}

}  // namespace torsion::test
