// ISendFileTransport on the real TCP and Unix stream connections: file ranges go out in order
// with write()s, only when the write buffer is empty, and cost no buffer memory however slowly
// the peer reads.
#include "torsion/net/sendfile.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "net/net_helpers.hpp"

namespace torsion::test {
namespace {

// A pull producer that sends [offset, offset + remaining) of `fd` through sendFile().
struct RangeSender : IProducer {
  ITransport* transport = nullptr;
  int fd = -1;
  std::uint64_t offset = 0;
  std::size_t remaining = 0;
  int resumes = 0;
  int error = 0;
  bool stopped = false;
  bool done = false;
  std::size_t maxBuffered = 0;  // the transport's buffer, seen at each resume
  std::function<void()> onDone;

  void resumeProducing() override {
    ++resumes;
    maxBuffered = std::max(maxBuffered, transport->bufferedBytes());
    auto& sf = dynamic_cast<ISendFileTransport&>(*transport);
    SendFileResult r = sf.sendFile(fd, offset, remaining);
    offset += r.sent;
    remaining -= r.sent;
    if (r.error != 0) {
      error = r.error;
      transport->unregisterProducer();
      return;
    }
    if (remaining == 0) {
      done = true;
      transport->unregisterProducer();
      if (onDone) onDone();
    }
  }
  void stopProducing() override { stopped = true; }
};

// A file of `size` bytes of a pattern that does not repeat every 256 bytes.
std::string patternOf(std::size_t size) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>(i * 131 + i / 65536);
  }
  return data;
}

class FileFd {
 public:
  FileFd(const std::string& path, const std::string& data) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("open failed");
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
      if (n <= 0) throw std::runtime_error("write failed");
      done += static_cast<std::size_t>(n);
    }
  }
  ~FileFd() { ::close(fd_); }
  FileFd(const FileFd&) = delete;
  FileFd& operator=(const FileFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Parameter: "tcp" or "unix".
struct SendFile : ::testing::TestWithParam<const char*> {
  Reactor reactor{quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<Collecting<>> server = std::make_shared<Collecting<>>();
  std::shared_ptr<Collecting<>> client = std::make_shared<Collecting<>>();
  std::shared_ptr<IListeningPort> port;
  TempDir dir;

  void SetUp() override {
    if (std::string_view(GetParam()) == "tcp") {
      port = net.listenTCP(0, server, TCPListenOptions{.interface = "127.0.0.1"});
      net.connectTCP("127.0.0.1", port->getHost().port(), client);
    } else {
      port = net.listenUNIX(dir.file("s"), server);
      net.connectUNIX(dir.file("s"), client);
    }
    ASSERT_TRUE(spinUntil(reactor, [&] {
      return client->built.size() == 1 && client->built[0]->made && server->built.size() == 1 &&
             server->built[0]->made;
    }));
  }
  Record& s() { return *server->built.at(0); }
  Record& c() { return *client->built.at(0); }
  ISendFileTransport& sf() { return dynamic_cast<ISendFileTransport&>(*s().transport); }
};

TEST_P(SendFile, streamConnectionsOfferIt) {
  EXPECT_NE(dynamic_cast<ISendFileTransport*>(s().transport), nullptr);
  EXPECT_NE(dynamic_cast<ISendFileTransport*>(c().transport), nullptr);
}

TEST_P(SendFile, sendsARangeInOrderBetweenWrites) {
  const std::string data = patternOf(300 * 1000);
  FileFd file(dir.file("f"), data);
  RangeSender sender;
  sender.transport = s().transport;
  sender.fd = file.get();
  sender.offset = 1234;
  sender.remaining = 250 * 1000;
  sender.onDone = [&] {
    s().transport->write(":tail");
    s().transport->loseConnection();
  };
  s().transport->write("head:");
  s().transport->registerProducer(sender, false);
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  EXPECT_TRUE(sender.done);
  EXPECT_EQ(sender.error, 0);
  EXPECT_TRUE(c().received == "head:" + data.substr(1234, 250 * 1000) + ":tail");
  // The descriptor's own position is untouched (sendfile with an offset).
  EXPECT_EQ(::lseek(file.get(), 0, SEEK_CUR), static_cast<off_t>(data.size()));
}

TEST_P(SendFile, sendsNothingWhileEarlierBytesAreQueuedThenFollowsThem) {
  const std::string data = patternOf(100 * 1000);
  FileFd file(dir.file("f"), data);
  c().transport->pauseProducing();  // the client stops reading: the server's buffer fills
  const std::string queued = patternOf(16 * 1024 * 1024);
  s().transport->write(queued);
  ASSERT_GT(s().transport->bufferedBytes(), 0u);
  SendFileResult r = sf().sendFile(file.get(), 0, data.size());
  EXPECT_EQ(r.sent, 0u);
  EXPECT_EQ(r.error, 0);

  RangeSender sender;
  sender.transport = s().transport;
  sender.fd = file.get();
  sender.remaining = data.size();
  sender.onDone = [&] { s().transport->loseConnection(); };
  s().transport->registerProducer(sender, false);
  EXPECT_FALSE(sender.done);
  c().transport->resumeProducing();
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  EXPECT_TRUE(sender.done);
  EXPECT_TRUE(c().received == queued + data);
}

TEST_P(SendFile, aSlowReaderCostsNoBufferAndGetsEveryByte) {
  const std::string data = patternOf(32 * 1024 * 1024);
  FileFd file(dir.file("f"), data);
  c().transport->pauseProducing();
  RangeSender sender;
  sender.transport = s().transport;
  sender.fd = file.get();
  sender.remaining = data.size();
  sender.onDone = [&] { s().transport->loseConnection(); };
  s().transport->registerProducer(sender, false);
  // The kernel's buffers fill, then the producer waits; nothing is copied into the transport.
  for (int i = 0; i < 50; ++i) {
    reactor.iterate(Seconds(0.01));
    EXPECT_EQ(s().transport->bufferedBytes(), 0u);
  }
  EXPECT_FALSE(sender.done);
  EXPECT_GT(sender.remaining, 0u);
  c().transport->resumeProducing();
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return c().lost; }, 4000));
  EXPECT_TRUE(sender.done);
  EXPECT_EQ(sender.maxBuffered, 0u);
  ASSERT_EQ(c().received.size(), data.size());
  EXPECT_TRUE(c().received == data);
}

