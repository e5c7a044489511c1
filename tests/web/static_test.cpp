// static.File through the HTTP server over a StringTransport: path safety, directories,
// types, conditional requests, ranges, methods and streaming. (The real-TCP tests, with
// sendfile, are in static_tcp_test.cpp.)
#include "torsion/web/static.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "torsion/testing/log_capture.hpp"
#include "torsion/web/range.hpp"
#include "web/static_support.hpp"

namespace torsion::web::test {
namespace {

constexpr std::string_view kMarker = "TOP-SECRET-OUTSIDE-THE-ROOT";

// base/www is the root; base/secret and base/www2 must never be served.
struct StaticFiles : ::testing::Test {
  TempTree base;
  std::string root = base.at("www");
  torsion::testing::Clock clock;
  std::string bigData = patternOf(1000 * 1000);

  StaticFiles() {
    base.mkdir("www/sub/deeper");
    base.mkdir("www/withindex");
    base.mkdir("www/empty");
    base.mkdir("secret");
    base.mkdir("www2");
    base.write("www/hello.txt", "hello, world\n");
    base.write("www/README", "no extension\n");
    base.write("www/.hidden", "a dotfile\n");
    base.write("www/page.html", "<p>page</p>\n");
    base.write("www/big.bin", bigData);
    base.write("www/space name.txt", "spaces\n");
    base.write("www/sub/page.html", "<p>sub page</p>\n");
    base.write("www/sub/deeper/x.txt", "deep\n");
    base.write("www/withindex/index.html", "<p>the index</p>\n");
    base.write("www/archive.tar.gz", "not really gzip");
    base.write("secret/secret.txt", std::string(kMarker) + "\n");
    base.write("www2/secret.txt", std::string(kMarker) + " sibling\n");
    base.symlink("hello.txt", "www/link-inside.txt");
    base.symlink("sub", "www/link-to-sub");
    base.symlink("../secret/secret.txt", "www/link-outside.txt");
    base.symlink(base.at("secret/secret.txt"), "www/link-absolute.txt");
    base.symlink("../secret", "www/link-dir-outside");
    base.symlink("/etc", "www/etc-link");
    base.symlink("nowhere", "www/dangling");
  }

  std::shared_ptr<Site> makeSite(FileOptions options = {}) {
    return std::make_shared<Site>(std::make_shared<File>(root, std::move(options)), clock);
  }

