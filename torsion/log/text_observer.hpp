// The text format of Twisted's classic log files, and an observer that writes it to a FILE*.
//
//   2026-11-22T10:00:00+0000 [torsion.web.server#info] Connection from 10.0.0.7 on port 8080
//
// The time is local with its UTC offset (or UTC, when asked), as Twisted's formatTime writes
// it. When the event carries a Failure, its describe() follows on the next line. Every line
// after the first of an event starts with a tab, so that a reader can tell events apart.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "torsion/log/event.hpp"
#include "torsion/log/publisher.hpp"

namespace torsion {

enum class LogTimeZone { local, utc };

// "2026-11-22T10:00:00+0000" (strftime's "%Y-%m-%dT%H:%M:%S%z"), "-" for the epoch (no time).
std::string formatLogTime(std::chrono::system_clock::time_point when,
                          LogTimeZone zone = LogTimeZone::local);

// The event as it appears in a text log, with its final newline; "" if it has neither a
// message nor a failure (Twisted writes nothing for those).
std::string formatEventAsText(const LogEvent& event, LogTimeZone zone = LogTimeZone::local);

// An observer writing formatEventAsText to `out` and flushing after each event. Each event is
// written in one locked call, so events from several threads do not interleave. The caller
// keeps `out` open for as long as the observer is registered.
LogObserver textFileObserver(std::FILE* out, LogTimeZone zone = LogTimeZone::local);

}  // namespace torsion
