#include "torsion/protocols/timeout.hpp"

#include "torsion/net/protocol.hpp"

namespace torsion::protocols {

TimeoutMixin::~TimeoutMixin() {
  if (call_.active()) call_.cancel();
}

std::optional<Seconds> TimeoutMixin::setTimeout(std::optional<Seconds> period) {
  const std::optional<Seconds> previous = timeOut_;
  timeOut_ = period;
  if (call_.active()) {
    if (period) {
      call_.reset(*period);
    } else {
      call_.cancel();
      call_ = DelayedCall();
    }
  } else if (period) {
    call_ = clock_->callLater(*period, [this] { timedOut(); });
  }
  return previous;
}

void TimeoutMixin::resetTimeout() {
  if (call_.active() && timeOut_) call_.reset(*timeOut_);
}

void TimeoutMixin::timedOut() {
  call_ = DelayedCall();
  timeoutConnection();
}

void TimeoutMixin::timeoutConnection() {
  // A cross-cast: the mixin sits beside the Protocol in the class that uses both.
  auto* protocol = dynamic_cast<Protocol*>(this);
  if (protocol != nullptr && protocol->transport != nullptr) protocol->transport->loseConnection();
}

}  // namespace torsion::protocols
