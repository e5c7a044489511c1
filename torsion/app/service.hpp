// Services: the long-lived parts of an application, started and stopped as a tree
// (Twisted's twisted.application.service: IService, Service, MultiService, Application).
//
//   auto app = std::make_shared<Application>("chat");
//   auto web = std::make_shared<StreamServerEndpointService>(
//       serverFromString(net, "tcp:8080"), Factory::forProtocol<Http>());
//   web->setName("web");
//   web->setServiceParent(*app);
//   app->start(reactor);     // listening now; stopped (and waited for) before the reactor stops
//   reactor.run();
//
// Lifetime: services are held by std::shared_ptr. A MultiService owns its children;
// setServiceParent() and addService() need the child to be owned by a shared_ptr already. A
// child knows its parent by a plain pointer, cleared when the parent removes it or is
// destroyed. Everything runs on the reactor thread.
//
// The order is Twisted's: privilegedStartService() runs on every service first (the runner
// calls it while it may still hold privileges, before switching uid), then startService();
// a MultiService starts children in the order they were added and stops them in reverse,
// waiting for all of them.
//
// State that survives a restart (torsiond --state FILE): a service may save its state as JSON
// and restore it before it starts. A MultiService saves the states of its named children in
// an object keyed by name, so the saved tree mirrors the service tree (see persist.hpp).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/core/errors.hpp"
#include "torsion/defer/deferred.hpp"

namespace torsion {
class Reactor;
}

namespace torsion::app {

class MultiService;

// A misuse of the service tree: a duplicate name among siblings, a name changed while the
// service has a parent, a removal of a service that is not a child (Twisted raises
// RuntimeError for the first two, ValueError for the last).
class ServiceError : public Error {
 public:
  using Error::Error;
};

class Service : public std::enable_shared_from_this<Service> {
 public:
  Service() = default;
  explicit Service(std::string name) : name_(std::move(name)) {}
  virtual ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Siblings must have different names; the empty name (the default) may repeat.
  const std::string& name() const noexcept { return name_; }
  // Throws ServiceError while the service has a parent (the parent indexes it by name).
  void setName(std::string name);

  // The parent, or null.
  MultiService* parent() const noexcept { return parent_; }
  // parent.addService(this): this must be owned by a shared_ptr. A service that already has a
  // parent is removed from it first (without waiting for its stopService()).
  void setServiceParent(MultiService& parent);
  // Removes this service from its parent; the Deferred is what the parent's removeService()
  // returns (the stopService() of a running service). Without a parent it has fired.
  Deferred<void> disownServiceParent();

  // True between startService() and stopService().
  bool running() const noexcept { return running_; }

  // Called once before startService() while the process may still hold privileges (binding
  // port 80 before dropping root). Default: nothing.
  virtual void privilegedStartService() {}
  // Starts the service. Overrides call Service::startService() (it sets running()). May
  // throw: the runner then reports the error and exits (a port already in use).
  virtual void startService();
  // Stops it. Overrides call Service::stopService() first (it clears running()). The
  // Deferred fires once the service has stopped (connections closed, work drained); a
  // failure is logged by whoever waits (a MultiService) and does not stop the others.
  virtual Deferred<void> stopService();

  // State that survives a restart. saveState() returns the state, or nothing when the
  // service has none (the default); it is called after stopService() when the application
  // stops, and may also be called while running. restoreState() is called before the
  // service starts, with what an earlier saveState() returned; it throws (anything) when the
  // state cannot be used, and the runner reports that and exits.
  virtual std::optional<nlohmann::json> saveState() const { return std::nullopt; }
  virtual void restoreState(const nlohmann::json& state);

 private:
  friend class MultiService;
  std::string name_;
  MultiService* parent_ = nullptr;
  bool running_ = false;
};

class MultiService : public Service {
 public:
  using Service::Service;
  ~MultiService() override;

  // Adds a child (Twisted's addService). Throws ServiceError for a duplicate name. When this
  // service is running, the child is started at once (privilegedStartService, startService).
  void addService(std::shared_ptr<Service> child);
  // Removes a child; returns the child's stopService() if this service is running (the child
  // is stopped), else a fired Deferred. Throws ServiceError if it is not a child.
  Deferred<void> removeService(Service& child);
  // The child with this name, or null.
  std::shared_ptr<Service> getServiceNamed(std::string_view name) const;
  // The children in the order they were added.
  const std::vector<std::shared_ptr<Service>>& services() const noexcept { return children_; }

  void privilegedStartService() override;
  // Starts the children in order. If one throws, the ones already started are stopped
  // (without waiting) and the error propagates.
  void startService() override;
  // Stops the children in reverse order and fires once every child's Deferred has fired;
  // failures of children are logged, and the Deferred still succeeds.
  Deferred<void> stopService() override;

  // {"<child name>": <child state>, ...} for the named children that have state; nothing when
  // none has. A child with state but no name cannot be saved: it is logged and skipped.
  std::optional<nlohmann::json> saveState() const override;
  // Gives each named child its entry of the object (children without an entry are left
  // alone; entries without a child are ignored). Throws ServiceError if `state` is not an
  // object.
  void restoreState(const nlohmann::json& state) override;

 private:
  std::vector<std::shared_ptr<Service>> children_;
};

// The root of a service tree (Twisted's service.Application).
class Application : public MultiService {
 public:
  explicit Application(std::string name) : MultiService(std::move(name)) {}
  ~Application() override;

  // Twisted's app.startApplication: privilegedStartService() and startService() now (so
  // ports are bound, or the error thrown, before the reactor runs), and a "before shutdown"
  // trigger on `reactor` that stops the tree: the reactor waits for stopService()'s
  // Deferred, so open connections finish and state can be saved before it goes down. If
  // startService() throws, the started children are stopped and the error propagates (no
  // trigger is left behind). The trigger holds the application (a shared_ptr) until it runs
  // or the reactor is destroyed. `afterPrivileged`, when given, runs between
  // privilegedStartService() and startService(): a runner drops root there (twistd's
  // shedPrivileges); if it throws, nothing is started and the error propagates.
  void start(Reactor& reactor, const std::function<void()>& afterPrivileged = {});
};

}  // namespace torsion::app
