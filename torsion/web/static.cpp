#include "torsion/web/static.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <system_error>

#include "torsion/log/logger.hpp"
#include "torsion/net/sendfile.hpp"
#include "torsion/net/transport.hpp"
#include "torsion/web/http_syntax.hpp"
#include "torsion/web/range.hpp"
#include "torsion/web/request.hpp"

namespace torsion::web {
namespace {

const Logger& log() {
  static const Logger logger("torsion.web.static");
  return logger;
}

// An owned descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

std::string joinPath(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty()) {
    out += '/';
  }
  out.append(b);
  return out;
}

std::string_view lastSegment(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// A decoded path segment that names an entry of the directory: not ".", "..", nor anything
// a filesystem or another operating system would read as a separator or a terminator.
bool safeSegment(std::string_view name, const FileOptions& options) {
  if (name.empty() || name == "." || name == "..") {
    return false;
  }
  if (name.find_first_of(std::string_view("/\\\0", 3)) != std::string_view::npos) {
    return false;
  }
  return !(options.hideDotfiles && name.front() == '.');
}

void addExtraHeaders(Request& request, const FileOptions& options) {
  for (const auto& [name, value] : options.extraHeaders) {
    request.responseHeaders().addRawHeader(name, value);
  }
}

RenderResult errorPage(Request& request, int status, std::string_view brief,
                       std::string_view detail) {
  request.setResponseCode(status);
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  request.responseHeaders().removeHeader("Content-Encoding");
  return errorPageHtml(status, brief, detail);
}

RenderResult notFound(Request& request) {
  return errorPage(request, 404, "No Such Resource", "File not found.");
}

RenderResult forbidden(Request& request) {
  return errorPage(request, 403, "Forbidden Resource", "Sorry, resource is forbidden.");
}

std::chrono::system_clock::time_point modificationTime(const struct stat& st) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

// A strong validator: the size and the modification time to the nanosecond.
std::string strongETag(const struct stat& st) {
  auto ns = static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
            static_cast<unsigned long long>(st.st_mtim.tv_nsec);
  char tag[64];
  int n = std::snprintf(tag, sizeof tag, "\"%llx-%llx\"",
                        static_cast<unsigned long long>(st.st_size), ns);
  return std::string(tag, static_cast<std::size_t>(n));
}

// If-Range (RFC 9110 §13.1.5): the Range applies only if the validator still matches, with
// the strong comparison (a weak tag never matches) or, for a date, exactly Last-Modified.
bool ifRangeHolds(const Request& request, std::string_view etag,
                  std::chrono::system_clock::time_point mtime) {
  auto header = request.getHeader("If-Range");
  if (!header) {
    return true;
  }
  std::string_view value = trimOws(*header);
  if (!value.empty() && (value.front() == '"' || value.substr(0, 2) == "W/")) {
    return value == etag;
  }
  auto date = parseHttpDate(value);
  return date && *date == std::chrono::floor<std::chrono::seconds>(mtime);
}

std::string multipartBoundary() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char text[40];
  int n =
      std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random()),
                    static_cast<unsigned long long>(random()));
  return std::string(text, static_cast<std::size_t>(n));
}

// One piece of a response body: literal bytes (a multipart header) or a range of the file.
struct Piece {
  std::string text;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;  // of the file range; 0 for literal bytes
  std::uint64_t done = 0;    // bytes of this piece produced so far
  bool isFile() const noexcept { return text.empty(); }
  std::uint64_t size() const noexcept { return isFile() ? length : text.size(); }
};

