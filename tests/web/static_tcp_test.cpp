// static.File over real TCP on 127.0.0.1: a 50 MB file arrives intact (SHA-256) with sendfile
// and with pread, and a client that stops reading costs the server at most one chunk of
// buffer.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "net/net_helpers.hpp"
#include "torsion/web/static.hpp"
#include "web/static_support.hpp"

namespace torsion::web::test {
namespace {

using torsion::test::Collecting;
using torsion::test::quietOptions;
using torsion::test::Record;
using torsion::test::spinUntil;

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

// A Site that remembers its connections' protocols (alive while their connection is).
struct TrackingSite : Site {
  using Site::Site;
  std::vector<Protocol*> built;
  std::unique_ptr<Protocol> buildProtocol(const Address& addr) override {
    auto p = Site::buildProtocol(addr);
    built.push_back(p.get());
    return p;
  }
};

constexpr std::size_t kBigSize = 50 * 1024 * 1024;

// Parameter: useSendfile.
struct StaticOverTcp : ::testing::TestWithParam<bool> {
  TempTree dir;
  Reactor reactor{quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<TrackingSite> site;
  std::shared_ptr<IListeningPort> port;
  std::shared_ptr<Collecting<>> client = std::make_shared<Collecting<>>();
  int finished = 0;
  std::vector<std::string> accessLog;
  static const std::string& bigData() {
    static const std::string data = patternOf(kBigSize, 3);
    return data;
  }

  void SetUp() override {
    dir.write("big.bin", bigData());
    dir.write("small.txt", "small\n");
    FileOptions options;
    options.useSendfile = GetParam();
    SiteOptions siteOptions;
    siteOptions.accessLog = [this](std::string_view line) {
      ++finished;
      accessLog.emplace_back(line);
    };
    site = std::make_shared<TrackingSite>(std::make_shared<File>(dir.path(), options), reactor,
                                          siteOptions);
    port = net.listenTCP(0, site, TCPListenOptions{.interface = "127.0.0.1"});
    net.connectTCP("127.0.0.1", port->getHost().port(), client);
    ASSERT_TRUE(spinUntil(reactor, [&] {
      return client->built.size() == 1 && client->built[0]->made && site->built.size() == 1;
    }));
  }
  Record& c() { return *client->built.at(0); }
  ITransport& serverTransport() { return *site->built.at(0)->transport; }

  std::vector<Response> parse(const std::vector<std::string>& methods) {
    ResponseReader reader(methods);
    EXPECT_TRUE(reader.feed(c().received));
    return reader.responses();
  }
};

TEST_P(StaticOverTcp, a50MegabyteFileArrivesIntact) {
  c().transport->write(
      "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return finished == 2; }, 20000));
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().received.size() > kBigSize + 100; }));
  auto responses = parse({"GET", "GET"});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(responses[0].header("Content-Length"), std::to_string(kBigSize));
  ASSERT_EQ(responses[0].body.size(), kBigSize);
  EXPECT_EQ(sha256(responses[0].body), sha256(bigData()));
  EXPECT_EQ(responses[1].body, "small\n");
  EXPECT_FALSE(c().lost);  // keep-alive
  // The access log counts the bytes however they were sent.
  ASSERT_EQ(accessLog.size(), 2u);
  EXPECT_NE(accessLog[0].find("\" 200 " + std::to_string(kBigSize) + " "), std::string::npos)
      << accessLog[0];
}

TEST_P(StaticOverTcp, aRangeOfABigFileArrivesIntact) {
  c().transport->write(
      "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000000-40999999\r\nConnection: "
      "close\r\n\r\n");
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return c().lost; }, 20000));
  auto responses = parse({"GET"});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 206);
  ASSERT_EQ(responses[0].body.size(), 40000000u);
  EXPECT_EQ(sha256(responses[0].body),
            sha256(std::string_view(bigData()).substr(1000000, 40000000)));
}

TEST_P(StaticOverTcp, aClientThatDoesNotReadCostsAtMostOneChunk) {
  c().transport->write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  c().transport->pauseProducing();
  std::size_t maxBuffered = 0;
  // Long enough for the kernel's buffers to fill and the server to stall.
  for (int i = 0; i < 60; ++i) {
    reactor.iterate(Seconds(0.01));
    maxBuffered = std::max(maxBuffered, serverTransport().bufferedBytes());
  }
  EXPECT_EQ(finished, 0);  // stalled, not done
  // pread: at most one chunk (64 KiB) and the headers; sendfile: nothing but the headers.
  EXPECT_LE(maxBuffered, GetParam() ? 1024u : 64u * 1024 + 1024);
  c().transport->resumeProducing();
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return finished == 1; }, 20000));
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().received.size() > kBigSize; }));
  auto responses = parse({"GET"});
  ASSERT_EQ(responses.size(), 1u);
  ASSERT_EQ(responses[0].body.size(), kBigSize);
  EXPECT_EQ(sha256(responses[0].body), sha256(bigData()));
}

TEST_P(StaticOverTcp, aClientThatGoesAwayMidFileStopsTheSender) {
  c().transport->write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  c().transport->pauseProducing();
  for (int i = 0; i < 5; ++i) {
    reactor.iterate(Seconds(0.01));
  }
  c().transport->abortConnection();
  ASSERT_TRUE(spinUntil(reactor, [&] { return c().lost; }));
  // The server notices and lets the file go; the listening port still serves.
  auto second = std::make_shared<Collecting<>>();
  net.connectTCP("127.0.0.1", port->getHost().port(), second);
  ASSERT_TRUE(
      spinUntil(reactor, [&] { return second->built.size() == 1 && second->built[0]->made; }));
  second->built[0]->transport->write(
      "GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(spinUntil(reactor, [&] { return second->built[0]->lost; }));
  EXPECT_NE(second->built[0]->received.find("small\n"), std::string::npos);
  EXPECT_EQ(finished, 1);  // only the second request finished
}

TEST_P(StaticOverTcp, http10GetsTheFileAndTheConnectionCloses) {
  c().transport->write("GET /big.bin HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(spinUntil(
      reactor, [&] { return c().lost; }, 20000));
  auto responses = parse({"GET"});
  ASSERT_EQ(responses.size(), 1u);
  ASSERT_EQ(responses[0].body.size(), kBigSize);
  EXPECT_EQ(sha256(responses[0].body), sha256(bigData()));
}

INSTANTIATE_TEST_SUITE_P(Sending, StaticOverTcp, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "sendfile" : "pread");
                         });

}  // namespace
}  // namespace torsion::web::test
