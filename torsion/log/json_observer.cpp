#include "torsion/log/json_observer.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <variant>

namespace torsion {

namespace {

nlohmann::json toJSON(const FieldValue& value) {
  return std::visit(
      [](const auto& held) -> nlohmann::json {
        if constexpr (std::is_same_v<std::decay_t<decltype(held)>, std::monostate>) {
          return nullptr;
        } else {
          return held;
        }
      },
      value.variant());
}

}  // namespace

std::string eventAsJSON(const LogEvent& event) {
  nlohmann::json object = nlohmann::json::object();
  for (const LogField& field : event.fields) object[field.name] = toJSON(field.value);
  object["log_format"] = event.format;
  object["log_level"] = std::string(toString(event.level));
  object["log_namespace"] = event.logNamespace;
  object["log_time"] = std::chrono::duration<double>(event.time.time_since_epoch()).count();
  object["log_text"] = formatEvent(event);
  if (event.failure) {
    const SourceLocation& origin = event.failure->origin();
    object["log_failure"] = {{"type", event.failure->typeName()},
                             {"message", event.failure->getErrorMessage()},
                             {"file", origin.file_name()},
                             {"line", origin.line()},
                             {"function", origin.function_name()}};
  }
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

LogObserver jsonFileObserver(std::FILE* out) {
  return [out](const LogEvent& event) {
    std::string line = eventAsJSON(event);
    line += '\n';
    flockfile(out);
    std::fwrite(line.data(), 1, line.size(), out);
    std::fflush(out);
    funlockfile(out);
  };
}

}  // namespace torsion
