// An observer writing log events to syslog(3): twistd's --syslog, with --prefix as the tag
// (twisted.python.syslog.SyslogObserver).
//
// Each line of an event's text becomes one syslog message "[<system>] <line>", where system is
// the event's "log_system" field or "namespace#level" as in the text format; the lines after
// the first start with a tab after the system ("[<system>] \t<line>"), as Twisted writes them,
// so that a reader can tell events apart. A Failure's description follows as further lines.
// No time is written: syslog stamps its own.
#pragma once

#include <syslog.h>

#include <functional>
#include <string>
#include <vector>

#include "torsion/log/event.hpp"
#include "torsion/log/level.hpp"
#include "torsion/log/publisher.hpp"

namespace torsion::app {

// The syslog priority of a level: debug -> LOG_DEBUG, info -> LOG_INFO, warn -> LOG_WARNING,
// error -> LOG_ERR, critical -> LOG_CRIT. (Twisted's legacy observer only knew "error or not":
// LOG_ALERT or LOG_INFO; torsion has levels, so it keeps them.)
int syslogPriority(LogLevel level) noexcept;

// The priority and facility an event is sent with: its integer fields "syslogPriority" and
// "syslogFacility" when it has them (as Twisted's observer honours), else syslogPriority of
// its level and `facility`. Returns priority | facility, what syslog() takes.
int syslogPriorityOf(const LogEvent& event, int facility = LOG_USER) noexcept;

// The messages the event becomes (see above); empty if it renders as nothing.
std::vector<std::string> syslogLines(const LogEvent& event);

// Where an observer sends each message: by default syslog(priority, "%s", line).
using SyslogSink = std::function<void(int priority, const std::string& line)>;

// An observer sending each event's syslogLines with syslogPriorityOf(event, facility).
// Without a sink, it calls openlog(prefix, LOG_PID, facility) and then syslog(3); openlog is
// process-wide, so the last syslog observer made decides the tag (and the prefix strings are
// kept for the life of the process, since syslog keeps a pointer to its tag). Twisted's
// defaults are prefix "twisted" and LOG_USER; a daemon would usually pass LOG_DAEMON.
// Thread-safe (syslog(3) is; a sink given here must be too).
LogObserver syslogObserver(std::string prefix, int facility = LOG_USER, SyslogSink sink = {});

}  // namespace torsion::app
