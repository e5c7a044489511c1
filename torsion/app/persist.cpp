#include "torsion/app/persist.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace torsion::app {
namespace {

constexpr int kFormat = 1;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw StateFileError("state file " + path + ": " + what);
}

std::string errnoText() { return std::strerror(errno); }

void writeAll(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail(path, "cannot write: " + errnoText());
    }
    done += static_cast<std::size_t>(n);
  }
}

std::string directoryOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void writeStateFile(const std::string& path, const std::string& name, const nlohmann::json& state) {
  nlohmann::json doc = {{"torsion_state", kFormat}, {"application", name}, {"state", state}};
  std::string text = doc.dump(2) + "\n";
  std::string temp = path + ".new";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    fail(temp, "cannot create: " + errnoText());
  }
  try {
    writeAll(fd, text, temp);
    if (::fsync(fd) != 0) {
      fail(temp, "fsync failed: " + errnoText());
    }
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = errnoText();
    ::unlink(temp.c_str());
    fail(path, "cannot rename " + temp + " over it: " + why);
  }
  // The rename is durable once the directory is.
  int dir = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::optional<nlohmann::json> readStateFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    fail(path, "cannot open: " + errnoText());
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) {
    fail(path, "not valid JSON");
  }
  if (!doc.is_object() || !doc.contains("torsion_state") || !doc.contains("state")) {
    fail(path, "not a torsion state file (no \"torsion_state\" and \"state\" keys)");
  }
  if (doc["torsion_state"] != kFormat) {
    fail(path, "unsupported state format " + doc["torsion_state"].dump());
  }
  return std::move(doc["state"]);
}

bool restoreApplication(Application& application, const std::string& path) {
  auto state = readStateFile(path);
  if (!state) {
    return false;
  }
  if (!(state->is_object() && state->empty())) {
    application.restoreState(*state);
  }
  return true;
}

void saveApplication(const Application& application, const std::string& path) {
  auto state = application.saveState();
  writeStateFile(path, application.name(), state ? *state : nlohmann::json::object());
}

}  // namespace torsion::app