  // One request on a fresh connection; the response, parsed.
  Response request(Site& site, std::string_view method, std::string_view target,
                   std::vector<std::string> headers = {}) {
    std::string bytes =
        std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n";
    for (const auto& h : headers) {
      bytes += h + "\r\n";
    }
    if (method == "POST" || method == "PUT") {
      bytes += "Content-Length: 0\r\n";
    }
    bytes += "\r\n";
    Conversation c(site);
    c.send(bytes);
    ResponseReader reader({std::string(method)});
    EXPECT_TRUE(reader.feed(c.transport().value())) << c.transport().value().substr(0, 300);
    EXPECT_EQ(reader.responses().size(), 1u) << target;
    if (reader.responses().empty()) {
      return {};
    }
    Response r = reader.responses()[0];
    EXPECT_TRUE(r.complete) << target;
    return r;
  }
  Response get(std::string_view target, std::vector<std::string> headers = {},
               FileOptions options = {}) {
    auto site = makeSite(std::move(options));
    return request(*site, "GET", target, std::move(headers));
  }
};

// ---- path safety --------------------------------------------------------------------------

struct Traversal {
  const char* target;
  int status;  // 404 from File, 400 from the request parser
};

// Every one of these must be refused, with either resolver.
const Traversal kTraversals[] = {
    {"/../secret/secret.txt", 404},
    {"/../../../../../../../../etc/passwd", 404},
    {"/%2e%2e/secret/secret.txt", 404},
    {"/%2E%2e/secret/secret.txt", 404},
    {"/%2e%2E/secret/secret.txt", 404},
    {"/.%2e/secret/secret.txt", 404},
    {"/%2e./secret/secret.txt", 404},
    {"/%2e%2e%2fsecret%2fsecret.txt", 404},
    {"/..%2fsecret%2fsecret.txt", 404},
    {"/..%2F..%2F..%2F..%2Fetc%2Fpasswd", 404},
    {"/sub/../../secret/secret.txt", 404},
    {"/sub/%2e%2e/%2e%2e/secret/secret.txt", 404},
    {"/sub/..%2f..%2fsecret/secret.txt", 404},
    {"/..%5csecret%5csecret.txt", 404},
    {"/sub%5c..%5c..%5csecret%5csecret.txt", 404},
    {"/%252e%252e/secret/secret.txt", 404},
    {"/../www2/secret.txt", 404},
    {"/%2e%2e/www2/secret.txt", 404},
    {"/..;/secret/secret.txt", 404},
    {"/%c0%ae%c0%ae/secret/secret.txt", 404},
    {"/%2fetc%2fpasswd", 404},
    {"//etc/passwd", 404},
    {"/etc/passwd", 404},
    {"/hello.txt%00.html", 404},
    {"/%00", 404},
    {"/sub/.", 404},
    {"/./hello.txt", 404},
    {"/sub//page.html", 404},
    {"/link-outside.txt", 404},
    {"/link-absolute.txt", 404},
    {"/link-dir-outside/secret.txt", 404},
    {"/link-dir-outside/", 404},
    {"/etc-link/passwd", 404},
    {"/dangling", 404},
    {"/hello.txt/", 404},
    {"/hello.txt/..", 404},
    {"../secret/secret.txt", 400},
    {"/sub/\\..\\..\\secret", 404},
};

struct PathSafety : StaticFiles, ::testing::WithParamInterface<BeneathResolver> {};

TEST_P(PathSafety, everyTraversalIsRefusedAndNothingLeaks) {
  FileOptions options;
  options.resolver = GetParam();
  auto site = makeSite(options);
  std::string absolute = base.at("secret/secret.txt");
  std::vector<std::string> targets;
  std::vector<int> statuses;
  for (const auto& t : kTraversals) {
    targets.emplace_back(t.target);
    statuses.push_back(t.status);
  }
  targets.push_back(absolute);
  statuses.push_back(404);
  targets.push_back("/" + absolute);
  statuses.push_back(404);
  targets.push_back("/%2f" + absolute.substr(1));
  statuses.push_back(404);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    SCOPED_TRACE(targets[i]);
    Response r = request(*site, "GET", targets[i]);
    EXPECT_EQ(r.status, statuses[i]);
    EXPECT_EQ(r.body.find(kMarker), std::string::npos);
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
  }
  // Still serving afterwards.
  EXPECT_EQ(request(*site, "GET", "/hello.txt").body, "hello, world\n");
}

TEST_P(PathSafety, symlinksInsideTheRootAreFollowed) {
  FileOptions options;
  options.resolver = GetParam();
  auto site = makeSite(options);
  Response r = request(*site, "GET", "/link-inside.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, world\n");
  r = request(*site, "GET", "/link-to-sub/page.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<p>sub page</p>\n");
}

TEST_P(PathSafety, openBeneathRefusesEveryWayOut) {
  struct Case {
    const char* relative;
    int error;  // expected -result; 0: opens
  };
  const Case cases[] = {
      {"hello.txt", 0},
      {"sub/page.html", 0},
      {"sub/../hello.txt", 0},  // ".." that stays inside is harmless here (File refuses it anyway)
      {"link-inside.txt", 0},
      {"link-to-sub/page.html", 0},
      {"..", EXDEV},
      {"../secret/secret.txt", EXDEV},
      {"sub/../../secret/secret.txt", EXDEV},
      {"/etc/passwd", EXDEV},
      {"link-outside.txt", EXDEV},
      {"link-absolute.txt", EXDEV},
      {"link-dir-outside/secret.txt", EXDEV},
      {"etc-link/passwd", EXDEV},
      {"missing.txt", ENOENT},
      {"hello.txt/x", ENOTDIR},
      {"dangling", ENOENT},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.relative);
    int fd = openBeneath(root, c.relative, O_RDONLY, GetParam());
    if (c.error == 0) {
      EXPECT_GE(fd, 0);
    } else {
      EXPECT_EQ(fd, -c.error);
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }
  // A NUL cannot smuggle a shorter path through.
  EXPECT_EQ(openBeneath(root, std::string_view("hello.txt\0/../x", 15), O_RDONLY, GetParam()),
            -ENOENT);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, PathSafety,
                         ::testing::Values(BeneathResolver::openat2, BeneathResolver::realpath),
                         [](const ::testing::TestParamInfo<BeneathResolver>& info) {
                           return std::string(info.param == BeneathResolver::openat2 ? "openat2"
                                                                                     : "realpath");
                         });

TEST_F(StaticFiles, dotfilesAreServedAsTwistedDoesUnlessHidden) {
  EXPECT_EQ(get("/.hidden").status, 200);
  FileOptions options;
  options.hideDotfiles = true;
  EXPECT_EQ(get("/.hidden", {}, options).status, 404);
  EXPECT_EQ(get("/.hidden/x", {}, options).status, 404);
  Response listing = get("/", {}, options);
  EXPECT_EQ(listing.body.find(".hidden"), std::string::npos);
  EXPECT_NE(get("/").body.find(".hidden"), std::string::npos);
}

TEST_F(StaticFiles, aSpecialFileIsForbiddenAndNeverBlocks) {
  ASSERT_EQ(::mkfifo(base.at("www/fifo").c_str(), 0644), 0);
  Response r = get("/fifo");
  EXPECT_EQ(r.status, 403);
}

TEST_F(StaticFiles, anUnreadableFileIsForbidden) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root reads every file";
  }
  base.write("www/locked.txt", "locked");
  ::chmod(base.at("www/locked.txt").c_str(), 0);
  EXPECT_EQ(get("/locked.txt").status, 403);
}

// ---- files and directories ------------------------------------------------------------------

TEST_F(StaticFiles, servesAFileWithItsHeaders) {
  base.touch("www/hello.txt", 784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  Response r = get("/hello.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, world\n");
  EXPECT_EQ(r.header("Content-Type"), "text/plain");
  EXPECT_EQ(r.header("Content-Length"), "13");
  EXPECT_EQ(r.header("Accept-Ranges"), "bytes");
  EXPECT_EQ(r.header("Last-Modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(r.header("ETag"));
  EXPECT_EQ(r.header("ETag")->front(), '"');  // strong
  EXPECT_FALSE(r.header("Content-Encoding"));
}

TEST_F(StaticFiles, namesWithSpacesAndEncodedCharactersAreFound) {
  EXPECT_EQ(get("/space%20name.txt").body, "spaces\n");
  EXPECT_EQ(get("/%68ello.txt").body, "hello, world\n");
}

TEST_F(StaticFiles, aMissingFileIs404WithTwistedsMessage) {
  Response r = get("/no/such/file.txt");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("File not found."), std::string::npos);
  EXPECT_EQ(get("/nope.html").status, 404);
}

TEST_F(StaticFiles, aDirectoryWithoutTheSlashRedirectsToIt) {
  Response r = get("/sub");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("Location"), "/sub/");
  r = get("/sub/deeper?a=1&b=%20");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("Location"), "/sub/deeper/?a=1&b=%20");
  r = get("/space%20dir", {}, {});
  EXPECT_EQ(r.status, 404);
  base.mkdir("www/space dir");
  r = get("/space%20dir");
  EXPECT_EQ(r.header("Location"), "/space%20dir/");
}

