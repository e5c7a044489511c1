// JSON lines: one JSON object per event per line, for machines (Twisted's
// jsonFileLogObserver, which separates records with "\x1e" instead of writing one per line).
//
//   {"log_format":"Connection from {peer}","log_level":"info","log_namespace":"torsion.web",
//    "log_text":"Connection from 10.0.0.7","log_time":1795341600.25,"peer":"10.0.0.7"}
//
// Keys: every field by its name (null, bool, integer, float or string), then "log_format",
// "log_level" (the level's name), "log_namespace", "log_time" (seconds since the Unix epoch, as
// a float), "log_text" (formatEvent's rendering) and, when the event carries a Failure,
// "log_failure": {"type", "message", "file", "line", "function"}. The log_ keys win over
// fields of the same name. Strings that are not valid UTF-8 have the bad bytes replaced by
// U+FFFD.
#pragma once

#include <cstdio>
#include <string>

#include "torsion/log/event.hpp"
#include "torsion/log/publisher.hpp"

namespace torsion {

// The event as one JSON object, without a newline.
std::string eventAsJSON(const LogEvent& event);

// An observer writing eventAsJSON and a newline to `out`, flushing after each event. Each event
// is written in one locked call, so events from several threads do not interleave. The caller
// keeps `out` open for as long as the observer is registered.
LogObserver jsonFileObserver(std::FILE* out);

}  // namespace torsion