// Reads exactly `length` bytes at `offset`, appended to `out`; false if the file is shorter.
bool readRange(int fd, std::uint64_t offset, std::uint64_t length, std::string& out) {
  std::size_t start = out.size();
  out.resize(start + length);
  std::uint64_t got = 0;
  while (got < length) {
    ssize_t n =
        ::pread(fd, out.data() + start + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    got += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool sendfileUnsupported(int error) {
  return error == EINVAL || error == ENOSYS || error == EOPNOTSUPP || error == ESPIPE;
}

// Sends the pieces of one response as a pull producer registered on the connection: one
// chunk (pread) or one sendfile call per resumeProducing(), which the transport calls when
// its buffer has drained. It keeps itself alive while registered.
class FileSender final : public IProducer {
 public:
  static void start(const std::shared_ptr<Request>& request, UniqueFd fd, std::vector<Piece> pieces,
                    const FileOptions& options, std::string path) {
    auto sender = std::shared_ptr<FileSender>(new FileSender(
        request, std::move(fd), std::move(pieces), options.chunkSize, std::move(path)));
    sender->self_ = sender;
    // A connection lost without stopProducing() (a transport that does not call it) must
    // still release the sender.
    std::weak_ptr<FileSender> weak = sender;
    request->notifyFinish().addCallbacks([] {},
                                         [weak](const Failure&) {
                                           if (auto s = weak.lock()) {
                                             s->release();
                                           }
                                         });
    if (!sender->self_) {
      return;  // the connection is already gone
    }
    ITransport* transport = request->transport();
    if (options.useSendfile && transport != nullptr) {
      if (auto* sf = dynamic_cast<ISendFileTransport*>(transport)) {
        // The headers go out now; the body is sent as is only if nothing transforms it.
        if (request->beginRawBody()) {
          sender->sendfile_ = sf;
        }
      }
    }
    request->registerProducer(*sender, false);
  }

  void resumeProducing() override {
    auto keep = self_;
    if (!keep) {
      return;
    }
    if (request_->transport() == nullptr) {
      release();
      return;
    }
    if (sendfile_ != nullptr) {
      produceWithSendfile();
    } else {
      produceWithRead();
    }
  }

  void stopProducing() override { release(); }

 private:
  FileSender(std::shared_ptr<Request> request, UniqueFd fd, std::vector<Piece> pieces,
             std::size_t chunkSize, std::string path)
      : request_(std::move(request)),
        fd_(std::move(fd)),
        pieces_(std::move(pieces)),
        chunkSize_(std::max<std::size_t>(chunkSize, 1)),
        path_(std::move(path)) {}

  void produceWithRead() {
    if (!buffer_) {
      buffer_ = std::make_unique<char[]>(chunkSize_);
    }
    std::size_t used = 0;
    while (index_ < pieces_.size() && used < chunkSize_) {
      Piece& p = pieces_[index_];
      std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(p.size() - p.done, chunkSize_ - used));
      if (!p.isFile()) {
        std::memcpy(buffer_.get() + used, p.text.data() + p.done, n);
      } else if (n > 0) {
        ssize_t got;
        do {
          got = ::pread(fd_.get(), buffer_.get() + used, n, static_cast<off_t>(p.offset + p.done));
        } while (got < 0 && errno == EINTR);
        if (got <= 0) {
          fail(got == 0 ? "the file shrank while being sent" : std::strerror(errno));
          return;
        }
        n = static_cast<std::size_t>(got);
      }
      used += n;
      p.done += n;
      if (p.done == p.size()) {
        ++index_;
      }
    }
    if (used > 0) {
      request_->write(std::string_view(buffer_.get(), used));
      if (!self_) {
        return;  // the write lost the connection
      }
    }
    if (index_ == pieces_.size()) {
      complete();
    }
  }

  void produceWithSendfile() {
    while (index_ < pieces_.size()) {
      Piece& p = pieces_[index_];
      if (!p.isFile()) {
        request_->write(p.text);
        if (!self_) {
          return;
        }
        ++index_;
        continue;
      }
      if (p.done < p.length) {
        SendFileResult r = sendfile_->sendFile(fd_.get(), p.offset + p.done, p.length - p.done);
        if (r.error != 0) {
          if (sendfileUnsupported(r.error)) {
            sendfile_ = nullptr;  // this file (system) cannot: read it instead
            produceWithRead();
          } else {
            fail(r.error == ENODATA ? "the file shrank while being sent" : std::strerror(r.error));
          }
          return;
        }
        p.done += r.sent;
        request_->countRawBodyBytes(r.sent);
        if (p.done < p.length) {
          return;  // the socket is full: the transport asks again when it drains
        }
      }
      ++index_;
    }
    complete();
  }

  void complete() {
    auto keep = std::move(self_);
    fd_.reset();
    request_->unregisterProducer();
    if (!request_->finished()) {
      request_->finish();
    }
  }

  void fail(const char* why) {
    auto keep = std::move(self_);
    fd_.reset();
    log().warn("Sending {path} failed: {why}; closing the connection",
               {{"path", path_}, {"why", std::string(why)}});
    request_->unregisterProducer();
    if (ITransport* transport = request_->transport()) {
      transport->loseConnection();  // the client sees a body shorter than announced
    }
  }

  void release() {
    auto keep = std::move(self_);
    fd_.reset();
  }

  std::shared_ptr<Request> request_;
  UniqueFd fd_;
  std::vector<Piece> pieces_;
  std::size_t index_ = 0;
  std::size_t chunkSize_;
  std::string path_;
  std::unique_ptr<char[]> buffer_;
  ISendFileTransport* sendfile_ = nullptr;
  std::shared_ptr<FileSender> self_;
};

// A regular file, open as `file`: conditional request, ranges, then the body.
RenderResult serveFile(Request& request, UniqueFd file, const struct stat& st,
                       std::string_view name, const std::string& path, const FileOptions& options,
                       const MimeTypes& types) {
  TypeAndEncoding te =
      getTypeAndEncoding(name, types, options.contentEncodings, options.defaultType);
  request.setHeader("Accept-Ranges", "bytes");
  request.setHeader("Content-Type", te.type);
  if (!te.encoding.empty()) {
    request.setHeader("Content-Encoding", te.encoding);
  }
  const auto mtime = modificationTime(st);
  const std::string etag = strongETag(st);
  // Both validators are set; If-None-Match, when sent, decides (RFC 9110 §13.2.2).
  bool cached = request.setLastModified(mtime) == CacheState::cached;
  if (request.setETag(etag) == CacheState::cached) {
    cached = true;
  }
  if (cached) {
    request.finish();  // 304, no body
    return notDoneYet;
  }

  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::vector<ByteRange> ranges;
  if (auto header = request.getHeader("Range"); header && ifRangeHolds(request, etag, mtime)) {
    RangeSet set = parseRangeHeader(*header, size, options.maxRanges);
    if (set.status == RangeStatus::unsatisfiable) {
      request.setHeader("Content-Range", "bytes */" + std::to_string(size));
      return errorPage(request, 416, "Range Not Satisfiable",
                       "None of the requested ranges overlaps the file.");
    }
    if (set.status == RangeStatus::satisfiable) {
      ranges = std::move(set.ranges);
    }
  }

  std::vector<Piece> pieces;
  std::uint64_t length = 0;
  if (ranges.empty()) {
    pieces.push_back(Piece{{}, 0, size, 0});
    length = size;
  } else if (ranges.size() == 1) {
    request.setResponseCode(206);
    request.setHeader("Content-Range", contentRange(ranges[0], size));
    pieces.push_back(Piece{{}, ranges[0].first, ranges[0].length(), 0});
    length = ranges[0].length();
  } else {
    // multipart/byteranges (RFC 9110 §14.6): each part has the file's type and its range.
    request.setResponseCode(206);
    std::string boundary = multipartBoundary();
    request.setHeader("Content-Type", "multipart/byteranges; boundary=" + boundary);
    for (const auto& range : ranges) {
      std::string head = "\r\n--" + boundary + "\r\nContent-Type: " + te.type +
                         "\r\nContent-Range: " + contentRange(range, size) + "\r\n\r\n";
      length += head.size() + range.length();
      pieces.push_back(Piece{std::move(head), 0, 0, 0});
      pieces.push_back(Piece{{}, range.first, range.length(), 0});
    }
    std::string tail = "\r\n--" + boundary + "--\r\n";
    length += tail.size();
    pieces.push_back(Piece{std::move(tail), 0, 0, 0});
  }
  // A file range of length 0 (an empty file) has nothing to send.
  pieces.erase(
      std::remove_if(pieces.begin(), pieces.end(), [](const Piece& p) { return p.size() == 0; }),
      pieces.end());
  request.setHeader("Content-Length", std::to_string(length));
  if (request.method() == "HEAD") {
    request.finish();
    return notDoneYet;
  }
  if (length <= options.chunkSize) {
    // Small: read it now and send it with the headers in one write.
    std::string body;
    body.reserve(static_cast<std::size_t>(length));
    for (const auto& p : pieces) {
      if (!p.isFile()) {
        body.append(p.text);
      } else if (!readRange(file.get(), p.offset, p.length, body)) {
        throw std::runtime_error("reading " + path + ": the file shrank or cannot be read");
      }
    }
    return body;
  }
  FileSender::start(request.shared(), std::move(file), std::move(pieces), options, path);
  return notDoneYet;
}

// A directory reached with its trailing slash: its index file, or a listing.
RenderResult serveDirectory(Request& request, const std::string& root, const std::string& relative,
                            const FileOptions& options, const MimeTypes& types) {
  for (const auto& index : options.indexNames) {
    if (!safeSegment(index, options)) {
      continue;
    }
    std::string indexPath = joinPath(relative, index);
    int fd = openBeneath(root, indexPath, O_RDONLY, options.resolver);
    if (fd < 0) {
      continue;
    }
    UniqueFd file(fd);
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      return serveFile(request, std::move(file), st, index, joinPath(root, indexPath), options,
                       types);
    }
  }
  if (!options.directoryListing) {
    return forbidden(request);
  }
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  return directoryListingHtml(root, relative, percentDecode(request.path()), options);
}

}  // namespace

