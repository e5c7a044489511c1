// torsiond web: a static web server (Twisted's twisted/web/tap.py, `twistd web`).
#include <CLI/CLI.hpp>

#include "torsion/app/builtin_plugins.hpp"
#include "torsion/app/internet.hpp"
#include "torsion/app/logfile.hpp"
#include "torsion/core/reactor.hpp"
#include "torsion/web/server.hpp"
#include "torsion/web/static.hpp"

namespace torsion::app {
namespace {

// What `torsiond web` serves without --path (twistd web serves its demo Test resource).
class Welcome : public web::Resource {
 public:
  bool isLeaf() const override { return true; }
  web::RenderResult renderGET(web::Request& request) override {
    request.setHeader("Content-Type", "text/html; charset=utf-8");
    return "<html><head><title>torsiond web</title></head><body><h1>torsiond web</h1>"
           "<p>It works. Serve a directory with <code>torsiond web --path DIR</code>.</p>"
           "</body></html>\n";
  }
};

class WebMaker final : public ServiceMaker {
 public:
  std::string name() const override { return "web"; }
  std::string description() const override { return "A general-purpose web server."; }

  void addOptions(CLI::App& cmd) override {
    cmd.add_option("--listen", listen_, "Endpoint to listen on (repeatable; default tcp:8080)")
        ->type_name("ENDPOINT");
    cmd.add_option("--path", path_,
                   "<path> is either a specific file or a directory to be set "
                   "as the root of the web server")
        ->type_name("PATH");
    cmd.add_option("-i,--index", index_,
                   "Add the name of a file used to check for directory "
                   "indexes (repeatable)")
        ->type_name("NAME");
    cmd.add_option("-m,--mime-type", mimeType_, "Specify the default mime-type for static files")
        ->type_name("TYPE");
    cmd.add_option("--add-header", headers_, "Add an HTTP header to every response (repeatable)")
        ->type_name("'Name: Value'");
    cmd.add_option("--ignore-ext", ignoreExt_,
                   "Specify an extension to ignore; these will be processed in order (repeatable)")
        ->type_name("EXT");
    cmd.add_flag("--allow-ignore-ext", allowIgnoreExt_,
                 "Specify whether or not a request for 'foo' should return 'foo.ext'");
    cmd.add_option("-l,--logfile", logfile_, "Access log in combined log format")
        ->type_name("FILE");
    cmd.add_flag("--display-tracebacks", tracebacks_,
                 "Show the error of a failed request in its 500 page");
    cmd.add_option("--max-request-body", maxBody_, "Largest request body accepted (bytes)")
        ->capture_default_str();
  }

  std::shared_ptr<Service> makeService(PluginContext& ctx) override {
    std::shared_ptr<web::Resource> root;
    web::FileOptions options;
    for (const auto& header : headers_) {
      auto colon = header.find(':');
      if (colon == std::string::npos || colon == 0) {
        throw UsageError("web: --add-header '" + header + "' is not 'Name: Value'");
      }
      std::string name = header.substr(0, colon);
      std::string value = header.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      try {
        web::Headers check;
        check.addRawHeader(name, value);
      } catch (const std::invalid_argument& e) {
        throw UsageError(std::string("web: --add-header: ") + e.what());
      }
      options.extraHeaders.emplace_back(std::move(name), std::move(value));
    }
    if (!index_.empty()) {
      options.indexNames = index_;
    }
    if (!mimeType_.empty()) {
      options.defaultType = mimeType_;
    }
    if (allowIgnoreExt_) {
      options.ignoredExts.push_back("*");
    }
    for (const auto& ext : ignoreExt_) {
      options.ignoredExts.push_back(ext.empty() || ext[0] == '.' ? ext : "." + ext);
    }
    if (!path_.empty()) {
      root = std::make_shared<web::File>(path_, std::move(options));
    } else {
      root = std::make_shared<Welcome>();
    }
    web::SiteOptions siteOptions;
    siteOptions.displayTracebacks = tracebacks_;
    siteOptions.maxRequestBody = maxBody_;
    if (!logfile_.empty()) {
      std::shared_ptr<LogFile> file;
      try {
        file = std::make_shared<LogFile>(logfile_);
      } catch (const std::exception& e) {
        throw UsageError(std::string("web: --logfile: ") + e.what());
      }
      siteOptions.accessLog = [file](std::string_view line) {
        std::string withNewline(line);
        withNewline += '\n';
        file->write(withNewline);
      };
    }
    auto site = std::make_shared<web::Site>(root, ctx.reactor, std::move(siteOptions));
    auto tree = std::make_shared<MultiService>();
    std::vector<std::string> listens = listen_;
    if (listens.empty()) {
      listens.push_back("tcp:8080");
    }
    for (const auto& description : listens) {
      auto service =
          std::make_shared<StreamServerEndpointService>(ctx.serverEndpoint(description), site);
      service->setServiceParent(*tree);
    }
    return tree;
  }

 private:
  std::vector<std::string> listen_;
  std::string path_;
  std::vector<std::string> index_;
  std::string mimeType_;
  std::vector<std::string> headers_;
  std::vector<std::string> ignoreExt_;
  bool allowIgnoreExt_ = false;
  std::string logfile_;
  bool tracebacks_ = false;
  std::uint64_t maxBody_ = 64 * 1024 * 1024;
};

}  // namespace

std::unique_ptr<ServiceMaker> makeWebPlugin() { return std::make_unique<WebMaker>(); }

}  // namespace torsion::app
