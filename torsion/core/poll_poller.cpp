// The poll(2) poller: the portable fallback. Keeps a dense pollfd array (O(1) update through
// an fd -> slot index), so adding and removing descriptors does not scan.
#include <poll.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "torsion/core/poller.hpp"

namespace torsion::detail {
namespace {

class PollPoller final : public Poller {
 public:
  void update(int fd, bool read, bool write) override {
    if (static_cast<std::size_t>(fd) >= slot_.size()) slot_.resize(fd + 1, -1);
    const short events = static_cast<short>((read ? POLLIN : 0) | (write ? POLLOUT : 0));
    int& slot = slot_[fd];
    if (events == 0) {
      if (slot < 0) return;
      // Move the last entry into the freed slot.
      const int last = static_cast<int>(fds_.size()) - 1;
      if (slot != last) {
        fds_[slot] = fds_[last];
        slot_[fds_[slot].fd] = slot;
      }
      fds_.pop_back();
      slot = -1;
      return;
    }
    if (slot < 0) {
      slot = static_cast<int>(fds_.size());
      fds_.push_back(pollfd{fd, events, 0});
    } else {
      fds_[slot].events = events;
    }
  }

  int wait(int timeoutMs, PollEvent* events, int max) override {
    int n = ::poll(fds_.data(), fds_.size(), timeoutMs);
    if (n < 0) {
      if (errno == EINTR) return 0;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    int out = 0;
    for (std::size_t i = 0; i < fds_.size() && out < n && out < max; ++i) {
      const short r = fds_[i].revents;
      if (r == 0) continue;
      events[out].fd = fds_[i].fd;
      events[out].readable = (r & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0;
      events[out].writable = (r & (POLLOUT | POLLERR)) != 0;
      ++out;
    }
    return out;
  }

  const char* name() const noexcept override { return "poll"; }

 private:
  std::vector<pollfd> fds_;
  std::vector<int> slot_;  // fd -> index in fds_, or -1
};

}  // namespace

std::unique_ptr<Poller> makePollPoller() { return std::make_unique<PollPoller>(); }

std::unique_ptr<Poller> makePoller(std::string_view name) {
  if (name == "epoll") return makeEpollPoller();
  if (name == "poll") return makePollPoller();
  throw std::invalid_argument("unknown reactor poller '" + std::string(name) +
                              "' (expected epoll or poll)");
}

}  // namespace torsion::detail