TEST_F(StaticFiles, theRootRedirectsToSlashWhenMountedBelowAnotherResource) {
  auto top = std::make_shared<Resource>();
  top->putChild("static", std::make_shared<File>(root));
  auto site = std::make_shared<Site>(top, clock);
  Response r = request(*site, "GET", "/static");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.header("Location"), "/static/");
  EXPECT_EQ(request(*site, "GET", "/static/hello.txt").body, "hello, world\n");
}

TEST_F(StaticFiles, aDirectoryServesItsIndexFile) {
  Response r = get("/withindex/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<p>the index</p>\n");
  EXPECT_EQ(r.header("Content-Type"), "text/html");
  FileOptions options;
  options.indexNames = {"page.html"};
  EXPECT_EQ(get("/sub/", {}, options).body, "<p>sub page</p>\n");
  // An index name that is a directory does not count.
  base.mkdir("www/empty/index.html");
  EXPECT_NE(get("/empty/").body.find("Directory listing for /empty/"), std::string::npos);
}

TEST_F(StaticFiles, aDirectoryWithoutIndexIsListed) {
  Response r = get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
  const std::string& html = r.body;
  EXPECT_NE(html.find("Directory listing for /"), std::string::npos);
  for (const char* link :
       {"href=\"hello.txt\"", "href=\"big.bin\"", "href=\"sub/\"", "href=\"withindex/\"",
        "href=\"space%20name.txt\"", "href=\"link-inside.txt\"", "href=\"link-to-sub/\""}) {
    EXPECT_NE(html.find(link), std::string::npos) << link;
  }
  // Directories first, then files, each sorted.
  EXPECT_LT(html.find("href=\"withindex/\""), html.find("href=\"README\""));
  EXPECT_LT(html.find("href=\"README\""), html.find("href=\"big.bin\""));
  EXPECT_NE(html.find("[Directory]"), std::string::npos);
  EXPECT_NE(html.find("976K"), std::string::npos);  // big.bin, as Twisted's formatFileSize
  EXPECT_NE(html.find("[text/plain]"), std::string::npos);
  EXPECT_NE(html.find("[gzip]"), std::string::npos);  // archive.tar.gz
  // Symlinks leading out of the root, and dangling ones, are not shown.
  EXPECT_EQ(html.find("link-outside"), std::string::npos);
  EXPECT_EQ(html.find("link-absolute"), std::string::npos);
  EXPECT_EQ(html.find("link-dir-outside"), std::string::npos);
  EXPECT_EQ(html.find("etc-link"), std::string::npos);
  EXPECT_EQ(html.find("dangling"), std::string::npos);
  EXPECT_EQ(html.find(kMarker), std::string::npos);
}

TEST_F(StaticFiles, listingEscapesNamesAndEncodesLinks) {
  base.write("www/empty/<b>&\"x'.txt", "x");
  base.write("www/empty/a:b?c#d.txt", "y");
  Response r = get("/empty/");
  const std::string& html = r.body;
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;&amp;&quot;x&#39;.txt"), std::string::npos);
  EXPECT_NE(html.find("href=\"%3Cb%3E%26%22x%27.txt\""), std::string::npos);
  EXPECT_NE(html.find("href=\"a%3Ab%3Fc%23d.txt\""), std::string::npos);
  // The links work.
  EXPECT_EQ(get("/empty/%3Cb%3E%26%22x%27.txt").body, "x");
  EXPECT_EQ(get("/empty/a%3Ab%3Fc%23d.txt").body, "y");
  // The title comes from the URL, escaped too.
  base.mkdir("www/<i>");
  EXPECT_NE(get("/%3Ci%3E/").body.find("Directory listing for /&lt;i&gt;/"), std::string::npos);
}

TEST_F(StaticFiles, listingCanBeTurnedOff) {
  FileOptions options;
  options.directoryListing = false;
  EXPECT_EQ(get("/sub/", {}, options).status, 403);
  EXPECT_EQ(get("/withindex/", {}, options).status, 200);
}

TEST_F(StaticFiles, aSingleFileCanBeTheResource) {
  auto top = std::make_shared<Resource>();
  top->putChild("h", std::make_shared<File>(base.at("www/hello.txt")));
  auto site = std::make_shared<Site>(top, clock);
  Response r = request(*site, "GET", "/h");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, world\n");
  EXPECT_EQ(r.header("Content-Type"), "text/plain");
  EXPECT_EQ(request(*site, "GET", "/h/x").status, 404);
}