// ---- File -------------------------------------------------------------------------------

struct File::Tree {
  std::string root;
  FileOptions options;
  const MimeTypes& types() const {
    return options.mimeTypes ? *options.mimeTypes : MimeTypes::system();
  }
};

namespace {
std::string withoutTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}
}  // namespace

File::File(std::string path, FileOptions options)
    : tree_(std::make_shared<const Tree>(
          Tree{withoutTrailingSlashes(std::move(path)), std::move(options)})) {}

File::File(std::shared_ptr<const Tree> tree, std::string relative, bool index)
    : tree_(std::move(tree)), relative_(std::move(relative)), index_(index) {}

File::~File() = default;

std::string File::path() const {
  return relative_.empty() ? tree_->root : tree_->root + "/" + relative_;
}

const FileOptions& File::options() const noexcept { return tree_->options; }

std::shared_ptr<Resource> File::getChild(std::string_view name, Request& request) {
  const FileOptions& options = tree_->options;
  auto refuse = [&] {
    // The page keeps a reference to the options: it holds the tree.
    struct Page final : public ErrorPage {
      Page(std::shared_ptr<const Tree> tree)
          : ErrorPage(404, "No Such Resource", "File not found."), tree_(std::move(tree)) {}
      RenderResult render(Request& r) override {
        addExtraHeaders(r, tree_->options);
        return ErrorPage::render(r);
      }
      std::shared_ptr<const Tree> tree_;
    };
    return std::make_shared<Page>(tree_);
  };
  if (index_) {
    return refuse();  // nothing lives below a directory's index
  }
  if (name.empty()) {
    // A trailing slash: the directory's index. An empty segment elsewhere ("/a//b") is refused.
    if (!request.postpath().empty()) {
      return refuse();
    }
    return std::shared_ptr<File>(new File(tree_, relative_, true));
  }
  if (!safeSegment(name, options)) {
    return refuse();
  }
  return std::shared_ptr<File>(new File(tree_, joinPath(relative_, name), false));
}

