// AccumulatingProtocol: a protocol that remembers what happened to it (Twisted's
// twisted.internet.testing.AccumulatingProtocol), for tests of transports, factories and
// reactors rather than of protocols.
//
//   auto protocol = std::make_unique<AccumulatingProtocol>();
//   Deferred<void> closed;
//   protocol->closedDeferred = closed;   // fires once connectionLost() ran
//
// madeDeferred and closedDeferred are each fired once (with no value, on the thread of the
// connection) and then dropped, as Twisted's factory.protocolConnectionMade and
// closedDeferred are; set them before the event. Twisted fires protocolConnectionMade with
// the protocol; here the test already holds the protocol, so the Deferred carries nothing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "torsion/defer/deferred.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion::testing {

class AccumulatingProtocol : public Protocol {
 public:
  void connectionMade() override;
  void dataReceived(std::string_view bytes) override;
  void connectionLost(const Failure& reason) override;

  // Everything received, in order.
  std::string data;
  // connectionMade() ran.
  bool made = false;
  // connectionLost() ran; closedReason holds its reason.
  bool closed = false;
  std::optional<Failure> closedReason;
  // Fired (and reset to an empty handle) by connectionMade() / connectionLost().
  Deferred<void> madeDeferred{nullptr};
  Deferred<void> closedDeferred{nullptr};
};

}  // namespace torsion::testing
