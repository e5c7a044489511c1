// MIME types by file extension (Twisted's static.loadMimeTypes and getTypeAndEncoding).
//
//   const MimeTypes& types = MimeTypes::system();   // /etc/mime.types over a built-in table
//   auto [type, encoding] = getTypeAndEncoding("notes.tar.gz", types, defaultContentEncodings(),
//                                              "application/octet-stream");
//   // type "application/x-tar", encoding "gzip"
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace torsion::web {

class MimeTypes {
 public:
  // An empty table.
  MimeTypes() = default;

  // The common types of the web (html, css, js, json, images, fonts, audio, video, archives,
  // wasm...), for systems without a mime.types file.
  static MimeTypes builtIn();
  // The built-in table with /etc/mime.types read over it (the file wins, as Twisted lets the
  // system's files override its own additions). Read once, on first use, and shared; a missing
  // or unreadable file leaves the built-in table. Thread-safe.
  static const MimeTypes& system();

  // Adds the lines of a mime.types file ("type ext1 ext2...", '#' comments) to the table;
  // later entries replace earlier ones. Malformed lines are skipped.
  void parse(std::string_view text);
  // parse() on the file at `path`; false (and the table unchanged) if it cannot be read.
  bool load(const std::string& path);
  // Maps `extension` ("html" or ".html", any case) to `type`.
  void add(std::string_view extension, std::string type);

  // The type for `extension` ("html" or ".html", any case).
  std::optional<std::string_view> lookup(std::string_view extension) const;
  std::size_t size() const noexcept { return types_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> types_;  // lower-case extension, no dot
};

// Extension (".gz", lower case) to Content-Encoding (Twisted's File.contentEncodings):
// {".gz": "gzip", ".bz2": "bzip2"}.
const std::map<std::string, std::string, std::less<>>& defaultContentEncodings();

struct TypeAndEncoding {
  std::string type;
  std::string encoding;  // empty for none
};

// Twisted's getTypeAndEncoding: the last extension of `filename`, if it is an encoding, gives
// the encoding and is stripped ("a.tar.gz" is gzip-encoded "a.tar"); the extension left gives
// the type, `defaultType` when unknown or absent.
TypeAndEncoding getTypeAndEncoding(std::string_view filename, const MimeTypes& types,
                                   const std::map<std::string, std::string, std::less<>>& encodings,
                                   std::string_view defaultType);

}  // namespace torsion::web
