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
 *                                   both ways with poll and read/write on 64 KiB (what an
 *                                   event loop's relay does) or, with "splice", move the bytes
 *                                   through a pipe with splice(2) without copying them to user
 *                                   space; half-close is passed on; one connection at a time
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

/* One direction of the reference relay. Returns 0 on EOF (passed on as a half-close), 1 when
 * bytes moved, -1 on an error. */
static int copy_once(int from, int to, int pipefd[2], int use_splice) {
  static char buf[64 * 1024];
  if (use_splice) {
    ssize_t n = splice(from, NULL, pipefd[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) return errno == EAGAIN ? 1 : -1;
    if (n == 0) {
      shutdown(to, SHUT_WR);
      return 0;
    }
    while (n > 0) {
      ssize_t w = splice(pipefd[0], NULL, to, NULL, (size_t)n, SPLICE_F_MOVE);
      if (w <= 0) return -1;
      n -= w;
    }
    return 1;
  }
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN ? 1 : -1;
  if (n == 0) {
    shutdown(to, SHUT_WR);
    return 0;
  }
  return write_all(to, buf, (size_t)n) == 0 ? 1 : -1;
}

static void relay(int port, int dest, int use_splice) {
  int lfd = listen_on(port);
  int pipes[2][2];
  for (int i = 0; i < 2; ++i) {
    if (pipe(pipes[i]) != 0) die("pipe");
    fcntl(pipes[i][1], F_SETPIPE_SZ, 1 << 20);
  }
  for (;;) {
    int a = accept(lfd, NULL, NULL);
    if (a < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    nodelay(a);
    int b = connect_to(dest);
    struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    int open[2] = {1, 1};
    while (open[0] || open[1]) {
      if (poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      int failed = 0;
      for (int i = 0; i < 2; ++i) {
        if (open[i] && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
          int r = copy_once(p[i].fd, p[1 - i].fd, pipes[i], use_splice);
          if (r < 0) failed = 1;
          if (r == 0) {
            open[i] = 0;
            p[i].fd = -1;
          }
        }
      }
      if (failed) break;
    }
    close(a);
    close(b);
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
