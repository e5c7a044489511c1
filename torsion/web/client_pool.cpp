#include "torsion/web/client_pool.hpp"

#include <algorithm>
#include <utility>

namespace torsion::web {

namespace {

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "DELETE" ||
         method == "TRACE";
}

}  // namespace

std::shared_ptr<HTTPConnectionPool> HTTPConnectionPool::create(IReactorTime& clock,
                                                               PoolOptions options) {
  return std::make_shared<HTTPConnectionPool>(Private{}, clock, options);
}

HTTPConnectionPool::HTTPConnectionPool(Private, IReactorTime& clock, PoolOptions options)
    : clock_(clock), options_(options) {}

HTTPConnectionPool::~HTTPConnectionPool() {
  // The connections' callbacks hold only a weak reference: from now on they find no pool and
  // close their connection when it would have come back.
  auto idle = std::move(idle_);
  for (auto& [key, list] : idle) {
    for (Idle& i : list) {
      if (i.timeout.active()) i.timeout.cancel();
      i.conn->quiescentCallback = nullptr;
      i.conn->lostCallback = nullptr;
      i.conn->loseConnection();
    }
  }
  for (Deferred<void>& d : closeWaiters_) {
    if (!d.called()) d.callback();
  }
}

Deferred<std::unique_ptr<Response>> HTTPConnectionPool::request(const std::string& key,
                                                                Connect connect,
                                                                ClientRequest request) {
  auto self = shared_from_this();
  if (HTTP11ClientProtocol* conn = takeIdle(key)) {
    const bool retry = options_.retryAutomatically && !request.body && idempotent(request.method);
    if (!retry) return conn->request(std::move(request));
    Deferred<std::unique_ptr<Response>> first = conn->request(request);
    return first.addErrback([self, key, connect = std::move(connect), request = std::move(request)](
                                Failure f) mutable -> Deferred<std::unique_ptr<Response>> {
      // Only "this connection was dead already": anything that may have reached the
      // server's application (a response started) is not repeated.
      if (!f.check<ResponseNeverReceived, RequestTransmissionFailed, RequestNotSent>()) {
        return fail<std::unique_ptr<Response>>(std::move(f));
      }
      return self->newConnection(key, connect)
          .addCallback([request = std::move(request)](HTTP11ClientProtocol* c) mutable {
            return c->request(std::move(request));
          });
    });
  }
  return newConnection(key, connect)
      .addCallback([request = std::move(request)](HTTP11ClientProtocol* c) mutable {
        return c->request(std::move(request));
      });
}

Deferred<HTTP11ClientProtocol*> HTTPConnectionPool::newConnection(const std::string& key,
                                                                  const Connect& connect) {
  std::weak_ptr<HTTPConnectionPool> weak = weak_from_this();
  return connect().addCallback([weak, key](HTTP11ClientProtocol* conn) {
    if (auto self = weak.lock()) self->adopt(key, *conn);
    return conn;
  });
}

void HTTPConnectionPool::adopt(const std::string& key, HTTP11ClientProtocol& conn) {
  std::weak_ptr<HTTPConnectionPool> weak = weak_from_this();
  conn.quiescentCallback = [weak, key](HTTP11ClientProtocol& c) {
    if (auto self = weak.lock()) {
      self->putConnection(key, c);
    } else {
      c.loseConnection();
    }
  };
  conn.lostCallback = [weak, key](HTTP11ClientProtocol& c) {
    if (auto self = weak.lock()) self->connectionGone(key, c);
  };
}

HTTP11ClientProtocol* HTTPConnectionPool::takeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  while (!it->second.empty()) {
    // The most recently used first: the one least likely to have been closed by the server.
    Idle i = std::move(it->second.back());
    it->second.pop_back();
    if (i.timeout.active()) i.timeout.cancel();
    if (i.conn->state() == HTTP11ClientProtocol::State::Quiescent) {
      if (it->second.empty()) idle_.erase(it);
      return i.conn;
    }
  }
  idle_.erase(it);
  return nullptr;
}

void HTTPConnectionPool::putConnection(const std::string& key, HTTP11ClientProtocol& conn) {
  if (!persistent() || options_.maxPersistentPerHost == 0) {
    conn.loseConnection();
    return;
  }
  auto& list = idle_[key];
  if (list.size() >= options_.maxPersistentPerHost) {
    Idle oldest = std::move(list.front());
    list.pop_front();
    if (oldest.timeout.active()) oldest.timeout.cancel();
    oldest.conn->loseConnection();
  }
  std::weak_ptr<HTTPConnectionPool> weak = weak_from_this();
  HTTP11ClientProtocol* c = &conn;
  DelayedCall timeout = clock_.callLater(options_.cachedConnectionTimeout, [weak, key, c] {
    if (auto self = weak.lock()) {
      self->removeIdle(key, *c);
      c->loseConnection();
    }
  });
  list.push_back(Idle{c, std::move(timeout)});
}

void HTTPConnectionPool::removeIdle(const std::string& key, HTTP11ClientProtocol& conn) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  auto found =
      std::find_if(list.begin(), list.end(), [&](const Idle& i) { return i.conn == &conn; });
  if (found != list.end()) {
    if (found->timeout.active()) found->timeout.cancel();
    list.erase(found);
  }
  if (list.empty()) idle_.erase(it);
}

void HTTPConnectionPool::connectionGone(const std::string& key, HTTP11ClientProtocol& conn) {
  removeIdle(key, conn);
  if (closing_.erase(&conn) > 0 && closing_.empty()) {
    std::vector<Deferred<void>> waiters = std::move(closeWaiters_);
    closeWaiters_.clear();
    for (Deferred<void>& d : waiters) d.callback();
  }
}

Deferred<void> HTTPConnectionPool::closeCachedConnections() {
  auto idle = std::move(idle_);
  idle_.clear();
  std::vector<HTTP11ClientProtocol*> toClose;
  for (auto& [key, list] : idle) {
    for (Idle& i : list) {
      if (i.timeout.active()) i.timeout.cancel();
      closing_.insert(i.conn);
      toClose.push_back(i.conn);
    }
  }
  Deferred<void> done;
  if (closing_.empty()) {
    done.callback();
    return done;
  }
  closeWaiters_.push_back(done);
  for (HTTP11ClientProtocol* c : toClose) c->loseConnection();
  return done;
}

Deferred<void> HTTPConnectionPool::close() {
  closed_ = true;
  return closeCachedConnections();
}

std::size_t HTTPConnectionPool::cachedConnections(const std::string& key) const {
  auto it = idle_.find(key);
  return it == idle_.end() ? 0 : it->second.size();
}

std::size_t HTTPConnectionPool::cachedConnections() const {
  std::size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace torsion::web
