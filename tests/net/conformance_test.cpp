// One transport conformance suite, run against every stream transport: TCP over 127.0.0.1 and
// Unix sockets on a real reactor. Each behaviour is written once against the Driver below.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "net/net_helpers.hpp"
#include "torsion/testing/log_capture.hpp"
#include "torsion/testing/loopback.hpp"

namespace torsion::test {
namespace {

// How a test reaches a transport: listen with a server factory, connect a client factory, and
// run the loop until something holds.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual const char* name() const = 0;
  virtual void listen(std::shared_ptr<Factory> server) = 0;
  virtual void connect(std::shared_ptr<ClientFactory> client) = 0;
  // Runs until pred() holds (bounded); returns pred().
  virtual bool until(const std::function<bool()>& pred, int cap = 4000) = 0;
  // A raw socket connected to the listener (for the many-connections test's child process).
  virtual int rawConnect() const = 0;
  // True for a transport without sockets (everything stays in this process).
  virtual bool inMemory() const { return false; }
};

// The in-memory loopback of torsion/testing: each connect() makes a pair joined by an IOPump.
class LoopbackDriver : public Driver {
 public:
  const char* name() const override { return "loopback"; }
  void listen(std::shared_ptr<Factory> server) override { server_ = std::move(server); }
  void connect(std::shared_ptr<ClientFactory> client) override {
    std::unique_ptr<Protocol> p = client->buildProtocol(Address::ip("127.0.0.1", 12345));
    pumps_.push_back(
        std::make_unique<testing::IOPump>(testing::connect(server_, std::move(p), {})));
  }
  bool until(const std::function<bool()>& pred, int cap) override {
    for (int i = 0; i < cap && !pred(); ++i) {
      bool moved = false;
      for (auto& p : pumps_) moved = p->pump() || moved;
      if (!moved && pred()) break;
    }
    return pred();
  }
  int rawConnect() const override { return -1; }
  bool inMemory() const override { return true; }

