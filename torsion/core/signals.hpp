// Signal handling for the Reactor (internal): SIGINT and SIGTERM through a self-pipe that
// the loop watches, so the reactor reacts on its own thread, outside signal context.
#pragma once

#include <csignal>

#include "torsion/core/function.hpp"
#include "torsion/core/reactor.hpp"

namespace torsion::detail {

class SignalHandling final : public IReadDescriptor {
 public:
  // `onSignal(signo)` runs on the reactor thread for each signal received.
  explicit SignalHandling(UniqueFunction<void(int)> onSignal);
  ~SignalHandling() override;  // uninstalls
  SignalHandling(const SignalHandling&) = delete;
  SignalHandling& operator=(const SignalHandling&) = delete;

  // Installs the handlers (SIGINT only if its handler is SIG_DFL). Returns false, doing
  // nothing, if another SignalHandling of this process is installed.
  bool install();
  // Restores the handlers that were there before install().
  void uninstall() noexcept;
  bool installed() const noexcept { return installed_; }

  int fileno() const override { return readFd_; }
  void doRead() override;

 private:
  UniqueFunction<void(int)> onSignal_;
  int readFd_ = -1;
  int writeFd_ = -1;
  bool installed_ = false;
  bool haveInt_ = false;
  struct sigaction oldInt_ {};
  struct sigaction oldTerm_ {};
};

}  // namespace torsion::detail
