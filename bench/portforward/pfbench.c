/* pfbench: the load and the targets for bench/portforward/run.
 *
 *   pfbench sink PORT               accept on 127.0.0.1:PORT; read and drop until EOF, close
 *   pfbench echo PORT               accept on 127.0.0.1:PORT; send back what arrives until EOF
 *   pfbench push PORT BYTES [WRITE] connect, write BYTES in WRITE-byte writes (256 KiB), shut
 *                                   down the sending side and wait for the peer's EOF: the
 *                                   sink has read every byte by then; prints seconds and GB/s
 *   pfbench pingpong PORT N [SIZE]  connect, N round trips of SIZE bytes (64) one at a time;
 *                                   prints the median, p99 and mean round trip in us
 *   pfbench relay PORT DEST [splice]
 *                                   a reference relay: accept on PORT, connect to DEST, copy
 *                                   both ways, non-blocking with poll, read/write on 64 KiB
 *                                   (what an event loop's relay does) or, with "splice", move
 *                                   the bytes through a pipe with splice(2) without copying
 *                                   them to user space; backpressure both ways, half-close
 *                                   passed on; one connection at a time
 *
 * Targets serve one connection at a time, each with blocking calls on big buffers, so a
 * single stream is never waiting on them: one read or write moves up to 1 MiB. The benchmark
 * runs one connection at a time. Everything is on 127.0.0.1. Output is one line of
 * key=value pairs for the driver.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG (1 << 20)

static void die(const char* what) {
  perror(what);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = loopback(port);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0) die("bind");
  if (listen(fd, 64) != 0) die("listen");
  return fd;
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in a = loopback(port);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) die("connect");
  nodelay(fd);
  return fd;
}

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void serve(int port, int echo) {
  static char buf[BIG];
  int lfd = listen_on(port);
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    nodelay(fd);
    for (;;) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      if (echo && write_all(fd, buf, (size_t)r) != 0) break;
    }
    close(fd);
  }
}

static void push(int port, uint64_t bytes, size_t chunk) {
  static char buf[BIG];
  if (chunk == 0 || chunk > sizeof buf) chunk = sizeof buf;
  for (size_t i = 0; i < sizeof buf; ++i) buf[i] = (char)(i * 131 + 7);
  double t0 = now();
  int fd = connect_to(port);
  uint64_t left = bytes;
  while (left > 0) {
    size_t n = left < chunk ? (size_t)left : chunk;
    if (write_all(fd, buf, n) != 0) die("write");
    left -= n;
  }
  shutdown(fd, SHUT_WR);
  /* The sink closes once it has read everything; the peer's EOF is that moment. */
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
  }
  double secs = now() - t0;
  close(fd);
  printf("bytes=%llu seconds=%.6f gbps=%.4f\n", (unsigned long long)bytes, secs,
         (double)bytes / secs / 1e9);
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static void pingpong(int port, int n, size_t size) {
  char* msg = malloc(size);
  char* back = malloc(size);
  double* rtt = malloc(sizeof(double) * (size_t)n);
  if (!msg || !back || !rtt) die("malloc");
  memset(msg, 'p', size);
  int fd = connect_to(port);
  /* A few unmeasured exchanges first: the relay's outgoing connection is made lazily. */
  for (int i = -100; i < n; ++i) {
    double t0 = now();
    if (write_all(fd, msg, size) != 0) die("write");
    size_t got = 0;
    while (got < size) {
      ssize_t r = read(fd, back + got, size - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        fprintf(stderr, "pingpong: connection closed after %d round trips\n", i);
        exit(1);
      }
      got += (size_t)r;
    }
    if (i >= 0) rtt[i] = (now() - t0) * 1e6;
  }
  close(fd);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += rtt[i];
  qsort(rtt, (size_t)n, sizeof(double), cmp_double);
  printf("count=%d size=%zu p50_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f\n", n, size,
         rtt[n / 2], rtt[(int)((double)n * 0.99)], sum / n, rtt[0]);
  free(msg);
  free(back);
  free(rtt);
}

/* One direction of the reference relay: bytes read from `from` wait in `buf` (or, with
 * splice, in the pipe) until `to` takes them; nothing more is read while some wait, so the
 * relay holds at most one buffer per direction and a slow side pauses the other. */