TEST_F(StaticFiles, ignoredExtensionsFindTheFile) {
  FileOptions options;
  options.ignoredExts = {".txt", ".html"};
  EXPECT_EQ(get("/hello", {}, options).body, "hello, world\n");
  EXPECT_EQ(get("/sub/page", {}, options).body, "<p>sub page</p>\n");
  EXPECT_EQ(get("/hello", {}).status, 404);
  options.ignoredExts = {"*"};
  Response r = get("/page", {}, options);
  EXPECT_EQ(r.body, "<p>page</p>\n");
  EXPECT_EQ(r.header("Content-Type"), "text/html");
  // Never a way out.
  EXPECT_EQ(get("/link-outside", {}, options).status, 404);
}

TEST_F(StaticFiles, putChildResourcesSitBesideTheFiles) {
  struct Hello : Resource {
    RenderResult renderGET(Request&) override { return "dynamic"; }
  };
  auto file = std::make_shared<File>(root);
  file->putChild("dyn", std::make_shared<Hello>());
  auto site = std::make_shared<Site>(file, clock);
  EXPECT_EQ(request(*site, "GET", "/dyn").body, "dynamic");
  EXPECT_EQ(request(*site, "GET", "/hello.txt").body, "hello, world\n");
}

// ---- types ------------------------------------------------------------------------------------

TEST_F(StaticFiles, typesAndEncodingsComeFromTheExtension) {
  base.write("www/types.JSON", "{}");
  EXPECT_EQ(get("/page.html").header("Content-Type"), "text/html");
  EXPECT_EQ(get("/types.JSON").header("Content-Type"), "application/json");
  Response r = get("/archive.tar.gz");
  EXPECT_EQ(r.header("Content-Type"), "application/x-tar");
  EXPECT_EQ(r.header("Content-Encoding"), "gzip");
  EXPECT_EQ(get("/README").header("Content-Type"), "application/octet-stream");
  FileOptions options;
  options.defaultType = "text/html";  // Twisted's default, twistd web --mime-type
  EXPECT_EQ(get("/README", {}, options).header("Content-Type"), "text/html");
  options.contentEncodings.clear();
  EXPECT_FALSE(get("/archive.tar.gz", {}, options).header("Content-Encoding"));
  auto custom = std::make_shared<MimeTypes>();
  custom->add("txt", "text/x-custom");
  options.mimeTypes = custom;
  EXPECT_EQ(get("/hello.txt", {}, options).header("Content-Type"), "text/x-custom");
}

TEST_F(StaticFiles, extraHeadersGoOnEveryResponse) {
  FileOptions options;
  options.extraHeaders = {{"X-Extra", "yes"}, {"X-Extra", "twice"}};
  auto site = makeSite(options);
  for (auto [method, target] :
       {std::pair{"GET", "/hello.txt"}, std::pair{"GET", "/nope"}, std::pair{"GET", "/../x"},
        std::pair{"GET", "/sub"}, std::pair{"GET", "/sub/"}, std::pair{"POST", "/hello.txt"},
        std::pair{"HEAD", "/big.bin"}}) {
    SCOPED_TRACE(target);
    Response r = request(*site, method, target);
    EXPECT_EQ(r.header("X-Extra"), "yes");
    EXPECT_EQ(r.count("X-Extra"), 2);
  }
}

// ---- methods ----------------------------------------------------------------------------------

TEST_F(StaticFiles, otherMethodsGet405WithAllow) {
  auto site = makeSite();
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    Response r = request(*site, method, "/hello.txt");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.header("Allow"), "GET, HEAD");
  }
}

TEST_F(StaticFiles, headSendsTheHeadersOfGetWithoutTheBody) {
  auto site = makeSite();
  Conversation c(*site);
  c.send("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  ResponseReader reader({"HEAD", "GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 2u);
  Response& head = reader.responses()[0];
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(bigData.size()));
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(reader.responses()[1].body, "hello, world\n");
  // Nothing was read for the HEAD: the whole output is small.
  EXPECT_LT(c.transport().value().size(), 2000u);
}

// ---- conditional requests -----------------------------------------------------------------------

