#include "torsion/net/factory.hpp"

namespace torsion {

std::unique_ptr<Protocol> Factory::buildProtocol(const Address& addr) {
  (void)addr;
  if (!make_) return nullptr;
  std::unique_ptr<Protocol> p = make_();
  if (p) p->factory = this;
  return p;
}

void Factory::doStart() {
  if (numPorts_++ == 0) startFactory();
}

void Factory::doStop() {
  if (numPorts_ == 0) return;  // more stops than starts: Twisted ignores them too
  if (--numPorts_ == 0) stopFactory();
}

}  // namespace torsion
