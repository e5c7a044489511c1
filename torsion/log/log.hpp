// torsion::log, Twisted's twisted.logger: structured events, levels, namespaces, publishers
// and observers. Include this header for all of it, or the one you need:
//   level.hpp          LogLevel
//   event.hpp          FieldValue, LogEvent, formatEvent
//   publisher.hpp      LogPublisher, LogObserver, globalLogPublisher()
//   logger.hpp         Logger
//   text_observer.hpp  textFileObserver, formatEventAsText
//   json_observer.hpp  jsonFileObserver, eventAsJSON
//   filter.hpp         LogLevelFilter, filteringObserver
#pragma once

#include "torsion/log/event.hpp"
#include "torsion/log/filter.hpp"
#include "torsion/log/json_observer.hpp"
#include "torsion/log/level.hpp"
#include "torsion/log/logger.hpp"
#include "torsion/log/publisher.hpp"
#include "torsion/log/text_observer.hpp"
