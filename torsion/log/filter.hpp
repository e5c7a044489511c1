// Filtering observers: pass an event on only if it is at or above a level, optionally chosen
// per namespace (Twisted's FilteringLogObserver with a LogLevelFilterPredicate).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "torsion/log/event.hpp"
#include "torsion/log/level.hpp"
#include "torsion/log/publisher.hpp"

namespace torsion {

// The minimum level per namespace. A namespace without a level of its own takes its nearest
// dotted ancestor's ("torsion.web.server" falls back to "torsion.web", then "torsion"), and
// then the default. Thread-safe: levels may change while events are being filtered.
class LogLevelFilter {
 public:
  explicit LogLevelFilter(LogLevel defaultLevel = LogLevel::info);

  LogLevel logLevelForNamespace(std::string_view ns) const;
  // Sets the level of `ns` and (unless they have their own) of the namespaces below it. An
  // empty namespace sets the default.
  void setLogLevelForNamespace(std::string_view ns, LogLevel level);
  // Forgets every namespace's level; the default stays.
  void clearLogLevels();

  bool passes(const LogEvent& event) const {
    return event.level >= logLevelForNamespace(event.logNamespace);
  }

 private:
  mutable std::shared_mutex mutex_;
  LogLevel default_;
  std::map<std::string, LogLevel, std::less<>> levels_;
};

// An observer that forwards to `observer` the events `predicate` accepts.
LogObserver filteringObserver(LogObserver observer, std::function<bool(const LogEvent&)> predicate);
// ... the events the filter passes; the filter may be changed while the observer is in use.
LogObserver filteringObserver(LogObserver observer, std::shared_ptr<const LogLevelFilter> filter);
// ... the events at or above `minimum`.
LogObserver filteringObserver(LogObserver observer, LogLevel minimum);

}  // namespace torsion
