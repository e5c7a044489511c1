#include <random>

#include "torsion/web/channel.hpp"
#include "torsion/web/server.hpp"

namespace torsion::web {

// ---- Site -------------------------------------------------------------------------------

Site::Site(std::shared_ptr<Resource> root, IReactorTime& clock, SiteOptions options)
    : root_(std::move(root)), clock_(clock), options_(std::move(options)) {}

Site::~Site() {
  for (auto& [uid, session] : sessions_) {
    if (session->expireCall_.active()) {
      session->expireCall_.cancel();
    }
    session->site_ = nullptr;
  }
}

std::unique_ptr<Protocol> Site::buildProtocol(const Address&) {
  auto channel = std::make_unique<HTTPChannel>(*this);
  channel->factory = this;
  return channel;
}

std::shared_ptr<Resource> Site::getResourceFor(Request& request) {
  // Twisted's getChildForRequest: split the path, decode each segment, walk until a leaf.
  std::vector<std::string>& prepath = request.prepath();
  std::vector<std::string>& postpath = request.postpath();
  prepath.clear();
  postpath.clear();
  std::string_view path = request.path();
  if (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  if (request.path().empty()) {
    // "*" or an authority-form target: nothing to walk.
  } else {
    while (true) {
      auto slash = path.find('/');
      postpath.push_back(percentDecode(path.substr(0, slash)));
      if (slash == std::string_view::npos) {
        break;
      }
      path.remove_prefix(slash + 1);
    }
  }
  std::shared_ptr<Resource> resource = root_;
  std::size_t walked = 0;
  while (!postpath.empty() && !resource->isLeaf()) {
    std::string segment = postpath.front();
    postpath.erase(postpath.begin());
    prepath.push_back(segment);
    auto child = resource->getChildWithDefault(segment, request);
    if (!child) {
      return noResource();
    }
    resource = std::move(child);
    if (++walked > 4096) {
      return noResource();  // a resource tree that loops on itself
    }
  }
  return resource;
}

std::shared_ptr<Session> Site::makeSession() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char uid[33];
  for (int i = 0; i < 2; ++i) {
    std::snprintf(uid + i * 16, 17, "%016llx", static_cast<unsigned long long>(random()));
  }
  auto session = std::shared_ptr<Session>(new Session(*this, uid));
  sessions_[session->uid()] = session;
  session->touch();
  return session;
}

std::shared_ptr<Session> Site::getSession(std::string_view uid) const {
  auto it = sessions_.find(std::string(uid));
  return it == sessions_.end() ? nullptr : it->second;
}

// ---- Session ----------------------------------------------------------------------------

void Session::touch() {
  if (site_ == nullptr) {
    return;
  }
  if (expireCall_.active()) {
    expireCall_.reset(site_->options().sessionTimeout);
    return;
  }
  // The call captures the Site and the uid, not the session: the Site owns the session.
  Site* site = site_;
  std::string uid = uid_;
  expireCall_ = site->clock().callLater(site->options().sessionTimeout, [site, uid] {
    if (auto s = site->getSession(uid)) {
      s->expire();
    }
  });
}

void Session::expire() {
  if (expireCall_.active()) {
    expireCall_.cancel();
  }
  auto callbacks = std::move(onExpire_);
  onExpire_.clear();
  if (site_ != nullptr) {
    auto keep = site_->getSession(uid_);  // alive until the callbacks ran
    site_->sessions_.erase(uid_);
    site_ = nullptr;
    for (auto& f : callbacks) {
      f();
    }
  }
}

// ---- NameVirtualHost --------------------------------------------------------------------

void NameVirtualHost::addHost(std::string name, std::shared_ptr<Resource> resource) {
  for (auto& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  hosts_[std::move(name)] = std::move(resource);
}

void NameVirtualHost::removeHost(std::string_view name) {
  auto it = hosts_.find(name);
  if (it != hosts_.end()) {
    hosts_.erase(it);
  }
}

std::shared_ptr<Resource> NameVirtualHost::hostResource(Request& request) {
  std::string host = request.getRequestHostname();
  for (auto& c : host) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto it = hosts_.find(host);
  if (it != hosts_.end()) {
    return it->second;
  }
  return default_ ? default_
                  : std::make_shared<ErrorPage>(404, "No Such Resource",
                                                "host " + host + " not in vhost map");
}

std::shared_ptr<Resource> NameVirtualHost::getChild(std::string_view path, Request& request) {
  auto resource = hostResource(request);
  if (resource->isLeaf()) {
    // The leaf renders the whole path: put the segment back.
    request.postpath().insert(request.postpath().begin(), std::string(path));
    request.prepath().pop_back();
    return resource;
  }
  return resource->getChildWithDefault(path, request);
}

RenderResult NameVirtualHost::render(Request& request) {
  return hostResource(request)->render(request);
}

}  // namespace torsion::web
