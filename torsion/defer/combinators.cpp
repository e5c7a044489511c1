#include "torsion/defer/combinators.hpp"

#include "torsion/log/logger.hpp"

namespace torsion::detail {

void MemberSet::cancelAll(std::size_t except) noexcept {
  // Re-read each pointer: cancelling one member runs callbacks that may finish others.
  for (std::size_t j = 0; j < members.size(); ++j) {
    DeferredState* s = members[j];
    if (j == except || s == nullptr) continue;
    const StateRef keep(s);
    try {
      s->cancel();
    } catch (...) {
      static const Logger log("torsion.defer");
      log.failure("Exception while cancelling a Deferred of a combinator", Failure::current(),
                  LogLevel::error);
    }
  }
}

}  // namespace torsion::detail
