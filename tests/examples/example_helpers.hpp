// Helpers for the tests of the example programs' classes.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "torsion/net/protocol.hpp"

namespace examples::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it at destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/torsion-examples-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Appends `text` to the file at `path` (creating it), as a logging program would.
inline void append(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot append to " << path;
}

// Replaces the file's content with `text` (truncating it first).
inline void overwrite(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// A client protocol that keeps what it received (and whether it was disconnected).
struct Received : torsion::Protocol {
  std::string data;
  bool lost = false;
  std::optional<torsion::Failure> reason;
  void dataReceived(std::string_view d) override { data.append(d); }
  void connectionLost(const torsion::Failure& r) override {
    lost = true;
    reason = r;
  }
};

}  // namespace examples::test