TEST_P(SendFile, reportsAFileThatEndsBeforeTheRange) {
  FileFd file(dir.file("f"), "short");
  SendFileResult r = sf().sendFile(file.get(), 5, 10);
  EXPECT_EQ(r.sent, 0u);
  EXPECT_EQ(r.error, ENODATA);
  // A range that starts inside the file sends what there is; the next call finds the end.
  r = sf().sendFile(file.get(), 2, 10);
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.error, 0);
  s().transport->loseConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  EXPECT_EQ(c().received, "ort");
}

TEST_P(SendFile, refusesADescriptorItCannotSend) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  ASSERT_EQ(::write(pair[1], "abc", 3), 3);
  SendFileResult r = sf().sendFile(pair[0], 0, 3);
  EXPECT_EQ(r.sent, 0u);
  EXPECT_TRUE(r.error == ESPIPE || r.error == EINVAL) << r.error;  // a socket has no offsets
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST_P(SendFile, sendsNothingOnceTheConnectionIsAborted) {
  FileFd file(dir.file("f"), "content");
  s().transport->abortConnection();
  SendFileResult r = sf().sendFile(file.get(), 0, 7);
  EXPECT_EQ(r.sent, 0u);
  EXPECT_EQ(r.error, 0);
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost && s().lost; }));
  EXPECT_EQ(c().received, "");
}

TEST_P(SendFile, aProducerStillSendingGetsStopProducingWhenThePeerGoes) {
  const std::string data = patternOf(16 * 1024 * 1024);
  FileFd file(dir.file("f"), data);
  c().transport->pauseProducing();
  RangeSender sender;
  sender.transport = s().transport;
  sender.fd = file.get();
  sender.remaining = data.size();
  s().transport->registerProducer(sender, false);
  c().transport->abortConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return s().lost; }));
  EXPECT_TRUE(sender.stopped);
  EXPECT_FALSE(sender.done);
}

INSTANTIATE_TEST_SUITE_P(Streams, SendFile, ::testing::Values("tcp", "unix"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace torsion::test