 private:
  std::shared_ptr<Factory> server_;
  std::vector<std::unique_ptr<testing::IOPump>> pumps_;
};

class SocketDriver : public Driver {
 public:
  explicit SocketDriver(bool unix) : unix_(unix) {
    if (unix_) {
      dir_ = std::filesystem::temp_directory_path() /
             ("torsion-conf-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
      std::filesystem::create_directories(dir_);
      path_ = (dir_ / "s").string();
    }
  }
  ~SocketDriver() override {
    port_.reset();
    if (unix_) std::filesystem::remove_all(dir_);
  }
  const char* name() const override { return unix_ ? "unix" : "tcp"; }
  void listen(std::shared_ptr<Factory> server) override {
    if (unix_) {
      port_ = net_.listenUNIX(path_, std::move(server), UNIXListenOptions{.backlog = 4096});
    } else {
      port_ = net_.listenTCP(0, std::move(server),
                             TCPListenOptions{.backlog = 4096, .interface = "127.0.0.1"});
    }
  }
  void connect(std::shared_ptr<ClientFactory> client) override {
    if (unix_) {
      net_.connectUNIX(path_, std::move(client));
    } else {
      net_.connectTCP("127.0.0.1", port_->getHost().port(), std::move(client));
    }
  }
  bool until(const std::function<bool()>& pred, int cap) override {
    return spinUntil(reactor_, pred, cap);
  }
  int rawConnect() const override {
    const int fd = ::socket(unix_ ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss;
    const socklen_t len = port_->getHost().toSockaddr(ss);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  Reactor& reactor() { return reactor_; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  bool unix_;
  Reactor reactor_{quietOptions()};
  IReactorNet& net_ = network(reactor_);
  std::shared_ptr<IListeningPort> port_;
  std::filesystem::path dir_;
  std::string path_;
};

using MakeDriver = std::function<std::unique_ptr<Driver>()>;

struct Conformance : ::testing::TestWithParam<std::pair<const char*, MakeDriver>> {
  std::unique_ptr<Driver> d = GetParam().second();
  std::shared_ptr<Collecting<>> server = std::make_shared<Collecting<>>();
  std::shared_ptr<Collecting<>> client = std::make_shared<Collecting<>>();

  void pair() {
    d->listen(server);
    d->connect(client);
    ASSERT_TRUE(d->until([&] {
      return client->built.size() == 1 && c().made && server->built.size() == 1 && s().made;
    }));
  }
  Record& s() { return *server->built.at(0); }
  Record& c() { return *client->built.at(0); }
};

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string randomBytes(std::size_t n, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    const std::uint64_t v = gen();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

TEST_P(Conformance, writesArriveInOrder) {
  pair();
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    std::string piece(static_cast<std::size_t>(1 + (i * 7919) % 70000),
                      static_cast<char>('a' + i % 26));
    expected += piece;
    if (i % 3 == 0) {
      const std::string_view whole(piece);
      const std::string_view parts[] = {whole.substr(0, whole.size() / 2),
                                        whole.substr(whole.size() / 2)};
      c().transport->writeSequence(parts);
    } else {
      c().transport->write(piece);
    }
  }
  ASSERT_TRUE(d->until([&] { return s().received.size() >= expected.size(); }));
  EXPECT_TRUE(s().received == expected);
}

TEST_P(Conformance, hundredMegabytesWrittenBeforeLoseConnectionAllArrive) {
  pair();
  const std::string payload = randomBytes(100 * 1000 * 1000, 42);
  const std::string digest = sha256(payload);
  s().transport->write(payload);
  s().transport->loseConnection();
  ASSERT_TRUE(d->until([&] { return c().lost && s().lost; }, 20000));
  EXPECT_EQ(c().received.size(), payload.size());
  EXPECT_EQ(sha256(c().received), digest);
  EXPECT_TRUE(c().reason->check<ConnectionDone>());
  EXPECT_TRUE(s().reason->check<ConnectionDone>());
}

TEST_P(Conformance, abortDropsTheBufferAndTheReasonsDiffer) {
  pair();
  s().transport->write(std::string(64 * 1024 * 1024, 'x'));
  s().transport->abortConnection();
  ASSERT_TRUE(d->until([&] { return c().lost && s().lost; }));
  EXPECT_TRUE(s().reason->check<ConnectionAborted>());
  // TCP peers see the RST as ConnectionLost; Unix sockets have no RST, so their peer sees the
  // end of the stream.
  EXPECT_TRUE((c().reason->check<ConnectionLost, ConnectionDone>()));
  EXPECT_FALSE(c().reason->check<ConnectionAborted>());
  EXPECT_LT(c().received.size(), 64u * 1024 * 1024);
}

struct HalfCloseEcho : Recorder, IHalfCloseableProtocol {
  void readConnectionLost() override {
    rec->readLost = true;
    transport->write("got:" + rec->received);
    transport->loseConnection();
  }
  void writeConnectionLost() override { rec->writeLost = true; }
};

TEST_P(Conformance, halfCloseKeepsTheOtherDirectionOpen) {
  auto hs = std::make_shared<Collecting<HalfCloseEcho>>();
  d->listen(hs);
  d->connect(client);
  ASSERT_TRUE(d->until([&] { return client->built.size() == 1 && c().made; }));
  c().transport->write("question");
  c().transport->loseWriteConnection();
  ASSERT_TRUE(d->until([&] { return c().lost; }));
  EXPECT_EQ(c().received, "got:question");
  EXPECT_TRUE(hs->built.at(0)->readLost);
}

struct Pusher : IProducer {
  ITransport* t = nullptr;
  bool paused = false;
  bool stopped = false;
  std::size_t written = 0;
  std::size_t maxBuffered = 0;
  void pump(std::size_t limit) {
    while (!paused && !stopped && written < limit) {
      t->write(std::string(16 * 1024, 'p'));
      written += 16 * 1024;
      maxBuffered = std::max(maxBuffered, t->bufferedBytes());
    }
  }
  void pauseProducing() override { paused = true; }
  void resumeProducing() override { paused = false; }
  void stopProducing() override { stopped = true; }
};

TEST_P(Conformance, aSlowReaderDoesNotGrowTheSendersMemory) {
  pair();
  c().transport->pauseProducing();
  Pusher p;
  p.t = s().transport;
  s().transport->registerProducer(p, true);
  for (int round = 0; round < 50; ++round) {
    p.pump(std::size_t{1} << 30);
    d->until([] { return false; }, 1);
  }
  EXPECT_TRUE(p.paused);
  // The water mark (64 KiB) plus one write.
  EXPECT_LE(p.maxBuffered, 64u * 1024 + 16 * 1024);
  c().transport->resumeProducing();
  ASSERT_TRUE(d->until([&] { return !p.paused; }));
  s().transport->unregisterProducer();
  s().transport->loseConnection();
  ASSERT_TRUE(d->until([&] { return c().lost; }, 20000));
  EXPECT_EQ(c().received.size(), p.written);
}

TEST_P(Conformance, producersAreStoppedWhenTheConnectionGoes) {
  pair();
  Pusher p;
  p.t = s().transport;
  s().transport->registerProducer(p, true);
  c().transport->loseConnection();
  ASSERT_TRUE(d->until([&] { return s().lost; }));
  EXPECT_TRUE(p.stopped);
}

// 10,000 connections at once: a child process opens them (the descriptors of both ends would
// not fit one process's limit), sends one line on each and waits for each echo; the server here
// echoes and counts.
TEST_P(Conformance, tenThousandConcurrentConnections) {
  constexpr int kConnections = 10000;
  auto echo = std::make_shared<Collecting<>>();
  int echoed = 0;
  int open = 0;
  int maxOpen = 0;
  echo->setup = [&](Record& r) {
    r.onMade = [&](Record&) { maxOpen = std::max(maxOpen, ++open); };
    r.onData = [&](Record& rec, std::string_view data) {
      rec.transport->write(data);
      ++echoed;
    };
    r.onLost = [&](Record&) { --open; };
  };
  d->listen(echo);
  if (d->inMemory()) {
    // No descriptors involved: the clients live in this process too.
    auto clients = std::make_shared<Collecting<>>();
    int answered = 0;
    clients->setup = [&](Record& r) {
      r.onMade = [](Record& rec) { rec.transport->write("ping\n"); };
      r.onData = [&](Record& rec, std::string_view) {
        if (rec.received.size() == 5) ++answered;
      };
    };
    for (int i = 0; i < kConnections; ++i) d->connect(clients);
    ASSERT_TRUE(d->until([&] { return answered == kConnections; }, 100));
    EXPECT_EQ(maxOpen, kConnections);
    for (auto& r : clients->built) r->transport->loseConnection();
    ASSERT_TRUE(d->until([&] { return open == 0; }, 100));
    EXPECT_EQ(echoed, kConnections);
    return;
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(120);  // a broken test must not leave this behind
    std::vector<int> fds;
    for (int i = 0; i < kConnections; ++i) {
      const int fd = d->rawConnect();
      if (fd < 0) ::_exit(3);
      fds.push_back(fd);
    }
    // Every connection is open now; talk on each.
    for (int fd : fds) {
      if (::write(fd, "ping\n", 5) != 5) ::_exit(4);
    }
    for (int fd : fds) {
      char buf[8];
      std::size_t got = 0;
      while (got < 5) {
        const ssize_t n = ::read(fd, buf + got, 5 - got);
        if (n <= 0) ::_exit(5);
        got += static_cast<std::size_t>(n);
      }
    }
    for (int fd : fds) ::close(fd);
    ::_exit(0);
  }
  auto* socketDriver = dynamic_cast<SocketDriver*>(d.get());
  int status = -1;
  const bool done = d->until(
      [&] {
        if (status == -1) {
          int st = 0;
          if (::waitpid(child, &st, WNOHANG) == child) status = st;
        }
        return status != -1 && open == 0 && echoed == kConnections;
      },
      100000);
  if (status == -1) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  (void)socketDriver;
  ASSERT_TRUE(done) << "echoed " << echoed << " open " << open;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_EQ(maxOpen, kConnections);
}

INSTANTIATE_TEST_SUITE_P(
    Transports, Conformance,
    ::testing::Values(
        std::make_pair("tcp", MakeDriver([] { return std::make_unique<SocketDriver>(false); })),
        std::make_pair("unix", MakeDriver([] { return std::make_unique<SocketDriver>(true); })),
        std::make_pair("loopback", MakeDriver([] { return std::make_unique<LoopbackDriver>(); }))),
    [](const auto& info) { return std::string(info.param.first); });

}  // namespace
}  // namespace torsion::test
