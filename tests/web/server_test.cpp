// The HTTP/1.1 server through StringTransport and testing::Clock: responses, keep-alive,
// pipelining in order, HEAD, errors, limits, timeouts, bodies, sessions, virtual hosts.
#include "torsion/web/server.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torsion/net/errors.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/testing/log_capture.hpp"
#include "torsion/testing/string_transport.hpp"

namespace torsion::web {
namespace {

using testing::StringTransport;

// A leaf answering GET with a fixed body.
class Text : public Resource {
 public:
  explicit Text(std::string body) : body_(std::move(body)) {}
  bool isLeaf() const override { return true; }
  RenderResult renderGET(Request& request) override {
    request.setHeader("Content-Type", "text/plain");
    return body_;
  }

 private:
  std::string body_;
};

// Keeps every request it renders, unfinished.
class Later : public Resource {
 public:
  bool isLeaf() const override { return true; }
  RenderResult renderGET(Request& request) override {
    pending.push_back(request.shared());
    return notDoneYet;
  }
  std::vector<std::shared_ptr<Request>> pending;
};

class Echo : public Resource {
 public:
  Echo() { allowMethods({"POST"}); }
  bool isLeaf() const override { return true; }
  RenderResult renderPOST(Request& request) override {
    std::string out = "body=" + request.content();
    for (const auto& [name, values] : request.args()) {
      for (const auto& v : values) {
        out += ";" + name + "=" + v;
      }
    }
    return out;
  }
};

class Throws : public Resource {
 public:
  bool isLeaf() const override { return true; }
  RenderResult renderGET(Request&) override { throw std::runtime_error("render failed"); }
};

class Server : public ::testing::Test {
 protected:
  void SetUp() override {
    root = std::make_shared<Resource>();
    root->putChild("hello", std::make_shared<Text>("Hello, World!"));
    root->putChild("later", later);
    root->putChild("echo", std::make_shared<Echo>());
    root->putChild("throws", std::make_shared<Throws>());
  }

  // A fresh connection to a fresh site with `options`.
  void connect(SiteOptions options = {}) {
    site = std::make_shared<Site>(root, clock, std::move(options));
    protocol = site->buildProtocol(Address::ip("127.0.0.1", 4000));
    transport = std::make_unique<StringTransport>(Address::ip("127.0.0.1", 80),
                                                  Address::ip("127.0.0.1", 4000));
    protocol->makeConnection(*transport);
  }

  void send(std::string_view bytes) { protocol->dataReceived(bytes); }

  // The responses written so far, taken out of the transport.
  std::string take() {
    std::string out = transport->value();
    transport->clear();
    return out;
  }

  void TearDown() override {
    if (protocol && !lost) {
      protocol->connectionLost(Failure(ConnectionDone()));
    }
  }

  void lose() {
    lost = true;
    protocol->connectionLost(Failure(ConnectionLost()));
  }