RenderResult File::render(Request& request) {
  addExtraHeaders(request, tree_->options);
  return Resource::render(request);
}

RenderResult File::renderGET(Request& request) {
  const FileOptions& options = tree_->options;
  std::string name(relative_.empty() ? lastSegment(tree_->root) : lastSegment(relative_));
  int fd = openBeneath(tree_->root, relative_, O_RDONLY, options.resolver);
  if (fd == -ENOENT && !index_ && !relative_.empty() && !options.ignoredExts.empty()) {
    // Twisted's ignoredExts: "/about" finds "about.html".
    std::string dir = relative_.substr(0, relative_.size() - lastSegment(relative_).size());
    if (!dir.empty()) {
      dir.pop_back();  // the slash
    }
    for (const auto& ext : options.ignoredExts) {
      std::vector<std::string> candidates;
      if (ext == "*") {
        int dfd = openBeneath(tree_->root, dir, O_RDONLY | O_DIRECTORY, options.resolver);
        if (dfd < 0) {
          continue;
        }
        DIR* d = ::fdopendir(dfd);
        if (d == nullptr) {
          ::close(dfd);
          continue;
        }
        std::string prefix = name + ".";
        while (dirent* e = ::readdir(d)) {
          std::string_view entry = e->d_name;
          if (entry.size() > prefix.size() && entry.substr(0, prefix.size()) == prefix) {
            candidates.emplace_back(entry);
          }
        }
        ::closedir(d);
        std::sort(candidates.begin(), candidates.end());
      } else if (!ext.empty()) {
        candidates.push_back(name + ext);
      }
      for (const auto& candidate : candidates) {
        if (!safeSegment(candidate, options)) {
          continue;
        }
        int found = openBeneath(tree_->root, joinPath(dir, candidate), O_RDONLY, options.resolver);
        if (found >= 0) {
          fd = found;
          name = candidate;
          break;
        }
      }
      if (fd >= 0) {
        break;
      }
    }
  }
  if (fd < 0) {
    switch (-fd) {
      case ENOENT:
      case ENOTDIR:
      case EXDEV:  // a symlink (or path) leading out of the root
      case ELOOP:
      case ENAMETOOLONG:
      case EINVAL:
        return notFound(request);
      case EACCES:
      case EPERM:
        return forbidden(request);
      default:
        throw std::system_error(-fd, std::generic_category(), "opening " + path());
    }
  }
  UniqueFd file(fd);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) {
    throw std::system_error(errno, std::generic_category(), "fstat " + path());
  }
  if (S_ISDIR(st.st_mode)) {
    if (!index_) {
      // Twisted's File.redirect: the same URL with a slash, so that relative links work.
      std::string_view urlPath = request.path();
      while (urlPath.size() > 1 && urlPath[0] == '/' && urlPath[1] == '/') {
        urlPath.remove_prefix(1);  // never a scheme-relative "//host" Location
      }
      std::string location;
      if (urlPath.empty() || urlPath.front() != '/') {
        location = "/";
      }
      location.append(urlPath);
      if (location.back() != '/') {
        location += '/';
      }
      if (!request.query().empty()) {
        location.append("?").append(request.query());
      }
      request.redirect(location);
      request.setHeader("Content-Type", "text/html; charset=utf-8");
      std::string link = escapeHtml(location);
      return "<html>\n  <head><title>302 Found</title></head>\n  <body>\n    <a href=\"" + link +
             "\">" + link + "</a>\n  </body>\n</html>\n";
    }
    return serveDirectory(request, tree_->root, relative_, options, tree_->types());
  }
  if (index_) {
    return notFound(request);  // "/file.txt/": a file has no children
  }
  if (!S_ISREG(st.st_mode)) {
    return forbidden(request);  // a FIFO, device or socket
  }
  return serveFile(request, std::move(file), st, name, path(), options, tree_->types());
}

}  // namespace torsion::web

