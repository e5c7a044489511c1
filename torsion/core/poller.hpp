// The pollers behind the Reactor: one small internal interface, one file per backend
// (epoll_poller.cpp, poll_poller.cpp), chosen at run time. Internal to torsion/core.
#pragma once

#include <memory>
#include <string_view>

namespace torsion::detail {

struct PollEvent {
  int fd;
  bool readable;  // readable, or an error / hang-up to report through a read
  bool writable;
};

class Poller {
 public:
  virtual ~Poller() = default;
  // Sets the interest for fd; both false removes it. Level-triggered.
  virtual void update(int fd, bool read, bool write) = 0;
  // Waits up to timeoutMs (-1: forever, 0: don't block) and fills up to max events;
  // returns their number (0 on timeout or EINTR).
  virtual int wait(int timeoutMs, PollEvent* events, int max) = 0;
  virtual const char* name() const noexcept = 0;
};

std::unique_ptr<Poller> makeEpollPoller();
std::unique_ptr<Poller> makePollPoller();
// "epoll" or "poll"; throws std::invalid_argument naming anything else.
std::unique_ptr<Poller> makePoller(std::string_view name);

}  // namespace torsion::detail
