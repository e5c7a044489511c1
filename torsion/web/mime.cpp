#include "torsion/web/mime.hpp"

#include <fstream>
#include <sstream>

namespace torsion::web {
namespace {

std::string lowerExtension(std::string_view extension) {
  if (!extension.empty() && extension.front() == '.') {
    extension.remove_prefix(1);
  }
  std::string out(extension);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// The extension of the last path component with its dot ("a.tar.gz" -> ".gz"), as Python's
// os.path.splitext: a name that only starts with dots (".bashrc") has none.
std::pair<std::string_view, std::string_view> splitExtension(std::string_view name) {
  auto slash = name.rfind('/');
  std::size_t base = slash == std::string_view::npos ? 0 : slash + 1;
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot < base) {
    return {name, {}};
  }
  std::size_t i = base;
  while (i < dot && name[i] == '.') {
    ++i;
  }
  if (i == dot) {
    return {name, {}};  // only leading dots before this one
  }
  return {name.substr(0, dot), name.substr(dot)};
}

}  // namespace

MimeTypes MimeTypes::builtIn() {
  // What browsers and tools expect for the files a web server commonly holds.
  static constexpr std::pair<const char*, const char*> kTable[] = {
      {"html", "text/html"},
      {"htm", "text/html"},
      {"shtml", "text/html"},
      {"xhtml", "application/xhtml+xml"},
      {"css", "text/css"},
      {"js", "text/javascript"},
      {"mjs", "text/javascript"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"xml", "application/xml"},
      {"xsl", "application/xml"},
      {"rss", "application/rss+xml"},
      {"atom", "application/atom+xml"},
      {"txt", "text/plain"},
      {"text", "text/plain"},
      {"conf", "text/plain"},
      {"log", "text/plain"},
      {"diff", "text/plain"},
      {"patch", "text/plain"},
      {"md", "text/markdown"},
      {"csv", "text/csv"},
      {"tsv", "text/tab-separated-values"},
      {"ics", "text/calendar"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"svg", "image/svg+xml"},
      {"svgz", "image/svg+xml"},
      {"ico", "image/vnd.microsoft.icon"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"bmp", "image/bmp"},
      {"tif", "image/tiff"},
      {"tiff", "image/tiff"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"otf", "font/otf"},
      {"mp3", "audio/mpeg"},
      {"ogg", "audio/ogg"},
      {"oga", "audio/ogg"},
      {"opus", "audio/ogg"},
      {"wav", "audio/x-wav"},
      {"flac", "audio/flac"},
      {"m4a", "audio/mp4"},
      {"mp4", "video/mp4"},
      {"m4v", "video/mp4"},
      {"webm", "video/webm"},
      {"ogv", "video/ogg"},
      {"mov", "video/quicktime"},
      {"avi", "video/x-msvideo"},
      {"mpeg", "video/mpeg"},
      {"mpg", "video/mpeg"},
      {"pdf", "application/pdf"},
      {"zip", "application/zip"},
      {"tar", "application/x-tar"},
      {"tgz", "application/x-gtar-compressed"},
      {"gz", "application/gzip"},
      {"bz2", "application/x-bzip2"},
      {"xz", "application/x-xz"},
      {"zst", "application/zstd"},
      {"7z", "application/x-7z-compressed"},
      {"rar", "application/vnd.rar"},
      {"deb", "application/vnd.debian.binary-package"},
      {"rpm", "application/x-redhat-package-manager"},
      {"jar", "application/java-archive"},
      {"wasm", "application/wasm"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
      {"rtf", "application/rtf"},
      {"epub", "application/epub+zip"},
      {"ps", "application/postscript"},
      {"sh", "text/x-sh"},
      {"py", "text/x-python"},
      {"c", "text/x-csrc"},
      {"h", "text/x-chdr"},
      {"cpp", "text/x-c++src"},
      {"hpp", "text/x-c++hdr"},
      {"java", "text/plain"},
      {"iso", "application/x-iso9660-image"},
      {"bin", "application/octet-stream"},
      {"exe", "application/x-msdos-program"},
  };
  MimeTypes types;
  for (const auto& [ext, type] : kTable) {
    types.types_.emplace(ext, type);
  }
  return types;
}

const MimeTypes& MimeTypes::system() {
  static const MimeTypes types = [] {
    MimeTypes t = builtIn();
    t.load("/etc/mime.types");
    return t;
  }();
  return types;
}

void MimeTypes::parse(std::string_view text) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto hash = line.find('#');
    if (hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::string_view type;
    while (!line.empty()) {
      while (!line.empty() && isSpace(line.front())) {
        line.remove_prefix(1);
      }
      std::size_t end = 0;
      while (end < line.size() && !isSpace(line[end])) {
        ++end;
      }
      std::string_view word = line.substr(0, end);
      line.remove_prefix(end);
      if (word.empty()) {
        break;
      }
      if (type.empty()) {
        if (word.find('/') == std::string_view::npos) {
          break;  // not "type/subtype": skip the line
        }
        type = word;
        continue;
      }
      add(word, std::string(type));
    }
  }
}

bool MimeTypes::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return false;
  }
  parse(text.str());
  return true;
}

void MimeTypes::add(std::string_view extension, std::string type) {
  std::string ext = lowerExtension(extension);
  if (ext.empty()) {
    return;
  }
  types_[std::move(ext)] = std::move(type);
}

std::optional<std::string_view> MimeTypes::lookup(std::string_view extension) const {
  auto it = types_.find(lowerExtension(extension));
  if (it == types_.end()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

const std::map<std::string, std::string, std::less<>>& defaultContentEncodings() {
  static const std::map<std::string, std::string, std::less<>> encodings = {
      {".gz", "gzip"},
      {".bz2", "bzip2"},
  };
  return encodings;
}

TypeAndEncoding getTypeAndEncoding(std::string_view filename, const MimeTypes& types,
                                   const std::map<std::string, std::string, std::less<>>& encodings,
                                   std::string_view defaultType) {
  TypeAndEncoding result;
  auto [stem, ext] = splitExtension(filename);
  std::string lowered = "." + lowerExtension(ext);
  if (!ext.empty()) {
    auto enc = encodings.find(lowered);
    if (enc != encodings.end()) {
      result.encoding = enc->second;
      ext = splitExtension(stem).second;
    }
  }
  if (!ext.empty()) {
    if (auto type = types.lookup(ext)) {
      result.type = *type;
      return result;
    }
  }
  result.type = defaultType;
  return result;
}

}  // namespace torsion::web
