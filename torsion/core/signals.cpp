#include "torsion/core/signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

namespace torsion::detail {
namespace {

// The write end of the installed SignalHandling's pipe, for the async-signal-safe handler.
std::atomic<int> gSignalPipe{-1};

extern "C" void torsionSignalHandler(int signo) {
  const int saved = errno;
  const int fd = gSignalPipe.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(signo);
    [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);  // a full pipe drops the signal
  }
  errno = saved;
}

}  // namespace

SignalHandling::SignalHandling(UniqueFunction<void(int)> onSignal)
    : onSignal_(std::move(onSignal)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  readFd_ = fds[0];
  writeFd_ = fds[1];
}

SignalHandling::~SignalHandling() {
  uninstall();
  ::close(readFd_);
  ::close(writeFd_);
}

bool SignalHandling::install() {
  if (installed_) return true;
  int expected = -1;
  if (!gSignalPipe.compare_exchange_strong(expected, writeFd_)) return false;
  struct sigaction sa {};
  sa.sa_handler = torsionSignalHandler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  // SIGINT only if nobody (a debugger, the embedding program) took it already.
  struct sigaction current {};
  ::sigaction(SIGINT, nullptr, &current);
  haveInt_ = current.sa_handler == SIG_DFL;
  if (haveInt_) ::sigaction(SIGINT, &sa, &oldInt_);
  ::sigaction(SIGTERM, &sa, &oldTerm_);
  installed_ = true;
  return true;
}

void SignalHandling::uninstall() noexcept {
  if (!installed_) return;
  if (haveInt_) ::sigaction(SIGINT, &oldInt_, nullptr);
  ::sigaction(SIGTERM, &oldTerm_, nullptr);
  gSignalPipe.store(-1);
  installed_ = false;
}

void SignalHandling::doRead() {
  unsigned char buf[64];
  for (;;) {
    ssize_t n = ::read(readFd_, buf, sizeof buf);
    if (n <= 0) return;  // EAGAIN: drained
    for (ssize_t i = 0; i < n; ++i) onSignal_(buf[i]);
  }
}

}  // namespace torsion::detail