// ---- listings -------------------------------------------------------------------------------

namespace torsion::web {

std::string formatFileSize(std::uint64_t size) {
  if (size < 1024) {
    return std::to_string(size) + "B";
  }
  if (size < 1024ull * 1024) {
    return std::to_string(size / 1024) + "K";
  }
  if (size < 1024ull * 1024 * 1024) {
    return std::to_string(size / (1024ull * 1024)) + "M";
  }
  return std::to_string(size / (1024ull * 1024 * 1024)) + "G";
}

std::string directoryListingHtml(const std::string& root, std::string_view relative,
                                 std::string_view urlPath, const FileOptions& options) {
  int fd = openBeneath(root, relative, O_RDONLY | O_DIRECTORY, options.resolver);
  if (fd < 0) {
    throw std::system_error(-fd, std::generic_category(), "listing " + joinPath(root, relative));
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "listing " + joinPath(root, relative));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, &::closedir);
  struct Entry {
    std::string name;
    std::uint64_t size = 0;
  };
  std::vector<Entry> dirs;
  std::vector<Entry> files;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || (options.hideDotfiles && name.front() == '.')) {
      continue;
    }
    struct stat st {};
    if (::fstatat(::dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      // Listed only if it resolves below the root, as a request for it would.
      int target = openBeneath(root, joinPath(relative, name), O_PATH, options.resolver);
      if (target < 0) {
        continue;
      }
      int ok = ::fstat(target, &st);
      ::close(target);
      if (ok != 0) {
        continue;
      }
    }
    if (S_ISDIR(st.st_mode)) {
      dirs.push_back(Entry{std::string(name), 0});
    } else {
      files.push_back(Entry{std::string(name), static_cast<std::uint64_t>(st.st_size)});
    }
  }
  auto byName = [](const Entry& a, const Entry& b) { return a.name < b.name; };
  std::sort(dirs.begin(), dirs.end(), byName);
  std::sort(files.begin(), files.end(), byName);

  const MimeTypes& types = options.mimeTypes ? *options.mimeTypes : MimeTypes::system();
  std::string title = "Directory listing for " + escapeHtml(urlPath);
  std::string html;
  html.reserve(1024 + 160 * (dirs.size() + files.size()));
  html +=
      "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>" + title +
      "</title>\n<style>\n"
      "body { font-family: sans-serif; margin: 0; background: #f6f6f6; }\n"
      "h1 { margin: 0; padding: 0.4em 0.6em; background: #555; color: #fff; font-size: 1.3em; }\n"
      "table { margin: 1em auto; border-collapse: collapse; min-width: 50%; }\n"
      "th, td { padding: 0.2em 0.8em; text-align: left; }\n"
      "tr.odd { background: #e8e8e8; } tr.even { background: #f2f2f2; }\n"
      "</style>\n</head>\n<body>\n<h1>" +
      title +
      "</h1>\n<table>\n<thead><tr><th>Filename</th><th>Size</th><th>Content type</th>"
      "<th>Content encoding</th></tr></thead>\n<tbody>\n";
  bool odd = true;
  auto row = [&](std::string_view href, std::string_view text, std::string_view size,
                 std::string_view type, std::string_view encoding) {
    html.append("<tr class=\"").append(odd ? "odd" : "even").append("\"><td><a href=\"");
    html.append(href).append("\">").append(text).append("</a></td><td>").append(size);
    html.append("</td><td>").append(type).append("</td><td>").append(encoding);
    html.append("</td></tr>\n");
    odd = !odd;
  };
  for (const auto& d : dirs) {
    row(percentEncode(d.name) + "/", escapeHtml(d.name) + "/", "", "[Directory]", "");
  }
  for (const auto& f : files) {
    TypeAndEncoding te =
        getTypeAndEncoding(f.name, types, options.contentEncodings, options.defaultType);
    row(percentEncode(f.name), escapeHtml(f.name), formatFileSize(f.size),
        "[" + escapeHtml(te.type) + "]",
        te.encoding.empty() ? "" : "[" + escapeHtml(te.encoding) + "]");
  }
  html += "</tbody>\n</table>\n</body>\n</html>\n";
  return html;
}

DirectoryLister::DirectoryLister(std::string path, FileOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

RenderResult DirectoryLister::renderGET(Request& request) {
  addExtraHeaders(request, options_);
  request.setHeader("Content-Type", "text/html; charset=utf-8");
  return directoryListingHtml(path_, "", percentDecode(request.path()), options_);
}

}  // namespace torsion::web