TEST_F(StaticFiles, ifModifiedSinceGives304) {
  base.touch("www/hello.txt", 784111777);
  Response r = get("/hello.txt", {"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"});
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
  EXPECT_FALSE(r.header("Content-Length"));
  EXPECT_EQ(get("/hello.txt", {"If-Modified-Since: Sun, 06 Nov 1994 09:00:00 GMT"}).status, 304);
  r = get("/hello.txt", {"If-Modified-Since: Sat, 01 Jan 1994 00:00:00 GMT"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello, world\n");
  EXPECT_EQ(get("/hello.txt", {"If-Modified-Since: yesterday"}).status, 200);
}

TEST_F(StaticFiles, ifNoneMatchGives304AndTakesPrecedence) {
  std::string etag = *get("/hello.txt").header("ETag");
  EXPECT_EQ(get("/hello.txt", {"If-None-Match: " + etag}).status, 304);
  EXPECT_EQ(get("/hello.txt", {"If-None-Match: \"other\", " + etag}).status, 304);
  EXPECT_EQ(get("/hello.txt", {"If-None-Match: W/" + etag}).status, 304);  // weak comparison
  EXPECT_EQ(get("/hello.txt", {"If-None-Match: *"}).status, 304);
  EXPECT_EQ(get("/hello.txt", {"If-None-Match: \"other\""}).status, 200);
  // A non-matching If-None-Match wins over a matching If-Modified-Since.
  EXPECT_EQ(get("/hello.txt",
                {"If-None-Match: \"other\"", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"})
                .status,
            200);
  // A file that changes gets a new tag.
  base.touch("www/hello.txt", 1000000000);
  EXPECT_NE(*get("/hello.txt").header("ETag"), etag);
  EXPECT_EQ(get("/hello.txt", {"If-None-Match: " + etag}).status, 200);
}

// ---- ranges -------------------------------------------------------------------------------------

TEST_F(StaticFiles, aSingleRangeGives206WithContentRange) {
  const auto size = std::to_string(bigData.size());
  Response r = get("/big.bin", {"Range: bytes=1000-1999"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Range"), "bytes 1000-1999/" + size);
  EXPECT_EQ(r.header("Content-Length"), "1000");
  EXPECT_TRUE(r.body == bigData.substr(1000, 1000));

  r = get("/big.bin", {"Range: bytes=-500"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Range"), "bytes " + std::to_string(bigData.size() - 500) + "-" +
                                           std::to_string(bigData.size() - 1) + "/" + size);
  EXPECT_TRUE(r.body == bigData.substr(bigData.size() - 500));

  r = get("/big.bin", {"Range: bytes=999990-"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == bigData.substr(999990));

  // A last position past the end is clamped; a suffix longer than the file is the file.
  r = get("/hello.txt", {"Range: bytes=7-100"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "world\n");
  EXPECT_EQ(r.header("Content-Range"), "bytes 7-12/13");
  r = get("/hello.txt", {"Range: bytes=-100"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "hello, world\n");
}

TEST_F(StaticFiles, aLargeRangeIsStreamed) {
  Response r = get("/big.bin", {"Range: bytes=100000-899999"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Length"), "800000");
  ASSERT_EQ(r.body.size(), 800000u);
  EXPECT_TRUE(r.body == bigData.substr(100000, 800000));
}

TEST_F(StaticFiles, anUnsatisfiableRangeGives416) {
  Response r = get("/hello.txt", {"Range: bytes=13-"});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("Content-Range"), "bytes */13");
  r = get("/hello.txt", {"Range: bytes=100-200,300-400"});
  EXPECT_EQ(r.status, 416);
  base.write("www/empty.txt", "");
  EXPECT_EQ(get("/empty.txt", {"Range: bytes=0-"}).status, 416);
  EXPECT_EQ(get("/empty.txt").status, 200);
}

TEST_F(StaticFiles, anInvalidRangeIsIgnored) {
  for (const char* header : {"Range: bytes=5-1", "Range: items=0-1", "Range: bytes=abc",
                             "Range: bytes=0-1;2-3", "Range: bytes", "Range: bytes=0-0,-0,x"}) {
    SCOPED_TRACE(header);
    Response r = get("/hello.txt", {header});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello, world\n");
    EXPECT_FALSE(r.header("Content-Range"));
  }
}

// The parts of a multipart/byteranges body, as (Content-Range, data).
std::vector<std::pair<std::string, std::string>> multipartParts(const Response& r) {
  std::vector<std::pair<std::string, std::string>> parts;
  std::string type = r.header("Content-Type").value_or("");
  auto at = type.find("boundary=");
  if (type.rfind("multipart/byteranges", 0) != 0 || at == std::string::npos) {
    ADD_FAILURE() << "not multipart: " << type;
    return parts;
  }
  std::string delimiter = "\r\n--" + type.substr(at + 9);
  std::string_view body = r.body;
  std::size_t pos = body.find(delimiter);
  while (pos != std::string_view::npos) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") {
      EXPECT_EQ(body.substr(pos), "--\r\n");
      break;
    }
    auto headEnd = body.find("\r\n\r\n", pos);
    auto next = body.find(delimiter, headEnd);
    if (headEnd == std::string_view::npos || next == std::string_view::npos) {
      ADD_FAILURE() << "truncated multipart body";
      break;
    }
    std::string_view head = body.substr(pos, headEnd - pos);
    auto cr = head.find("Content-Range: ");
    std::string range;
    if (cr != std::string_view::npos) {
      range = std::string(head.substr(cr + 15, head.find("\r\n", cr) - cr - 15));
    }
    parts.emplace_back(range, std::string(body.substr(headEnd + 4, next - headEnd - 4)));
    pos = next;
  }
  return parts;
}

TEST_F(StaticFiles, severalRangesGiveMultipartByteranges) {
  const auto size = std::to_string(bigData.size());
  Response r = get("/big.bin", {"Range: bytes=0-9, 100-109,-5"});
  EXPECT_EQ(r.status, 206);
  EXPECT_FALSE(r.header("Content-Range"));
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  auto parts = multipartParts(r);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].first, "bytes 0-9/" + size);
  EXPECT_EQ(parts[0].second, bigData.substr(0, 10));
  EXPECT_EQ(parts[1].first, "bytes 100-109/" + size);
  EXPECT_EQ(parts[1].second, bigData.substr(100, 10));
  EXPECT_EQ(parts[2].second, bigData.substr(bigData.size() - 5));
  EXPECT_NE(r.body.find("Content-Type: application/octet-stream"), std::string::npos);
}

TEST_F(StaticFiles, severalLargeRangesAreStreamed) {
  Response r = get("/big.bin", {"Range: bytes=0-199999,500000-799999"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  auto parts = multipartParts(r);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_TRUE(parts[0].second == bigData.substr(0, 200000));
  EXPECT_TRUE(parts[1].second == bigData.substr(500000, 300000));
}

TEST_F(StaticFiles, unsatisfiableRangesAmongSeveralAreDropped) {
  Response r = get("/hello.txt", {"Range: bytes=0-4,100-200"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Range"), "bytes 0-4/13");
  EXPECT_EQ(r.body, "hello");
}

TEST_F(StaticFiles, overlappingOrTooManyRangesAreIgnored) {
  EXPECT_EQ(get("/hello.txt", {"Range: bytes=0-,0-"}).status, 200);
  std::string many = "Range: bytes=";
  for (int i = 0; i < 101; ++i) {
    many += std::to_string(i) + "-" + std::to_string(i) + ",";
  }
  EXPECT_EQ(get("/big.bin", {many}).status, 200);
}

TEST_F(StaticFiles, ifRangeAppliesTheRangeOnlyWhileTheValidatorMatches) {
  base.touch("www/hello.txt", 784111777);
  std::string etag = *get("/hello.txt").header("ETag");
  EXPECT_EQ(get("/hello.txt", {"Range: bytes=0-4", "If-Range: " + etag}).status, 206);
  EXPECT_EQ(get("/hello.txt", {"Range: bytes=0-4", "If-Range: \"stale\""}).status, 200);
  EXPECT_EQ(get("/hello.txt", {"Range: bytes=0-4", "If-Range: W/" + etag}).status, 200);
  EXPECT_EQ(
      get("/hello.txt", {"Range: bytes=0-4", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT"}).status,
      206);
  EXPECT_EQ(
      get("/hello.txt", {"Range: bytes=0-4", "If-Range: Sun, 06 Nov 1994 08:49:38 GMT"}).status,
      200);
}

TEST_F(StaticFiles, headWithARangeDescribesThePart) {
  auto site = makeSite();
  Response r = request(*site, "HEAD", "/big.bin", {"Range: bytes=10-19"});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("Content-Length"), "10");
  EXPECT_EQ(r.body, "");
}

// ---- streaming ----------------------------------------------------------------------------------

TEST_F(StaticFiles, aLargeFileIsReadOneChunkPerResume) {
  FileOptions options;
  options.chunkSize = 16 * 1024;
  auto site = makeSite(options);
  Conversation c(*site);
  c.channel().dataReceived("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  // A pull producer: nothing of the body until the transport asks.
  ASSERT_NE(c.transport().producer(), nullptr);
  EXPECT_FALSE(c.transport().streaming());
  std::size_t before = c.transport().value().size();
  c.transport().producer()->resumeProducing();
  std::size_t after = c.transport().value().size();
  EXPECT_LE(after - before, 16u * 1024 + 1024);  // one chunk (and the headers)
  EXPECT_GT(after, before);
  int resumes = c.pump();
  EXPECT_EQ(resumes, static_cast<int>((bigData.size() + 16383) / 16384) - 1);
  EXPECT_EQ(c.transport().producer(), nullptr);
  ResponseReader reader({"GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 1u);
  EXPECT_TRUE(reader.responses()[0].body == bigData);
}

TEST_F(StaticFiles, pipelinedLargeFilesAreAnsweredInOrder) {
  base.write("www/big2.bin", patternOf(300000, 7));
  auto site = makeSite();
  Conversation c(*site);
  c.send(
      "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /big2.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ResponseReader reader({"GET", "GET", "GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 3u);
  EXPECT_TRUE(reader.responses()[0].body == bigData);
  EXPECT_EQ(reader.responses()[1].body, "hello, world\n");
  EXPECT_TRUE(reader.responses()[2].body == patternOf(300000, 7));
  EXPECT_FALSE(c.transport().connected());
}

TEST_F(StaticFiles, aConnectionLostMidFileStopsTheSender) {
  auto site = makeSite();
  std::optional<Failure> lost;
  Conversation c(*site);
  c.channel().dataReceived("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(c.transport().producer(), nullptr);
  c.transport().producer()->resumeProducing();
  c.transport().loseConnection();  // the channel's connectionLost: the sender lets go
  std::size_t written = c.transport().value().size();
  EXPECT_LT(written, bigData.size());
  // (ASan reports a sender or request that stayed alive.)
}

TEST_F(StaticFiles, aFileThatShrinksWhileSentClosesTheConnection) {
  torsion::testing::LogCapture capture;
  auto site = makeSite();
  Conversation c(*site);
  c.channel().dataReceived("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(c.transport().producer(), nullptr);
  c.transport().producer()->resumeProducing();
  ASSERT_EQ(::truncate(base.at("www/big.bin").c_str(), 100000), 0);
  c.pump();
  EXPECT_FALSE(c.transport().connected());
  EXPECT_LT(c.transport().value().size(), bigData.size());
  EXPECT_TRUE(capture.contains("the file shrank while being sent"));
}

TEST_F(StaticFiles, sendfileCarriesTheBodyWhenTheTransportOffersIt) {
  auto site = makeSite();
  BasicConversation<SendfileStringTransport> c(*site);
  c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.transport().calls, 10);  // 1 MB, 100 kB per call
  ResponseReader reader({"GET", "GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 2u);
  EXPECT_TRUE(reader.responses()[0].body == bigData);
  EXPECT_EQ(reader.responses()[1].body, "hello, world\n");
}

TEST_F(StaticFiles, sendfileInterleavesMultipartHeadersInOrder) {
  auto site = makeSite();
  BasicConversation<SendfileStringTransport> c(*site);
  c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-149999,-200000\r\n\r\n");
  EXPECT_GE(c.transport().calls, 4);
  ResponseReader reader({"GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 1u);
  auto parts = multipartParts(reader.responses()[0]);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_TRUE(parts[0].second == bigData.substr(0, 150000));
  EXPECT_TRUE(parts[1].second == bigData.substr(bigData.size() - 200000));
}

TEST_F(StaticFiles, aFileSendfileCannotSendIsReadInstead) {
  auto site = makeSite();
  BasicConversation<SendfileStringTransport> c(*site);
  c.transport().refuse = EINVAL;
  c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.transport().calls, 1);
  ResponseReader reader({"GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 1u);
  EXPECT_TRUE(reader.responses()[0].body == bigData);
}

TEST_F(StaticFiles, sendfileCanBeTurnedOff) {
  FileOptions options;
  options.useSendfile = false;
  auto site = makeSite(options);
  BasicConversation<SendfileStringTransport> c(*site);
  c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.transport().calls, 0);
  ResponseReader reader({"GET"});
  ASSERT_TRUE(reader.feed(c.transport().value()));
  ASSERT_EQ(reader.responses().size(), 1u);
  EXPECT_TRUE(reader.responses()[0].body == bigData);
}

// ---- the Range parser ---------------------------------------------------------------------------

struct RangeCase {
  const char* header;
  std::uint64_t size;
  RangeStatus status;
  std::vector<ByteRange> ranges;
};

TEST(RangeHeader, parsesEveryFormAndSurvivesGarbage) {
  using S = RangeStatus;
  const RangeCase cases[] = {
      {"bytes=0-499", 1000, S::satisfiable, {{0, 499}}},
      {"bytes=500-999", 1000, S::satisfiable, {{500, 999}}},
      {"bytes=500-", 1000, S::satisfiable, {{500, 999}}},
      {"bytes=-500", 1000, S::satisfiable, {{500, 999}}},
      {"bytes=-5000", 1000, S::satisfiable, {{0, 999}}},
      {"bytes=0-0", 1000, S::satisfiable, {{0, 0}}},
      {"bytes=999-", 1000, S::satisfiable, {{999, 999}}},
      {"bytes=900-5000", 1000, S::satisfiable, {{900, 999}}},
      {"BYTES=0-1", 1000, S::satisfiable, {{0, 1}}},
      {"Bytes=0-1", 1000, S::satisfiable, {{0, 1}}},
      {"bytes=0-1,5-6", 1000, S::satisfiable, {{0, 1}, {5, 6}}},
      {"bytes=0-1 , 5-6", 1000, S::satisfiable, {{0, 1}, {5, 6}}},
      {"bytes=0-1,\t5-6", 1000, S::satisfiable, {{0, 1}, {5, 6}}},
      {"bytes=0-1,,5-6,", 1000, S::satisfiable, {{0, 1}, {5, 6}}},  // empty elements
      {"bytes=5-6,0-1", 1000, S::satisfiable, {{5, 6}, {0, 1}}},    // order kept
      {"bytes=0-1,2000-3000", 1000, S::satisfiable, {{0, 1}}},
      {"bytes=1000-", 1000, S::unsatisfiable, {}},
      {"bytes=1000-2000", 1000, S::unsatisfiable, {}},
      {"bytes=-0", 1000, S::unsatisfiable, {}},
      {"bytes=0-", 0, S::unsatisfiable, {}},
      {"bytes=-1", 0, S::unsatisfiable, {}},
      {"bytes=2000-,3000-", 1000, S::unsatisfiable, {}},
      {"bytes=18446744073709551615-", 1000, S::unsatisfiable, {}},
      // Invalid: ignored.
      {"", 1000, S::ignore, {}},
      {"bytes", 1000, S::ignore, {}},
      {"bytes=", 1000, S::ignore, {}},
      {"bytes=,", 1000, S::ignore, {}},
      {"bytes=-", 1000, S::ignore, {}},
      {"bytes=--1", 1000, S::ignore, {}},
      {"bytes=1--2", 1000, S::ignore, {}},
      {"bytes=1-2-3", 1000, S::ignore, {}},
      {"bytes=5-1", 1000, S::ignore, {}},
      {"bytes=0-1,5-1", 1000, S::ignore, {}},
      {"bytes=1", 1000, S::ignore, {}},
      {"bytes=a-b", 1000, S::ignore, {}},
      {"bytes=0x10-20", 1000, S::ignore, {}},
      {"bytes=+1-2", 1000, S::ignore, {}},
      {"bytes=1 -2", 1000, S::ignore, {}},
      {"bytes=1- 2", 1000, S::ignore, {}},
      {"bytes=1-2;3-4", 1000, S::ignore, {}},
      {"bytes =0-1", 1000, S::ignore, {}},
      {"byte=0-1", 1000, S::ignore, {}},
      {"items=0-1", 1000, S::ignore, {}},
      {"bytes=18446744073709551616-", 1000, S::ignore, {}},
      {"bytes=0-18446744073709551616", 1000, S::ignore, {}},
      {"bytes=-99999999999999999999999", 1000, S::ignore, {}},
      {"bytes=0-1\r\n", 1000, S::ignore, {}},
      {"bytes=\xff\xfe", 1000, S::ignore, {}},
      // Declined: overlapping ranges asking for more than the file.
      {"bytes=0-,0-", 1000, S::ignore, {}},
      {"bytes=0-999,-1", 1000, S::ignore, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.header);
    RangeSet set = parseRangeHeader(c.header, c.size);
    EXPECT_EQ(set.status, c.status);
    if (c.status == S::satisfiable) {
      EXPECT_EQ(set.ranges, c.ranges);
    }
  }
  EXPECT_EQ(parseRangeHeader(std::string_view("bytes=0-1\0", 10), 100).status, S::ignore);
}

TEST(RangeHeader, tooManyRangesAreDeclined) {
  std::string header = "bytes=";
  for (int i = 0; i < 10; ++i) {
    header += std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1) + ",";
  }
  EXPECT_EQ(parseRangeHeader(header, 1000, 10).status, RangeStatus::satisfiable);
  EXPECT_EQ(parseRangeHeader(header + "200-201", 1000, 10).status, RangeStatus::ignore);
}

TEST(RangeHeader, neverThrowsOnRandomBytes) {
  std::uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<unsigned>(state >> 33);
  };
  const char alphabet[] = "bytes=0123456789-, \t;xX\0\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string header = i % 2 ? "bytes=" : "";
    int len = static_cast<int>(next() % 24);
    for (int j = 0; j < len; ++j) {
      header += alphabet[next() % (sizeof alphabet - 1)];
    }
    std::uint64_t size = next() % 50;
    RangeSet set = parseRangeHeader(header, size);
    for (const auto& r : set.ranges) {
      ASSERT_LE(r.first, r.last) << header;
      ASSERT_LT(r.last, size) << header;
    }
    if (set.status == RangeStatus::satisfiable) {
      ASSERT_FALSE(set.ranges.empty());
    }
  }
}

// ---- MIME types -------------------------------------------------------------------------------

TEST(MimeTypes, parsesMimeTypesFiles) {
  MimeTypes types;
  types.parse(
      "# comment\n"
      "text/html\t\thtml htm\n"
      "application/x-thing   thing  # trailing comment\n"
      "   \n"
      "notatype ext\n"
      "image/png\tPNG\r\n"
      "text/plain txt\n"
      "text/x-other txt\n");
  EXPECT_EQ(types.lookup("html"), "text/html");
  EXPECT_EQ(types.lookup(".htm"), "text/html");
  EXPECT_EQ(types.lookup("thing"), "application/x-thing");
  EXPECT_EQ(types.lookup("png"), "image/png");
  EXPECT_EQ(types.lookup("txt"), "text/x-other");  // later lines win
  EXPECT_FALSE(types.lookup("ext"));
  EXPECT_FALSE(types.lookup("comment"));
  EXPECT_EQ(types.size(), 5u);
  EXPECT_FALSE(types.load("/nonexistent/mime.types"));
}

TEST(MimeTypes, builtInTableCoversTheWeb) {
  MimeTypes types = MimeTypes::builtIn();
  const std::pair<const char*, const char*> expected[] = {
      {"html", "text/html"},      {"css", "text/css"},
      {"js", "text/javascript"},  {"json", "application/json"},
      {"xml", "application/xml"}, {"png", "image/png"},
      {"jpg", "image/jpeg"},      {"svg", "image/svg+xml"},
      {"webp", "image/webp"},     {"wasm", "application/wasm"},
      {"pdf", "application/pdf"}, {"mp4", "video/mp4"},
      {"woff2", "font/woff2"},    {"csv", "text/csv"},
      {"txt", "text/plain"},      {"ico", "image/vnd.microsoft.icon"},
  };
  for (auto [ext, type] : expected) {
    EXPECT_EQ(types.lookup(ext), type) << ext;
  }
  // The system table keeps them (from /etc/mime.types when present, else built in).
  EXPECT_EQ(MimeTypes::system().lookup("html"), "text/html");
  EXPECT_GE(MimeTypes::system().size(), types.size());
}

TEST(MimeTypes, typeAndEncodingAsTwisted) {
  MimeTypes types = MimeTypes::builtIn();
  const auto& enc = defaultContentEncodings();
  auto check = [&](const char* name, const char* type, const char* encoding) {
    TypeAndEncoding te = getTypeAndEncoding(name, types, enc, "default/type");
    EXPECT_EQ(te.type, type) << name;
    EXPECT_EQ(te.encoding, encoding) << name;
  };
  check("index.html", "text/html", "");
  check("INDEX.HTML", "text/html", "");
  check("notes.tar.gz", "application/x-tar", "gzip");
  check("notes.tar.GZ", "application/x-tar", "gzip");
  check("data.json.bz2", "application/json", "bzip2");
  check("plain.gz", "default/type", "gzip");
  check("README", "default/type", "");
  check(".bashrc", "default/type", "");
  check("..hidden", "default/type", "");
  check(".config.json", "application/json", "");
  check("dir.d/README", "default/type", "");
  check("name.", "default/type", "");
  check("file.unknownext", "default/type", "");
}

TEST(FormatFileSize, asTwisted) {
  EXPECT_EQ(formatFileSize(0), "0B");
  EXPECT_EQ(formatFileSize(1023), "1023B");
  EXPECT_EQ(formatFileSize(1024), "1K");
  EXPECT_EQ(formatFileSize(1024 * 1024 - 1), "1023K");
  EXPECT_EQ(formatFileSize(5 * 1024 * 1024), "5M");
  EXPECT_EQ(formatFileSize(3ull * 1024 * 1024 * 1024), "3G");
}

}  // namespace
}  // namespace torsion::web::test