struct direction {
  int from, to;
  int pipefd[2];
  char buf[64 * 1024];
  size_t off, pending;
  int eof, shut;
};

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Writes what is pending without blocking. Returns -1 on an error. */
static int flush_direction(struct direction* d, int use_splice) {
  while (d->pending > 0) {
    ssize_t w = use_splice ? splice(d->pipefd[0], NULL, d->to, NULL, d->pending,
                                    SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                           : write(d->to, d->buf + d->off, d->pending);
    if (w < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    d->off += (size_t)w;
    d->pending -= (size_t)w;
  }
  d->off = 0;
  if (d->eof && !d->shut) {
    shutdown(d->to, SHUT_WR); /* the half-close passes on once every byte has */
    d->shut = 1;
  }
  return 0;
}

/* Reads and forwards at most 8 times per readiness, as an event loop does. */
static int pump_direction(struct direction* d, int use_splice) {
  for (int i = 0; i < 8 && d->pending == 0 && !d->eof; ++i) {
    ssize_t n = use_splice ? splice(d->from, NULL, d->pipefd[1], NULL, 1 << 20,
                                    SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
                           : read(d->from, d->buf, sizeof d->buf);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) d->eof = 1;
    d->pending = (size_t)n;
    if (flush_direction(d, use_splice) != 0) return -1;
  }
  return 0;
}

static void relay(int port, int dest, int use_splice) {
  static struct direction dirs[2];
  int lfd = listen_on(port);
  for (int i = 0; i < 2; ++i) {
    if (pipe(dirs[i].pipefd) != 0) die("pipe");
    fcntl(dirs[i].pipefd[1], F_SETPIPE_SZ, 1 << 20);
  }
  for (;;) {
    int a = accept(lfd, NULL, NULL);
    if (a < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    nodelay(a);
    int b = connect_to(dest);
    set_nonblocking(a);
    set_nonblocking(b);
    dirs[0].from = a, dirs[0].to = b;
    dirs[1].from = b, dirs[1].to = a;
    for (int i = 0; i < 2; ++i) dirs[i].off = dirs[i].pending = 0, dirs[i].eof = dirs[i].shut = 0;
    int failed = 0;
    while (!failed && !(dirs[0].shut && dirs[1].shut)) {
      /* p[0] is socket a, p[1] socket b: direction i reads p[i] and writes p[1 - i]. */
      struct pollfd p[2] = {{a, 0, 0}, {b, 0, 0}};
      for (int i = 0; i < 2; ++i) {
        if (!dirs[i].eof && dirs[i].pending == 0) p[i].events |= POLLIN;
        if (dirs[i].pending > 0) p[1 - i].events |= POLLOUT;
      }
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2 && !failed; ++i) {
        if (p[1 - i].revents & (POLLOUT | POLLERR | POLLHUP))
          failed = flush_direction(&dirs[i], use_splice) != 0;
        if (!failed && (p[i].revents & (POLLIN | POLLHUP | POLLERR)))
          failed = pump_direction(&dirs[i], use_splice) != 0;
      }
    }
    close(a);
    close(b);
    if (use_splice) { /* drop what a failed connection left in the pipes */
      for (int i = 0; i < 2; ++i) {
        static char drain[65536];
        set_nonblocking(dirs[i].pipefd[0]);
        while (read(dirs[i].pipefd[0], drain, sizeof drain) > 0) {
        }
      }
    }
  }
}

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 3 && strcmp(argv[1], "sink") == 0) {
    serve(atoi(argv[2]), 0);
  } else if (argc >= 3 && strcmp(argv[1], "echo") == 0) {
    serve(atoi(argv[2]), 1);
  } else if (argc >= 4 && strcmp(argv[1], "push") == 0) {
    push(atoi(argv[2]), strtoull(argv[3], NULL, 10),
         argc >= 5 ? (size_t)strtoull(argv[4], NULL, 10) : 256 * 1024);
  } else if (argc >= 4 && strcmp(argv[1], "pingpong") == 0) {
    pingpong(atoi(argv[2]), atoi(argv[3]), argc >= 5 ? (size_t)atoi(argv[4]) : 64);
  } else if (argc >= 4 && strcmp(argv[1], "relay") == 0) {
    relay(atoi(argv[2]), atoi(argv[3]), argc >= 5 && strcmp(argv[4], "splice") == 0);
  } else {
    fprintf(stderr,
            "usage: pfbench sink|echo PORT | push PORT BYTES [WRITE] | pingpong PORT N [SIZE]"
            " | relay PORT DEST [splice]\n");
    return 2;
  }
  return 0;
}
