#include "torsion/app/service.hpp"

#include <algorithm>

#include "torsion/core/reactor.hpp"
#include "torsion/defer/combinators.hpp"
#include "torsion/log/logger.hpp"

namespace torsion::app {
namespace {

const Logger& log() {
  static const Logger logger("torsion.app.service");
  return logger;
}

std::string describe(const Service& s) {
  return s.name().empty() ? std::string("(unnamed service)") : "service '" + s.name() + "'";
}

}  // namespace

// ---- Service ----------------------------------------------------------------------------

Service::~Service() = default;

void Service::setName(std::string name) {
  if (parent_ != nullptr) {
    throw ServiceError("cannot change the name of a service that has a parent");
  }
  name_ = std::move(name);
}

void Service::setServiceParent(MultiService& parent) {
  if (parent_ == &parent) {
    return;
  }
  auto self = shared_from_this();  // throws std::bad_weak_ptr when not owned by a shared_ptr
  if (parent_ != nullptr) {
    disownServiceParent();
  }
  parent.addService(std::move(self));
}

Deferred<void> Service::disownServiceParent() {
  if (parent_ == nullptr) {
    return succeed();
  }
  return parent_->removeService(*this);
}

void Service::startService() { running_ = true; }

Deferred<void> Service::stopService() {
  running_ = false;
  return succeed();
}

void Service::restoreState(const nlohmann::json&) {}

// ---- MultiService -----------------------------------------------------------------------

MultiService::~MultiService() {
  for (auto& child : children_) {
    child->parent_ = nullptr;
  }
}

void MultiService::addService(std::shared_ptr<Service> child) {
  if (!child) {
    throw std::invalid_argument("MultiService::addService: null service");
  }
  if (child->parent_ == this) {
    return;
  }
  if (!child->name().empty() && getServiceNamed(child->name())) {
    throw ServiceError("cannot have two services named '" + child->name() + "' in one parent");
  }
  if (child->parent_ != nullptr) {
    child->disownServiceParent();
  }
  child->parent_ = this;
  children_.push_back(child);
  if (running()) {
    // Twisted starts a child added to a running parent at once, privileged part first.
    child->privilegedStartService();
    child->startService();
  }
}

Deferred<void> MultiService::removeService(Service& child) {
  auto it = std::find_if(children_.begin(), children_.end(),
                         [&](const std::shared_ptr<Service>& c) { return c.get() == &child; });
  if (it == children_.end()) {
    throw ServiceError(describe(child) + " is not a child of " + describe(*this));
  }
  auto held = *it;  // keeps the child alive until its stopService() returned
  children_.erase(it);
  held->parent_ = nullptr;
  if (running()) {
    return held->stopService();
  }
  return succeed();
}

std::shared_ptr<Service> MultiService::getServiceNamed(std::string_view name) const {
  for (const auto& child : children_) {
    if (!child->name().empty() && child->name() == name) {
      return child;
    }
  }
  return nullptr;
}

void MultiService::privilegedStartService() {
  Service::privilegedStartService();
  // A copy: a child may add or remove siblings while starting.
  auto children = children_;
  for (auto& child : children) {
    child->privilegedStartService();
  }
}

void MultiService::startService() {
  Service::startService();
  auto children = children_;
  std::size_t started = 0;
  try {
    for (; started < children.size(); ++started) {
      children[started]->startService();
    }
  } catch (...) {
    // Leave nothing half running: stop what started, newest first, without waiting.
    for (std::size_t i = started; i-- > 0;) {
      children[i]->stopService().addErrback([](Failure f) {
        log().failure("Error stopping a service after a failed start", f, LogLevel::error);
      });
    }
    Service::stopService();
    throw;
  }
}

Deferred<void> MultiService::stopService() {
  Service::stopService();
  std::vector<Deferred<void>> stopped;
  stopped.reserve(children_.size());
  auto children = children_;
  for (auto it = children.rbegin(); it != children.rend(); ++it) {
    Service& child = **it;
    Deferred<void> d = [&]() {
      try {
        return child.stopService();
      } catch (...) {
        return fail<void>(Failure::current());
      }
    }();
    stopped.push_back(d.addErrback([what = describe(child)](Failure f) {
      log().failure("Error stopping {what}", f, LogLevel::error, {{"what", what}});
    }));
  }
  return deferredList(std::move(stopped)).addCallback([](auto&&) {});
}

std::optional<nlohmann::json> MultiService::saveState() const {
  nlohmann::json state = nlohmann::json::object();
  for (const auto& child : children_) {
    auto childState = child->saveState();
    if (!childState) {
      continue;
    }
    if (child->name().empty()) {
      log().warn("An unnamed service has state to save; name it (setName) to keep its state");
      continue;
    }
    state[child->name()] = std::move(*childState);
  }
  if (state.empty()) {
    return std::nullopt;
  }
  return state;
}

void MultiService::restoreState(const nlohmann::json& state) {
  if (!state.is_object()) {
    throw ServiceError("the saved state of " + describe(*this) + " is not a JSON object");
  }
  for (auto& child : children_) {
    if (child->name().empty()) {
      continue;
    }
    auto it = state.find(child->name());
    if (it != state.end()) {
      child->restoreState(*it);
    }
  }
}

// ---- Application ------------------------------------------------------------------------

Application::~Application() = default;

void Application::start(Reactor& reactor, const std::function<void()>& afterPrivileged) {
  privilegedStartService();
  if (afterPrivileged) {
    afterPrivileged();
  }
  startService();
  // The trigger holds the application, so the tree lives until it has stopped (or the
  // reactor is destroyed).
  auto self = std::static_pointer_cast<Application>(shared_from_this());
  reactor.addSystemEventTrigger(Reactor::Phase::before, "shutdown", [self]() -> Deferred<void> {
    if (!self->running()) {
      return succeed();
    }
    return self->stopService();
  });
}

}  // namespace torsion::app
