// The epoll poller: the default on Linux. Level-triggered, one epoll_ctl per interest change.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "torsion/core/poller.hpp"

namespace torsion::detail {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }
  ~EpollPoller() override { ::close(epfd_); }

  void update(int fd, bool read, bool write) override {
    if (static_cast<std::size_t>(fd) >= registered_.size()) registered_.resize(fd + 1, false);
    epoll_event ev{};
    ev.events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    int op;
    if (!read && !write) {
      if (!registered_[fd]) return;
      op = EPOLL_CTL_DEL;
      registered_[fd] = false;
    } else {
      op = registered_[fd] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
      registered_[fd] = true;
    }
    if (::epoll_ctl(epfd_, op, fd, &ev) < 0) {
      // A descriptor closed before being removed is already gone from the epoll set.
      if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)) return;
      const int err = errno;
      if (op != EPOLL_CTL_DEL) registered_[fd] = false;
      throw std::system_error(err, std::generic_category(), "epoll_ctl");
    }
  }

  int wait(int timeoutMs, PollEvent* events, int max) override {
    if (buffer_.size() < static_cast<std::size_t>(max)) buffer_.resize(max);
    int n = ::epoll_wait(epfd_, buffer_.data(), max, timeoutMs);
    if (n < 0) {
      if (errno == EINTR) return 0;
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const auto e = buffer_[i].events;
      events[i].fd = buffer_[i].data.fd;
      events[i].readable = (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
      events[i].writable = (e & (EPOLLOUT | EPOLLERR)) != 0;
    }
    return n;
  }

  const char* name() const noexcept override { return "epoll"; }

 private:
  int epfd_;
  std::vector<bool> registered_;
  std::vector<epoll_event> buffer_;
};

}  // namespace

std::unique_ptr<Poller> makeEpollPoller() { return std::make_unique<EpollPoller>(); }

}  // namespace torsion::detail
