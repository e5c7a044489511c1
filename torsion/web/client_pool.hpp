// HTTPConnectionPool: keeps idle HTTP/1.1 connections open for the next request to the same
// place (Twisted's twisted.web.client.HTTPConnectionPool).
//
// An Agent asks the pool for each request. The pool sends it on an idle connection it holds
// for the same key (scheme, host and port; or proxy and target), the most recently used first,
// or makes a new connection with the function the agent gives. When the response has been
// read completely and both sides allow it, the connection comes back (HTTP11ClientProtocol's
// quiescentCallback) and waits, at most maxPersistentPerHost per key (the oldest is closed to
// make room), for cachedConnectionTimeout; a connection the server closes meanwhile leaves the
// pool. A request sent on a reused connection that the server had closed just before (it
// fails with ResponseNeverReceived, RequestTransmissionFailed or RequestNotSent and no byte of
// a response) is retried once on a new connection when retryAutomatically is set, its method
// is idempotent (GET, HEAD, OPTIONS, DELETE, TRACE, as Twisted) and it has no body.
//
// With persistent = false nothing is kept: each request goes on a new connection with
// "Connection: close" (Twisted's default pool for an Agent made without one; torsion's Agent
// makes a persistent pool, as treq does).
//
// The pool is shared (std::shared_ptr): agents hold it, and so do requests under way, so it
// lives until the last of them is done. Destroying it closes the idle connections. Single
// thread: the reactor's.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "torsion/core/time.hpp"
#include "torsion/defer/deferred.hpp"
#include "torsion/web/client_protocol.hpp"

namespace torsion::web {

struct PoolOptions {
  bool persistent = true;
  std::size_t maxPersistentPerHost = 2;
  Seconds cachedConnectionTimeout = Seconds(240);
  bool retryAutomatically = true;
};

class HTTPConnectionPool : public std::enable_shared_from_this<HTTPConnectionPool> {
  struct Private {};

 public:
  // Makes a new connection for a key: fires with its protocol once connected.
  using Connect = std::function<Deferred<HTTP11ClientProtocol*>()>;

  // `clock` (the reactor) times the idle connections out; it must outlive the pool.
  static std::shared_ptr<HTTPConnectionPool> create(IReactorTime& clock, PoolOptions options = {});
  HTTPConnectionPool(Private, IReactorTime& clock, PoolOptions options);
  HTTPConnectionPool(const HTTPConnectionPool&) = delete;
  HTTPConnectionPool& operator=(const HTTPConnectionPool&) = delete;
  ~HTTPConnectionPool();

  // Sends `request` on an idle connection for `key` or a new one from `connect` (see above).
  // Cancelling the Deferred while connecting stops the attempt; later it aborts the connection
  // (CancelledError either way).
  Deferred<std::unique_ptr<Response>> request(const std::string& key, Connect connect,
                                              ClientRequest request);

  // Closes every idle connection (Twisted's closeCachedConnections). The Deferred fires once
  // they are all closed (connectionLost ran). Connections in use are not touched.
  Deferred<void> closeCachedConnections();
  // closeCachedConnections(), and from now on close connections instead of keeping them (what
  // an Agent does to the pool it made itself when it is destroyed).
  Deferred<void> close();

  // Idle connections held for `key` / in all.
  std::size_t cachedConnections(const std::string& key) const;
  std::size_t cachedConnections() const;
  const PoolOptions& options() const noexcept { return options_; }
  bool persistent() const noexcept { return options_.persistent && !closed_; }

 private:
  struct Idle {
    HTTP11ClientProtocol* conn;
    DelayedCall timeout;
  };

  Deferred<HTTP11ClientProtocol*> newConnection(const std::string& key, const Connect& connect);
  void adopt(const std::string& key, HTTP11ClientProtocol& conn);
  void putConnection(const std::string& key, HTTP11ClientProtocol& conn);
  void removeIdle(const std::string& key, HTTP11ClientProtocol& conn);
  void connectionGone(const std::string& key, HTTP11ClientProtocol& conn);
  HTTP11ClientProtocol* takeIdle(const std::string& key);

  IReactorTime& clock_;
  PoolOptions options_;
  bool closed_ = false;
  std::map<std::string, std::deque<Idle>, std::less<>> idle_;
  std::set<HTTP11ClientProtocol*> closing_;
  std::vector<Deferred<void>> closeWaiters_;
};

}  // namespace torsion::web
