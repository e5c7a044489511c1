// The HTTP client against the HTTP server, in one process over 127.0.0.1: web::get/post and
// an Agent reusing its connection, redirects served by the Site, errors as HTTPError.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "net/net_helpers.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/core/thread_pool.hpp"
#include "torsion/net/network.hpp"
#include "torsion/testing/gtest.hpp"
#include "torsion/web/client.hpp"
#include "torsion/web/client_errors.hpp"
#include "torsion/web/server.hpp"

namespace torsion::web {
namespace {

using test::spinUntil;

class Page : public Resource {
 public:
  explicit Page(std::string body) : body_(std::move(body)) { allowMethods({"GET", "POST"}); }
  bool isLeaf() const override { return true; }
  RenderResult renderGET(Request&) override { return body_; }
  RenderResult renderPOST(Request& r) override {
    return "posted " + std::string(*r.getHeader("Content-Type")) + ": " + r.content();
  }

 private:
  std::string body_;
};

class Moved : public Resource {
 public:
  bool isLeaf() const override { return true; }
  RenderResult renderGET(Request& r) override {
    r.redirect("/page");
    return "";
  }
};

class ClientAndServer : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = std::make_shared<Resource>();
    root->putChild("page", std::make_shared<Page>("the page"));
    root->putChild("moved", std::make_shared<Moved>());
    port = net.listenTCP(0, std::make_shared<Site>(root, reactor), {.interface = "127.0.0.1"});
    base = "http://127.0.0.1:" + std::to_string(port->getHost().port());
  }
  void TearDown() override { port->stopListening(); }

  template <class T>
  T wait(Deferred<T> d) {
    EXPECT_TRUE(spinUntil(reactor, [&] { return d.called(); }));
    return testing::successResultOf(d);
  }

  Reactor reactor{test::quietOptions()};
  IReactorNet& net = network(reactor);
  std::shared_ptr<IListeningPort> port;
  std::string base;
};

TEST_F(ClientAndServer, getFollowsTheSitesRedirectAndPostSendsABody) {
  reactor.getThreadPool().start();
  EXPECT_EQ(wait(get(net, base + "/page")), "the page");
  EXPECT_EQ(wait(get(net, base + "/moved")), "the page");
  EXPECT_EQ(wait(post(net, base + "/page", "a=1", "application/x-www-form-urlencoded")),
            "posted application/x-www-form-urlencoded: a=1");
  reactor.getThreadPool().stop();
}

TEST_F(ClientAndServer, aMissingPageIsAnHTTPErrorWithTheStatus) {
  reactor.getThreadPool().start();
  auto d = get(net, base + "/nowhere");
  ASSERT_TRUE(spinUntil(reactor, [&] { return d.called(); }));
  auto failure = testing::failureResultOf<HTTPError>(d);
  EXPECT_EQ(failure.value<HTTPError>()->code(), 404);
  reactor.getThreadPool().stop();
}

}  // namespace
}  // namespace torsion::web
