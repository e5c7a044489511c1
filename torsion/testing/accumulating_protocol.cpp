#include "torsion/testing/accumulating_protocol.hpp"

#include <utility>

namespace torsion::testing {

void AccumulatingProtocol::connectionMade() {
  made = true;
  // Taken out first: a callback may set a new one (Twisted resets the attribute first too).
  if (madeDeferred) std::exchange(madeDeferred, nullptr).callback();
}

void AccumulatingProtocol::dataReceived(std::string_view bytes) { data.append(bytes); }

void AccumulatingProtocol::connectionLost(const Failure& reason) {
  closed = true;
  closedReason = reason;
  if (closedDeferred) std::exchange(closedDeferred, nullptr).callback();
}

}  // namespace torsion::testing
