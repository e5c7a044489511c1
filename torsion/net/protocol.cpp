#include "torsion/net/protocol.hpp"

#include "torsion/net/datagram.hpp"

namespace torsion {

void Protocol::makeConnection(ITransport& t) {
  transport = &t;
  connected = true;
  connectionMade();
}

void DatagramProtocol::makeConnection(IDatagramTransport& t) {
  transport = &t;
  startProtocol();
}

}  // namespace torsion
