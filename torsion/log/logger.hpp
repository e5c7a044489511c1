// Logger: what code logs through (twisted.logger.Logger).
//
//   Logger log("torsion.web.server");
//   log.info("Connection from {peer} on port {port}", {{"peer", host}, {"port", 8080}});
//   log.failure("Request handler failed for {uri}", failure, LogLevel::error, {{"uri", uri}});
//
// A call whose event no observer would receive returns after one atomic load: it neither
// copies the fields nor formats anything. Fields are passed by view and copied into the event
// only when it is published.
#pragma once

#include <string>
#include <string_view>

#include "torsion/core/source_location.hpp"
#include "torsion/defer/failure.hpp"
#include "torsion/log/event.hpp"
#include "torsion/log/level.hpp"
#include "torsion/log/publisher.hpp"

namespace torsion {

class Logger {
 public:
  // `ns` names the code that logs, dotted from the outside in ("torsion.core.reactor"). The
  // publisher must outlive the Logger.
  explicit Logger(std::string ns, LogPublisher& publisher = globalLogPublisher());

  void debug(std::string_view format, Fields fields = {}) const {
    emit(LogLevel::debug, format, fields);
  }
  void info(std::string_view format, Fields fields = {}) const {
    emit(LogLevel::info, format, fields);
  }
  void warn(std::string_view format, Fields fields = {}) const {
    emit(LogLevel::warn, format, fields);
  }
  void error(std::string_view format, Fields fields = {}) const {
    emit(LogLevel::error, format, fields);
  }
  void critical(std::string_view format, Fields fields = {}) const {
    emit(LogLevel::critical, format, fields);
  }

  // Publishes an event of the given level (Twisted's Logger.emit).
  void emit(LogLevel level, std::string_view format, Fields fields = {}) const {
    if (publisher_->wouldPublish(level)) publishEvent(level, format, fields, nullptr);
  }

  // Publishes an event carrying `failure`, critical unless told otherwise.
  void failure(std::string_view format, const Failure& failure, LogLevel level = LogLevel::critical,
               Fields fields = {}) const {
    if (publisher_->wouldPublish(level)) publishEvent(level, format, fields, &failure);
  }

  // Inside a catch block: publishes an event carrying the exception being handled, as
  // Twisted's log.failure(format) with no failure does; its origin is the caller.
  void failure(std::string_view format, LogLevel level = LogLevel::critical, Fields fields = {},
               SourceLocation where = SourceLocation::current()) const;

  // True if an event of this level would be published; to skip costly preparation.
  bool wants(LogLevel level) const noexcept { return publisher_->wouldPublish(level); }

  const std::string& logNamespace() const noexcept { return namespace_; }
  LogPublisher& publisher() const noexcept { return *publisher_; }

 private:
  void publishEvent(LogLevel level, std::string_view format, Fields fields,
                    const Failure* failure) const;

  std::string namespace_;
  LogPublisher* publisher_;
};

}  // namespace torsion
