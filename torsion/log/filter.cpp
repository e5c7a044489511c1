#include "torsion/log/filter.hpp"

#include <mutex>
#include <utility>

namespace torsion {

LogLevelFilter::LogLevelFilter(LogLevel defaultLevel) : default_(defaultLevel) {}

LogLevel LogLevelFilter::logLevelForNamespace(std::string_view ns) const {
  std::shared_lock lock(mutex_);
  while (!ns.empty()) {
    if (const auto found = levels_.find(ns); found != levels_.end()) return found->second;
    const std::size_t dot = ns.rfind('.');
    ns = dot == std::string_view::npos ? std::string_view() : ns.substr(0, dot);
  }
  return default_;
}

void LogLevelFilter::setLogLevelForNamespace(std::string_view ns, LogLevel level) {
  std::unique_lock lock(mutex_);
  if (ns.empty()) {
    default_ = level;
  } else {
    levels_.insert_or_assign(std::string(ns), level);
  }
}

void LogLevelFilter::clearLogLevels() {
  std::unique_lock lock(mutex_);
  levels_.clear();
}

LogObserver filteringObserver(LogObserver observer,
                              std::function<bool(const LogEvent&)> predicate) {
  return [observer = std::move(observer), predicate = std::move(predicate)](const LogEvent& event) {
    if (predicate(event)) observer(event);
  };
}

LogObserver filteringObserver(LogObserver observer, std::shared_ptr<const LogLevelFilter> filter) {
  return [observer = std::move(observer), filter = std::move(filter)](const LogEvent& event) {
    if (filter->passes(event)) observer(event);
  };
}

LogObserver filteringObserver(LogObserver observer, LogLevel minimum) {
  return [observer = std::move(observer), minimum](const LogEvent& event) {
    if (event.level >= minimum) observer(event);
  };
}

}  // namespace torsion
