#include "torsion/log/logger.hpp"

#include <chrono>
#include <utility>

namespace torsion {

Logger::Logger(std::string ns, LogPublisher& publisher)
    : namespace_(std::move(ns)), publisher_(&publisher) {}

void Logger::failure(std::string_view format, LogLevel level, Fields fields,
                     SourceLocation where) const {
  if (!publisher_->wouldPublish(level)) return;
  const Failure current = Failure::current(where);
  publishEvent(level, format, fields, &current);
}

void Logger::publishEvent(LogLevel level, std::string_view format, Fields fields,
                          const Failure* failure) const {
  LogEvent event;
  event.format = format;
  event.fields.reserve(fields.size());
  for (const FieldArg& field : fields) {
    event.fields.push_back(LogField{std::string(field.name), FieldValue(field.value)});
  }
  event.level = level;
  event.logNamespace = namespace_;
  event.time = std::chrono::system_clock::now();
  if (failure != nullptr) event.failure = *failure;
  publisher_->publish(std::move(event));
}

}  // namespace torsion
