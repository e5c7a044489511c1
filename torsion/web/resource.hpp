// Resources: what a URL path leads to (Twisted's twisted.web.resource).
//
// A Site holds a root Resource. For each request the path's segments are walked from the root:
// at each step the current resource gives the child for the next segment (putChild'ed children
// first, then getChild()), until a resource isLeaf() or the segments run out; that resource
// renders the request. request.prepath() holds the segments walked, request.postpath() the rest.
//
//   class Hello : public Resource {
//    public:
//     bool isLeaf() const override { return true; }
//     RenderResult renderGET(Request& request) override {
//       request.setHeader("Content-Type", "text/plain");
//       return "Hello, World!";                         // written and finished at once
//     }
//   };
//
//   // Later: a coroutine (or any function returning Deferred<std::string>).
//   RenderResult renderGET(Request& request) override { return slowPage(request); }
//   Deferred<std::string> slowPage(Request& r) { auto rows = co_await db.query(); co_return
//   html(rows); }
//
// Twisted's NOT_DONE_YET is `notDoneYet`: the resource keeps the request (request.shared()) and
// calls write()/finish() later itself.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "torsion/defer/deferred.hpp"

namespace torsion::web {

class Request;

// Twisted's NOT_DONE_YET: the resource finishes the request itself, later.
struct NotDoneYet {};
inline constexpr NotDoneYet notDoneYet{};

// What render() returns.
//  - a body (std::string / string literal): written with a Content-Length, then finished;
//  - notDoneYet: the resource calls request.finish() itself (after writes);
//  - Deferred<std::string>: the body once it fires (a coroutine co_returns it);
//  - Deferred<void>: fires once the resource has written what it wanted; the request is
//    finished then if the resource did not finish it.
// A failed Deferred (or an exception from render) gives a 500 page if nothing was written yet,
// else the connection is closed; the failure is logged either way.
class RenderResult {
 public:
  RenderResult(std::string body) : v_(std::move(body)) {}
  RenderResult(const char* body) : v_(std::string(body)) {}
  RenderResult(std::string_view body) : v_(std::string(body)) {}
  RenderResult(NotDoneYet) : v_(NotDoneYet{}) {}
  RenderResult(Deferred<std::string> body) : v_(std::move(body)) {}
  RenderResult(Deferred<void> done) : v_(std::move(done)) {}

  using Variant = std::variant<std::string, NotDoneYet, Deferred<std::string>, Deferred<void>>;
  Variant& value() noexcept { return v_; }

 private:
  Variant v_;
};

class Resource : public std::enable_shared_from_this<Resource> {
 public:
  Resource() = default;
  virtual ~Resource();
  Resource(const Resource&) = delete;
  Resource& operator=(const Resource&) = delete;

  // A leaf renders every path below it itself (the rest of the path is request.postpath()).
  virtual bool isLeaf() const { return false; }

  // Adds a static child for the segment `path` (decoded; "" is the child for a trailing
  // slash). Replaces an existing one.
  void putChild(std::string path, std::shared_ptr<Resource> child);
  // The child for `path` when no static child has that name. Default: none (404).
  virtual std::shared_ptr<Resource> getChild(std::string_view path, Request& request);
  // A static child, else getChild() (Twisted's getChildWithDefault).
  std::shared_ptr<Resource> getChildWithDefault(std::string_view path, Request& request);
  const std::map<std::string, std::shared_ptr<Resource>, std::less<>>& children() const noexcept {
    return children_;
  }

  // Renders the request: calls the render<METHOD> below (HEAD: renderHEAD, which defaults to
  // renderGET with the body dropped by the server). A method with no handler here gets 405
  // with an Allow header listing allowedMethods(); an unknown method gets 501.
  virtual RenderResult render(Request& request);

  virtual RenderResult renderGET(Request& request);
  virtual RenderResult renderHEAD(Request& request);
  virtual RenderResult renderPOST(Request& request);
  virtual RenderResult renderPUT(Request& request);
  virtual RenderResult renderDELETE(Request& request);
  virtual RenderResult renderPATCH(Request& request);
  virtual RenderResult renderOPTIONS(Request& request);

  // The methods this resource answers (for 405's Allow). Default: those whose render<METHOD>
  // a subclass declared through allowMethods() (GET implies HEAD), or GET and HEAD.
  virtual std::vector<std::string> allowedMethods() const;

  // Streaming request bodies (which Twisted lacks, #4688): return true to be rendered as soon as
  // the request head has arrived, and read the body through request.receiveBody(). Default:
  // false — the server buffers the body (up to the Site's maxRequestBody, 413 beyond) and
  // renders once it is complete (request.content()).
  virtual bool streamsRequestBody(const Request& request) const;

 protected:
  // Declares which render<METHOD> overrides exist, for 405's Allow header.
  void allowMethods(std::vector<std::string> methods) { allowed_ = std::move(methods); }

 private:
  std::map<std::string, std::shared_ptr<Resource>, std::less<>> children_;
  std::vector<std::string> allowed_;
};

// A resource that answers every request with an error page (Twisted's ErrorPage, NoResource,
// ForbiddenResource).
class ErrorPage : public Resource {
 public:
  ErrorPage(int status, std::string brief, std::string detail);
  bool isLeaf() const override { return true; }
  RenderResult render(Request& request) override;
  std::shared_ptr<Resource> getChild(std::string_view, Request&) override;

 private:
  int status_;
  std::string brief_;
  std::string detail_;
};

std::shared_ptr<Resource> noResource(std::string detail = "Sorry. No luck finding that resource.");
std::shared_ptr<Resource> forbiddenResource(std::string detail = "Sorry, resource is forbidden.");

// The HTML of an error page (Twisted's format: title and heading "<status> <brief>", detail).
// `brief` and `detail` are escaped.
std::string errorPageHtml(int status, std::string_view brief, std::string_view detail);

// HTML-escapes &, <, >, " and '.
std::string escapeHtml(std::string_view text);

}  // namespace torsion::web
