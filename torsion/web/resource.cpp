#include "torsion/web/resource.hpp"

#include <algorithm>

#include "torsion/web/request.hpp"

namespace torsion::web {

// Thrown by the default render<METHOD>: the server answers 405 with the resource's
// allowedMethods() (Twisted's UnsupportedMethod).
struct UnsupportedMethod {};

Resource::~Resource() = default;

void Resource::putChild(std::string path, std::shared_ptr<Resource> child) {
  children_[std::move(path)] = std::move(child);
}

std::shared_ptr<Resource> Resource::getChild(std::string_view, Request&) { return nullptr; }

std::shared_ptr<Resource> Resource::getChildWithDefault(std::string_view path, Request& request) {
  auto it = children_.find(path);
  if (it != children_.end()) {
    return it->second;
  }
  return getChild(path, request);
}

namespace {

RenderResult methodNotAllowed(const Resource& resource, Request& request) {
  auto allowed = resource.allowedMethods();
  std::string allow;
  for (const auto& m : allowed) {
    if (!allow.empty()) {
      allow += ", ";
    }
    allow += m;
  }
  request.setResponseCode(405);
  request.setHeader("Allow", allow);
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  return errorPageHtml(405, "Method Not Allowed",
                       "Your browser approached me (at " + std::string(request.uri()) +
                           ") with the method \"" + std::string(request.method()) +
                           "\". I only allow the method" + (allowed.size() == 1 ? " " : "s ") +
                           allow + " here.");
}

}  // namespace

RenderResult Resource::render(Request& request) {
  std::string_view m = request.method();
  try {
    if (m == "GET") return renderGET(request);
    if (m == "HEAD") return renderHEAD(request);
    if (m == "POST") return renderPOST(request);
    if (m == "PUT") return renderPUT(request);
    if (m == "DELETE") return renderDELETE(request);
    if (m == "PATCH") return renderPATCH(request);
    if (m == "OPTIONS") return renderOPTIONS(request);
  } catch (const UnsupportedMethod&) {
    return methodNotAllowed(*this, request);
  }
  // A method no resource here knows (Twisted answers 501 Not Implemented for those too).
  request.setResponseCode(501);
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  return errorPageHtml(501, "Not Implemented",
                       "The method " + std::string(m) + " is not implemented by this server.");
}

RenderResult Resource::renderGET(Request&) { throw UnsupportedMethod{}; }
RenderResult Resource::renderHEAD(Request& request) { return renderGET(request); }
RenderResult Resource::renderPOST(Request&) { throw UnsupportedMethod{}; }
RenderResult Resource::renderPUT(Request&) { throw UnsupportedMethod{}; }
RenderResult Resource::renderDELETE(Request&) { throw UnsupportedMethod{}; }
RenderResult Resource::renderPATCH(Request&) { throw UnsupportedMethod{}; }
RenderResult Resource::renderOPTIONS(Request&) { throw UnsupportedMethod{}; }

std::vector<std::string> Resource::allowedMethods() const {
  if (allowed_.empty()) {
    return {"GET", "HEAD"};
  }
  std::vector<std::string> methods = allowed_;
  if (std::find(methods.begin(), methods.end(), "GET") != methods.end() &&
      std::find(methods.begin(), methods.end(), "HEAD") == methods.end()) {
    methods.push_back("HEAD");
  }
  return methods;
}

bool Resource::streamsRequestBody(const Request&) const { return false; }

// ---- error pages ------------------------------------------------------------------------

ErrorPage::ErrorPage(int status, std::string brief, std::string detail)
    : status_(status), brief_(std::move(brief)), detail_(std::move(detail)) {}

RenderResult ErrorPage::render(Request& request) {
  request.setResponseCode(status_);
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  return errorPageHtml(status_, brief_, detail_);
}

std::shared_ptr<Resource> ErrorPage::getChild(std::string_view, Request&) {
  return std::static_pointer_cast<Resource>(shared_from_this());
}

std::shared_ptr<Resource> noResource(std::string detail) {
  return std::make_shared<ErrorPage>(404, "No Such Resource", std::move(detail));
}

std::shared_ptr<Resource> forbiddenResource(std::string detail) {
  return std::make_shared<ErrorPage>(403, "Forbidden Resource", std::move(detail));
}

std::string escapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string errorPageHtml(int status, std::string_view brief, std::string_view detail) {
  std::string title = std::to_string(status) + " - " + escapeHtml(brief);
  return "<html>\n  <head><title>" + title + "</title></head>\n  <body>\n    <h1>" +
         escapeHtml(brief) + "</h1>\n    <p>" + escapeHtml(detail) + "</p>\n  </body>\n</html>\n";
}

}  // namespace torsion::web
