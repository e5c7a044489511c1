// State files: an application's saved state on disk (torsiond --state FILE), the JSON twin of
// twistd's pickled .tap files.
//
// The file holds {"torsion_state": 1, "application": <name>, "state": <the tree's state>}.
// Writing is atomic: a temporary file in the same directory is written, fsync'ed and renamed
// over the old one (and the directory fsync'ed), so a crash leaves either the old state or
// the new one, never half of one.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "torsion/app/service.hpp"
#include "torsion/core/errors.hpp"

namespace torsion::app {

// A state file that cannot be read, parsed or written; what() names the file and the cause.
class StateFileError : public Error {
 public:
  using Error::Error;
};

// Writes `state` for the application named `name` to `path` atomically (mode 0600: state may
// hold secrets). Throws StateFileError.
void writeStateFile(const std::string& path, const std::string& name, const nlohmann::json& state);

// The state saved in `path`, or nothing when the file does not exist. Throws StateFileError
// when it exists but cannot be read or is not a state file.
std::optional<nlohmann::json> readStateFile(const std::string& path);

// Restores `application` from `path` if the file exists; true if it did. Throws
// StateFileError, or what the services' restoreState() throws.
bool restoreApplication(Application& application, const std::string& path);

// Saves `application`'s state to `path` (an empty object when no service has state).
void saveApplication(const Application& application, const std::string& path);

}  // namespace torsion::app