  testing::Clock clock;
  std::shared_ptr<Resource> root;
  std::shared_ptr<Later> later = std::make_shared<Later>();
  std::shared_ptr<Site> site;
  std::unique_ptr<Protocol> protocol;
  std::unique_ptr<StringTransport> transport;
  bool lost = false;
};

// The status line and the body of every response in `out` (bodies by Content-Length or
// chunked; enough for these tests).
struct Parsed {
  int status;
  std::string headers;
  std::string body;
};

std::vector<Parsed> parseAll(std::string_view out, bool head = false) {
  std::vector<Parsed> all;
  while (!out.empty()) {
    auto end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) break;
    std::string_view headers = out.substr(0, end + 2);
    out.remove_prefix(end + 4);
    Parsed p{std::stoi(std::string(headers.substr(9, 3))), std::string(headers), ""};
    auto cl = headers.find("Content-Length: ");
    if (head || p.status == 304 || p.status == 204 || p.status / 100 == 1) {
    } else if (cl != std::string_view::npos) {
      std::size_t n = std::stoul(std::string(headers.substr(cl + 16)));
      p.body = std::string(out.substr(0, n));
      out.remove_prefix(n);
    } else if (headers.find("Transfer-Encoding: chunked") != std::string_view::npos) {
      while (true) {
        auto eol = out.find("\r\n");
        std::size_t n = std::stoul(std::string(out.substr(0, eol)), nullptr, 16);
        out.remove_prefix(eol + 2);
        if (n == 0) {
          out.remove_prefix(2);
          break;
        }
        p.body += out.substr(0, n);
        out.remove_prefix(n + 2);
      }
    } else {
      p.body = std::string(out);
      out = {};
    }
    all.push_back(std::move(p));
  }
  return all;
}

TEST_F(Server, answersAGetWithStatusHeadersAndBody) {
  connect();
  send("GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
  auto responses = parseAll(take());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(responses[0].body, "Hello, World!");
  EXPECT_NE(responses[0].headers.find("Content-Length: 13\r\n"), std::string::npos);
  EXPECT_NE(responses[0].headers.find("Content-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(responses[0].headers.find("Date: "), std::string::npos);
  EXPECT_FALSE(transport->disconnecting());
}

TEST_F(Server, keepsTheConnectionForPipelinedRequestsAndAnswersInOrder) {
  connect();
  send(
      "GET /later HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(take(), "") << "the second response must wait for the first";
  ASSERT_EQ(later->pending.size(), 1u);
  later->pending[0]->write("first");
  later->pending[0]->finish();
  auto responses = parseAll(take());
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].body, "first");
  EXPECT_NE(responses[0].headers.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(responses[1].body, "Hello, World!");
}

TEST_F(Server, theResponsesToPipelinedRequestsOfOneReadGoOutInOneWrite) {
  connect();
  const std::size_t before = transport->writeCount();
  std::string batch;
  for (int i = 0; i < 16; ++i) {
    batch += "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
  }
  send(batch);
  EXPECT_EQ(transport->writeCount() - before, 1u);
  auto responses = parseAll(take());
  ASSERT_EQ(responses.size(), 16u);
  for (const auto& r : responses) {
    EXPECT_EQ(r.body, "Hello, World!");
  }
}

TEST_F(Server, gatheredResponsesGoBeforeAnythingSentPastTheChannel) {
  // A resource that writes straight to the transport (as sendfile does) after a pipelined
  // response that was gathered: the gathered one must reach the wire first.
  class Direct : public Resource {
   public:
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request& request) override {
      request.setHeader("Content-Length", "6");
      request.beginRawBody();
      request.transport()->write("direct");
      request.finish();
      return notDoneYet;
    }
  };
  root->putChild("direct", std::make_shared<Direct>());
  connect();
  send(
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /direct HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  auto responses = parseAll(take());
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "Hello, World!");
  EXPECT_EQ(responses[1].body, "direct");
  EXPECT_EQ(responses[2].body, "Hello, World!");
}

TEST_F(Server, gatheredResponsesAreWrittenBeforeTheConnectionCloses) {
  // This transport delivers connectionLost inside loseConnection(): whatever the channel still
  // held back at that point would be lost.
  site = std::make_shared<Site>(root, clock);
  auto channel = site->buildProtocol(Address::ip("127.0.0.1", 4000));
  testing::StringTransportWithDisconnection closing(Address::ip("127.0.0.1", 80),
                                                    Address::ip("127.0.0.1", 4000));
  closing.connect(*channel);
  channel->dataReceived(
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_FALSE(closing.connected());
  EXPECT_EQ(parseAll(closing.value()).size(), 2u);

  auto bad = site->buildProtocol(Address::ip("127.0.0.1", 4001));
  testing::StringTransportWithDisconnection closing2(Address::ip("127.0.0.1", 80),
                                                     Address::ip("127.0.0.1", 4001));
  closing2.connect(*bad);
  bad->dataReceived(
      "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n");
  EXPECT_FALSE(closing2.connected());
  auto responses = parseAll(closing2.value());
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(responses[1].status, 400);
}

TEST_F(Server, connectionsUseTcpNoDelayUnlessTurnedOff) {
  connect();
  EXPECT_TRUE(transport->getTcpNoDelay());
  SiteOptions options;
  options.tcpNoDelay = false;
  protocol->connectionLost(Failure(ConnectionDone()));
  connect(options);
  EXPECT_FALSE(transport->getTcpNoDelay());
}

TEST_F(Server, aRequestSplitAcrossReadsIsAnswered) {
  connect();
  std::string request = "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
  for (char c : request) {
    send(std::string_view(&c, 1));
  }
  EXPECT_EQ(parseAll(take()).at(0).body, "Hello, World!");
}

TEST_F(Server, http10ClosesUnlessKeepAliveIsAsked) {
  connect();
  send("GET /hello HTTP/1.0\r\n\r\n");
  auto out = take();
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(transport->disconnecting());

  connect();
  send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  out = take();
  EXPECT_NE(out.find("Connection: keep-alive"), std::string::npos);
  EXPECT_FALSE(transport->disconnecting());
}

TEST_F(Server, connectionCloseIsHonoured) {
  connect();
  send("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(take().find("Connection: close"), std::string::npos);
  EXPECT_TRUE(transport->disconnecting());
}

TEST_F(Server, headSendsTheHeadersOfGetWithoutTheBody) {
  connect();
  send("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  auto out = take();
  EXPECT_NE(out.find("Content-Length: 13\r\n"), std::string::npos);
  EXPECT_EQ(out.find("Hello"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST_F(Server, unsupportedMethodGets405WithAllow) {
  connect();
  send("DELETE /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  auto responses = parseAll(take());
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 405);
  EXPECT_NE(responses[0].headers.find("Allow: GET, HEAD\r\n"), std::string::npos);
  send("GET /echo HTTP/1.1\r\nHost: a\r\n\r\n");
  responses = parseAll(take());
  EXPECT_EQ(responses.at(0).status, 405);
  EXPECT_NE(responses[0].headers.find("Allow: POST\r\n"), std::string::npos);
}

TEST_F(Server, unknownMethodGets501) {
  connect();
  send("BREW /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).status, 501);
}

TEST_F(Server, missingResourceGets404) {
  connect();
  send("GET /nowhere/deeper HTTP/1.1\r\nHost: a\r\n\r\n");
  auto r = parseAll(take()).at(0);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("No Such Resource"), std::string::npos);
}

TEST_F(Server, anExceptionInRenderGives500AndIsLogged) {
  connect();
  send("GET /throws HTTP/1.1\r\nHost: a\r\n\r\n");
  auto r = parseAll(take()).at(0);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("render failed"), std::string::npos) << "no traceback by default";
  EXPECT_EQ(testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
  send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).status, 200) << "the connection serves the next request";
}

TEST_F(Server, deferredResultsAreWrittenWhenTheyFire) {
  std::optional<Deferred<std::string>> body;
  class Async : public Resource {
   public:
    explicit Async(std::optional<Deferred<std::string>>& d) : d_(d) {}
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request&) override {
      d_.emplace();
      return *d_;
    }
    std::optional<Deferred<std::string>>& d_;
  };
  root->putChild("async", std::make_shared<Async>(body));
  connect();
  send("GET /async HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(take(), "");
  body->callback(std::string("done later"));
  EXPECT_EQ(parseAll(take()).at(0).body, "done later");

  send("GET /async HTTP/1.1\r\nHost: a\r\n\r\n");
  body->errback(std::runtime_error("backend down"));
  EXPECT_EQ(parseAll(take()).at(0).status, 500);
  EXPECT_EQ(testing::flushLoggedErrors<std::runtime_error>().size(), 1u);
}

TEST_F(Server, malformedRequestsGet4xxAndTheConnectionCloses) {
  const std::pair<std::string, int> rows[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET / HTTP/1.1\nHost: a\n\n", 400},
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(20000, 'b') + "\r\n\r\n", 431},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501},
  };
  for (const auto& [request, status] : rows) {
    connect();
    send(request);
    auto responses = parseAll(take());
    ASSERT_EQ(responses.size(), 1u) << request.substr(0, 60);
    EXPECT_EQ(responses[0].status, status) << request.substr(0, 60);
    EXPECT_NE(responses[0].headers.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(transport->disconnecting());
    send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(take(), "") << "nothing is read after the error";
  }
}

TEST_F(Server, postBodiesAndFormArgumentsReachTheResource) {
  connect();
  send(
      "POST /echo?q=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 13\r\n\r\nname=a+b%21&x");
  EXPECT_EQ(parseAll(take()).at(0).body, "body=name=a+b%21&x;name=a b!;q=1;x=");
  send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).body, "body=abcde");
}

TEST_F(Server, tooLargeABodyGets413) {
  SiteOptions options;
  options.maxRequestBody = 4;
  connect(options);
  send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).status, 413);
  EXPECT_TRUE(transport->disconnecting());

  connect(options);
  send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n");
  EXPECT_EQ(parseAll(take()).at(0).status, 413);
}

TEST_F(Server, expectContinueGets100BeforeTheBody) {
  connect();
  send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(take(), "HTTP/1.1 100 Continue\r\n\r\n");
  send("hi");
  EXPECT_EQ(parseAll(take()).at(0).body, "body=hi");
}

TEST_F(Server, anIdleConnectionIsClosed) {
  connect();
  clock.advance(Seconds(59));
  EXPECT_FALSE(transport->disconnecting());
  send("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  clock.advance(Seconds(59));
  EXPECT_FALSE(transport->disconnecting()) << "a request restarts the idle time";
  clock.advance(Seconds(2));
  EXPECT_TRUE(transport->disconnecting());
}

TEST_F(Server, aSlowRequestHeadGets408) {
  connect();
  send("GET /hello HTTP/1.1\r\n");
  for (int i = 0; i < 29; ++i) {
    clock.advance(Seconds(1));
    send("X-Drip: 1\r\n");  // bytes keep coming, but the head never ends
  }
  EXPECT_FALSE(transport->disconnecting());
  clock.advance(Seconds(2));
  EXPECT_EQ(parseAll(take()).at(0).status, 408);
  EXPECT_TRUE(transport->disconnecting());
}

TEST_F(Server, aSlowResponseIsNotCutByTheIdleTimeout) {
  connect();
  send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
  clock.advance(Seconds(600));
  EXPECT_FALSE(transport->disconnecting());
  later->pending[0]->finish();
  EXPECT_EQ(parseAll(take()).at(0).status, 200);
}

TEST_F(Server, notifyFinishFiresOnFinishAndFailsWhenTheConnectionIsLost) {
  connect();
  send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n");
  auto request = later->pending.at(0);
  auto finished = request->notifyFinish();
  testing::assertNoResult(finished);
  lose();
  testing::failureResultOf<ConnectionLost>(finished);
  request->write("ignored");  // no transport any more: dropped
  request->finish();
}

TEST_F(Server, aStreamingResourceGetsTheBodyAsItArrives) {
  class Upload : public Resource, public RequestBodyReceiver {
   public:
    bool isLeaf() const override { return true; }
    bool streamsRequestBody(const Request&) const override { return true; }
    RenderResult renderPOST(Request& request) override {
      request_ = request.shared();
      request.receiveBody(*this);
      return notDoneYet;
    }
    void bodyDataReceived(std::string_view data) override { pieces.emplace_back(data); }
    void bodyComplete() override {
      request_->write("got " + std::to_string(pieces.size()) + " pieces");
      request_->finish();
    }
    void bodyFailed(const Failure&) override { failed = true; }
    std::vector<std::string> pieces;
    bool failed = false;
    std::shared_ptr<Request> request_;
  };
  auto upload = std::make_shared<Upload>();
  root->putChild("upload", upload);
  connect();
  send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab");
  EXPECT_EQ(upload->pieces, (std::vector<std::string>{"ab"}));
  send("cd");
  send("ef");
  EXPECT_EQ(parseAll(take()).at(0).body, "got 3 pieces");
}

TEST_F(Server, sessionsAreFoundAgainByTheirCookieAndExpire) {
  class Counter : public Resource {
   public:
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request& request) override {
      auto session = request.getSession();
      auto& count = session->values["count"];
      count = std::to_string(count.empty() ? 1 : std::stoi(count) + 1);
      return count;
    }
  };
  root->putChild("count", std::make_shared<Counter>());
  connect();
  send("GET /count HTTP/1.1\r\nHost: a\r\n\r\n");
  auto first = parseAll(take()).at(0);
  EXPECT_EQ(first.body, "1");
  auto at = first.headers.find("Set-Cookie: TORSION_SESSION=");
  ASSERT_NE(at, std::string::npos);
  std::string uid = first.headers.substr(at + 28, 32);
  send("GET /count HTTP/1.1\r\nHost: a\r\nCookie: other=1; TORSION_SESSION=" + uid + "\r\n\r\n");
  auto second = parseAll(take()).at(0);
  EXPECT_EQ(second.body, "2");
  EXPECT_EQ(second.headers.find("Set-Cookie"), std::string::npos);
  clock.advance(Seconds(901));
  EXPECT_EQ(site->getSession(uid), nullptr);
}

TEST_F(Server, theAccessLogUsesTheCombinedFormat) {
  std::vector<std::string> lines;
  SiteOptions options;
  options.accessLog = [&](std::string_view line) { lines.emplace_back(line); };
  connect(options);
  send("GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/7.88\r\n\r\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].starts_with("127.0.0.1 - - ["));
  EXPECT_TRUE(lines[0].ends_with("] \"GET /hello?x=1 HTTP/1.1\" 200 13 \"-\" \"curl/7.88\""))
      << lines[0];
}

TEST_F(Server, prepathAndPostpathSplitAtTheLeaf) {
  class Where : public Resource {
   public:
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request& r) override {
      std::string out;
      for (auto& s : r.prepath()) out += "[" + s + "]";
      out += "|";
      for (auto& s : r.postpath()) out += "[" + s + "]";
      return out;
    }
  };
  auto dir = std::make_shared<Resource>();
  dir->putChild("leaf", std::make_shared<Where>());
  root->putChild("dir", dir);
  connect();
  send("GET /dir/leaf/a%20b/c HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).body, "[dir][leaf]|[a b][c]");
}

TEST_F(Server, conditionalRequestsGet304) {
  class Tagged : public Resource {
   public:
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request& r) override {
      if (r.setETag("\"v1\"") == CacheState::cached) {
        return "";
      }
      return "content";
    }
  };
  root->putChild("tagged", std::make_shared<Tagged>());
  connect();
  send("GET /tagged HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"v0\", \"v1\"\r\n\r\n");
  auto r = parseAll(take()).at(0);
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.headers.find("Content-Length"), std::string::npos);
  send("GET /tagged HTTP/1.1\r\nHost: a\r\nIf-None-Match: \"v0\"\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).body, "content");
}

TEST_F(Server, nameVirtualHostServesByHost) {
  auto vhost = std::make_shared<NameVirtualHost>();
  vhost->addHost("one.example", std::make_shared<Text>("one"));
  vhost->addHost("two.example", std::make_shared<Text>("two"));
  root = vhost;
  connect();
  send("GET /x HTTP/1.1\r\nHost: TWO.example:8080\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).body, "two");
  send("GET / HTTP/1.1\r\nHost: one.example\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).body, "one");
  send("GET / HTTP/1.1\r\nHost: three.example\r\n\r\n");
  EXPECT_EQ(parseAll(take()).at(0).status, 404);
}

TEST_F(Server, headerInjectionThroughAResourceIsRefused) {
  class Injector : public Resource {
   public:
    bool isLeaf() const override { return true; }
    RenderResult renderGET(Request& r) override {
      r.setHeader("X-Echo", std::string(*r.getHeader("X-In")) + "\r\nSet-Cookie: evil=1");
      return "unreachable";
    }
  };
  root->putChild("inject", std::make_shared<Injector>());
  connect();
  send("GET /inject HTTP/1.1\r\nHost: a\r\nX-In: v\r\n\r\n");
  auto out = take();
  EXPECT_EQ(parseAll(out).at(0).status, 500);
  EXPECT_EQ(out.find("evil"), std::string::npos);
  EXPECT_EQ(testing::flushLoggedErrors<std::invalid_argument>().size(), 1u);
}

TEST(HttpDates, formatAndParseTheThreeForms) {
  auto t = std::chrono::system_clock::from_time_t(784111777);
  EXPECT_EQ(httpDate(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), t);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), t);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), t);
  EXPECT_FALSE(parseHttpDate("yesterday"));
  EXPECT_FALSE(parseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT"));
}

TEST(QueryArgs, decodePlusAndPercentAndKeepRepeats) {
  Request::Args args;
  parseQueryArgs("a=1&a=2&b=x+y%2Bz&&c&d=%zz", args);
  EXPECT_EQ(args["a"], (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(args["b"], (std::vector<std::string>{"x y+z"}));
  EXPECT_EQ(args["c"], (std::vector<std::string>{""}));
  EXPECT_EQ(args["d"], (std::vector<std::string>{"%zz"}));
}

}  // namespace
}  // namespace torsion::web
