#include "torsion/net/wrapping_protocol.hpp"

#include <stdexcept>

namespace torsion {

namespace {

class Plain final : public WrappingProtocol {
 public:
  Plain(std::unique_ptr<Protocol> p, Hooks h) : WrappingProtocol(std::move(p), std::move(h)) {}
};

class HalfCloseable final : public WrappingProtocol, public IHalfCloseableProtocol {
 public:
  HalfCloseable(std::unique_ptr<Protocol> p, Hooks h)
      : WrappingProtocol(std::move(p), std::move(h)) {}
  void readConnectionLost() override {
    dynamic_cast<IHalfCloseableProtocol&>(wrapped()).readConnectionLost();
  }
  void writeConnectionLost() override {
    dynamic_cast<IHalfCloseableProtocol&>(wrapped()).writeConnectionLost();
  }
};

class DescriptorReceiver final : public WrappingProtocol, public IFileDescriptorReceiver {
 public:
  DescriptorReceiver(std::unique_ptr<Protocol> p, Hooks h)
      : WrappingProtocol(std::move(p), std::move(h)) {}
  void fileDescriptorReceived(int fd) override {
    dynamic_cast<IFileDescriptorReceiver&>(wrapped()).fileDescriptorReceived(fd);
  }
};

class Both final : public WrappingProtocol,
                   public IHalfCloseableProtocol,
                   public IFileDescriptorReceiver {
 public:
  Both(std::unique_ptr<Protocol> p, Hooks h) : WrappingProtocol(std::move(p), std::move(h)) {}
  void readConnectionLost() override {
    dynamic_cast<IHalfCloseableProtocol&>(wrapped()).readConnectionLost();
  }
  void writeConnectionLost() override {
    dynamic_cast<IHalfCloseableProtocol&>(wrapped()).writeConnectionLost();
  }
  void fileDescriptorReceived(int fd) override {
    dynamic_cast<IFileDescriptorReceiver&>(wrapped()).fileDescriptorReceived(fd);
  }
};

}  // namespace

std::unique_ptr<WrappingProtocol> wrapProtocol(std::unique_ptr<Protocol> wrapped,
                                               WrappingProtocol::Hooks hooks) {
  if (!wrapped) throw std::invalid_argument("wrapProtocol: no protocol to wrap");
  const bool halfCloseable = dynamic_cast<IHalfCloseableProtocol*>(wrapped.get()) != nullptr;
  const bool receivesDescriptors = dynamic_cast<IFileDescriptorReceiver*>(wrapped.get()) != nullptr;
  if (halfCloseable && receivesDescriptors) {
    return std::make_unique<Both>(std::move(wrapped), std::move(hooks));
  }
  if (halfCloseable) return std::make_unique<HalfCloseable>(std::move(wrapped), std::move(hooks));
  if (receivesDescriptors) {
    return std::make_unique<DescriptorReceiver>(std::move(wrapped), std::move(hooks));
  }
  return std::make_unique<Plain>(std::move(wrapped), std::move(hooks));
}

}  // namespace torsion
