// Helpers for the static file tests: a web root on disk, a site driven through a
// StringTransport, and responses parsed back with the project's ResponseParser.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "torsion/net/sendfile.hpp"
#include "torsion/testing/clock.hpp"
#include "torsion/testing/string_transport.hpp"
#include "torsion/web/http_parser.hpp"
#include "torsion/web/http_syntax.hpp"
#include "torsion/web/server.hpp"

namespace torsion::web::test {

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool complete = false;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (equalsIgnoreCase(n, name)) {
        return v;
      }
    }
    return std::nullopt;
  }
  int count(std::string_view name) const {
    int n = 0;
    for (const auto& h : headers) {
      n += equalsIgnoreCase(h.first, name) ? 1 : 0;
    }
    return n;
  }
};

// Parses the responses to requests sent with the given methods, in order.
class ResponseReader : private ResponseParser::Handler {
 public:
  explicit ResponseReader(std::vector<std::string> methods)
      : methods_(std::move(methods)), parser_(*this, bigLimits()) {
    parser_.setRequestMethod(methods_.empty() ? "GET" : methods_[0]);
  }
  // Feeds bytes; false if they are not valid responses.
  bool feed(std::string_view bytes) {
    parser_.feed(bytes);
    return !parser_.failed();
  }
  void feedEof() { parser_.feedEof(); }
  std::vector<Response>& responses() { return responses_; }

 private:
  static Limits bigLimits() {
    Limits l;
    l.maxFieldSection = 1 << 20;
    return l;
  }
  void onResponseHead(const ResponseHead& head) override {
    responses_.emplace_back();
    responses_.back().status = head.status;
    for (const auto& f : head.fields) {
      responses_.back().headers.emplace_back(std::string(f.name), std::string(f.value));
    }
  }
  void onBody(std::string_view data) override { responses_.back().body.append(data); }
  void onMessageComplete() override {
    responses_.back().complete = true;
    if (++done_ < methods_.size()) {
      parser_.setRequestMethod(methods_[done_]);
    }
  }

  std::vector<std::string> methods_;
  ResponseParser parser_;
  std::vector<Response> responses_;
  std::size_t done_ = 0;
};

// A fresh directory, removed with what it holds.
class TempTree {
 public:
  TempTree() {
    char templ[] = "/tmp/torsion-static-XXXXXX";
    if (::mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& path() const { return path_; }
  std::string at(std::string_view rel) const { return path_ + "/" + std::string(rel); }
  void mkdir(std::string_view rel) const { std::filesystem::create_directories(at(rel)); }
  void write(std::string_view rel, std::string_view content) const {
    int fd = ::open(at(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + at(rel));
    std::size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n <= 0) {
        ::close(fd);
        throw std::runtime_error("cannot write " + at(rel));
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  void symlink(std::string_view target, std::string_view rel) const {
    if (::symlink(std::string(target).c_str(), at(rel).c_str()) != 0) {
      throw std::runtime_error("cannot symlink " + at(rel));
    }
  }
  // Sets the modification time (seconds since the epoch).
  void touch(std::string_view rel, std::int64_t seconds) const {
    timespec times[2] = {{seconds, 0}, {seconds, 0}};
    ::utimensat(AT_FDCWD, at(rel).c_str(), times, 0);
  }

 private:
  std::string path_;
};

// Bytes that do not repeat every 256: a misplaced range shows.
inline std::string patternOf(std::size_t size, unsigned seed = 1) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>(i * 131 + i / 65536 + seed);
  }
  return data;
}

// A StringTransport that also offers sendfile: each call "sends" up to perCall bytes of the
// file (read with pread) into value(), or answers with `refuse` when set.
class SendfileStringTransport : public testing::StringTransportWithDisconnection,
                                public ISendFileTransport {
 public:
  std::size_t perCall = 100000;
  int refuse = 0;
  int calls = 0;
  SendFileResult sendFile(int fd, std::uint64_t offset, std::size_t count) override {
    ++calls;
    if (refuse != 0) {
      return {0, refuse};
    }
    std::string buffer(std::min(count, perCall), '\0');
    ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (n < 0) {
      return {0, errno};
    }
    if (n == 0) {
      return {0, ENODATA};
    }
    write(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    return {static_cast<std::size_t>(n), 0};
  }
};

// One connection to `site` over a StringTransport (or T): the server's channel and what it
// wrote.
template <class T = testing::StringTransportWithDisconnection>
class BasicConversation {
 public:
  explicit BasicConversation(Site& site)
      : channel_(site.buildProtocol(Address::ip("10.0.0.2", 1234))) {
    transport_.connect(*channel_);
  }
  ~BasicConversation() {
    if (transport_.connected()) {
      transport_.loseConnection();
    }
  }
  // Sends bytes; then drives a registered (pull) producer until the responses are written, at
  // most `maxResumes` times.
  void send(std::string_view bytes, int maxResumes = 100000) {
    channel_->dataReceived(bytes);
    pump(maxResumes);
  }
  // Drives the registered producer; returns how many times it was resumed.
  int pump(int maxResumes = 100000) {
    int resumes = 0;
    while (resumes < maxResumes && transport_.connected()) {
      IProducer* p = transport_.producer();
      if (p == nullptr) break;
      p->resumeProducing();
      ++resumes;
    }
    return resumes;
  }
  T& transport() { return transport_; }
  Protocol& channel() { return *channel_; }

 private:
  T transport_;
  std::unique_ptr<Protocol> channel_;
};

using Conversation = BasicConversation<>;

}  // namespace torsion::web::test
