// Static files: Twisted's twisted.web.static (File, DirectoryLister).
//
//   auto root = std::make_shared<File>("/srv/www");          // a directory tree (or one file)
//   root->putChild("api", api);                              // other resources beside it
//   auto site = std::make_shared<Site>(root, reactor);
//
// What a File serves, for GET and HEAD (other methods: 405 with "Allow: GET, HEAD"):
//   - a regular file: 200 with Content-Type (from the extension, see mime.hpp),
//     Content-Encoding for .gz/.bz2 (as Twisted), Content-Length, Last-Modified, a strong ETag
//     and "Accept-Ranges: bytes". If-Modified-Since / If-None-Match give 304. A Range header
//     gives 206 (one range, with Content-Range) or 206 multipart/byteranges (several), 416
//     with "Content-Range: bytes */<size>" when no range overlaps the file; an invalid Range,
//     or one refused (more than maxRanges ranges, or overlapping ranges asking for more bytes
//     than the file has), is ignored: 200. If-Range (an ETag or a date) is honoured.
//   - a directory requested without a trailing slash: 302 to the same URL with the slash (as
//     Twisted; the query string is kept).
//   - a directory with the slash: the first of indexNames that is a regular file, else an HTML
//     listing (DirectoryLister) when directoryListing, else 403.
//
// Sending: files up to chunkSize go out with the headers in one write. Larger ones are sent
// by a pull producer registered on the connection: with sendfile(2) when the transport is a
// plain TCP or Unix stream (ISendFileTransport) and the body goes out unchanged, else read
// chunkSize bytes at a time with pread. Either way a client that reads slowly costs at most
// one chunk of buffer, never the file.
//
// Path safety: no request ever reaches a file outside the root. Each path segment is checked
// before anything touches the disk, and 404 ("File not found.") answers ".", "..", a segment
// holding "/" or "\" or NUL after percent-decoding ("%2e%2e", "%2f", "%5c", "%00"), an empty
// segment anywhere but at the end ("/a//b"), and, with hideDotfiles, a name starting with
// ".". The path is then opened below the root with openBeneath (safe_open.hpp): a symlink
// whose target lies outside the root is 404 too, a symlink within it is followed. (Twisted
// follows every symlink; it serves dotfiles, as we do by default.) 403 answers a file the
// server may not read (EACCES), a special file (FIFO, device, socket: never opened for
// reading beyond a non-blocking open), and a directory without index when directoryListing
// is off.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torsion/web/mime.hpp"
#include "torsion/web/resource.hpp"
#include "torsion/web/safe_open.hpp"

namespace torsion::web {

struct FileOptions {
  // The type of a file whose extension is unknown. Twisted (and twistd web's --mime-type)
  // defaults to text/html; we default to application/octet-stream so that an unknown file is
  // never rendered as a page by a browser. Set "text/html" for Twisted's behaviour.
  std::string defaultType = "application/octet-stream";
  // Tried in order for a directory requested with a trailing slash (Twisted's indexNames,
  // without index.rpy); only a regular file counts.
  std::vector<std::string> indexNames = {"index", "index.html", "index.htm"};
  // Added to every response of this File tree (files, listings, redirects, 404s, 405s), as
  // twistd web's --add-header. Values must be valid header fields.
  std::vector<std::pair<std::string, std::string>> extraHeaders;
  // Extensions tried when a name is not found (Twisted's ignoredExts: with {".html"},
  // "/about" serves "about.html"); "*" tries any extension.
  std::vector<std::string> ignoredExts;
  // An HTML listing for a directory without index; false: 403.
  bool directoryListing = true;
  // Answer 404 for names starting with "." (Twisted serves them; so do we by default).
  bool hideDotfiles = false;
  // The extension table; null: MimeTypes::system().
  std::shared_ptr<const MimeTypes> mimeTypes;
  // Twisted's contentEncodings.
  std::map<std::string, std::string, std::less<>> contentEncodings = defaultContentEncodings();
  // sendfile(2) when the transport offers it; false: always pread (for tests and file systems
  // where sendfile misbehaves).
  bool useSendfile = true;
  // Bytes read per step when not using sendfile, and the largest body sent in one write.
  std::size_t chunkSize = 64 * 1024;
  // More ranges than this in one Range header: the header is ignored (200).
  std::size_t maxRanges = 100;
  // How paths are resolved below the root.
  BeneathResolver resolver = BeneathResolver::automatic;
};

class File : public Resource {
 public:
  // `path`: the root directory of the tree, or one regular file. It need not exist yet: every
  // request resolves it again (a root replaced by a deployment is picked up).
  explicit File(std::string path, FileOptions options = {});
  ~File() override;

  // The child for one path segment (see the header comment for what is refused). The
  // filesystem is not touched here: the resource for "a" renders 404 later if "a" is absent.
  std::shared_ptr<Resource> getChild(std::string_view name, Request& request) override;
  // Adds extraHeaders, then dispatches as Resource::render.
  RenderResult render(Request& request) override;
  RenderResult renderGET(Request& request) override;

  // The path on disk this resource stands for (the root joined with the segments walked).
  std::string path() const;
  const FileOptions& options() const noexcept;

 private:
  struct Tree;
  File(std::shared_ptr<const Tree> tree, std::string relative, bool index);

  std::shared_ptr<const Tree> tree_;
  std::string relative_;  // below the root, "" for the root itself
  bool index_ = false;    // reached through a trailing slash: the directory's index
};

// An HTML listing of a directory (Twisted's DirectoryLister): subdirectories first, then
// files, each sorted by name, with size, type and encoding; names HTML-escaped, links
// percent-encoded and relative (the listing's URL ends with "/"). Entries that are symlinks
// leading outside `path`, dangling, or (with hideDotfiles) hidden are left out.
class DirectoryLister : public Resource {
 public:
  DirectoryLister(std::string path, FileOptions options = {});
  bool isLeaf() const override { return true; }
  RenderResult renderGET(Request& request) override;

 private:
  std::string path_;
  FileOptions options_;
};

// The listing's HTML for the directory `relative` below `root` (opened as File opens paths),
// titled with `urlPath` (decoded; escaped here). Throws std::system_error if the directory
// cannot be read.
std::string directoryListingHtml(const std::string& root, std::string_view relative,
                                 std::string_view urlPath, const FileOptions& options);

// Twisted's formatFileSize: "512B", "3K", "12M", "2G".
std::string formatFileSize(std::uint64_t size);

}  // namespace torsion::web
