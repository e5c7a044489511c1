// WrappingProtocol: a protocol that owns another one and passes every event on to it, with
// two hooks, for code that must learn when a connection it did not build comes up and goes
// down (endpoints firing their Deferred once connectionMade ran, ClientService noticing a
// lost connection). Twisted's endpoints._WrappingProtocol and
// application.internet._ReconnectingProtocolProxy.
//
// The wrapper presents the optional interfaces of the protocol it wraps, and only those: a
// transport asks the protocol it owns (the wrapper) with dynamic_cast whether it is an
// IHalfCloseableProtocol or an IFileDescriptorReceiver, and must get the wrapped protocol's
// answer. wrapProtocol() picks the matching class.
#pragma once

#include <memory>
#include <string_view>
#include <utility>

#include "torsion/core/function.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/net/protocol.hpp"

namespace torsion {

class WrappingProtocol : public Protocol {
 public:
  struct Hooks {
    // After the wrapped protocol's makeConnection (so its connectionMade) returned.
    UniqueFunction<void(Protocol& wrapped)> made;
    // After the wrapped protocol's connectionLost returned or threw (the exception then goes
    // on to the transport).
    UniqueFunction<void(const Failure& reason)> lost;
  };

  Protocol& wrapped() noexcept { return *wrapped_; }

  void connectionMade() override {
    wrapped_->makeConnection(*transport);
    if (hooks_.made) hooks_.made(*wrapped_);
  }
  void dataReceived(std::string_view data) override { wrapped_->dataReceived(data); }
  void connectionLost(const Failure& reason) override {
    connected = false;
    try {
      wrapped_->connectionLost(reason);
    } catch (...) {
      if (hooks_.lost) hooks_.lost(reason);
      throw;
    }
    if (hooks_.lost) hooks_.lost(reason);
  }

 protected:
  WrappingProtocol(std::unique_ptr<Protocol> wrapped, Hooks hooks)
      : wrapped_(std::move(wrapped)), hooks_(std::move(hooks)) {}

 private:
  std::unique_ptr<Protocol> wrapped_;
  Hooks hooks_;
};

// A WrappingProtocol around `wrapped` (not null) that is an IHalfCloseableProtocol and/or an
// IFileDescriptorReceiver exactly when `wrapped` is.
std::unique_ptr<WrappingProtocol> wrapProtocol(std::unique_ptr<Protocol> wrapped,
                                               WrappingProtocol::Hooks hooks);

}  // namespace torsion
