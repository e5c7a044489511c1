#include "torsion/testing/reactor_clean.hpp"

#include <algorithm>
#include <cstdio>
#include <typeinfo>

#include "torsion/defer/failure.hpp"

namespace torsion::testing {

namespace {

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string formatSeconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

template <class D>
std::string describeDescriptor(const char* role, D* d) {
  std::string text = std::string("  ") + role + " fd ";
  try {
    text += std::to_string(d->fileno());
  } catch (...) {
    text += "?";
  }
  return text + " (" + demangledName(typeid(*d)) + ")\n";
}

}  // namespace

ReactorCleanCheck::ReactorCleanCheck(Reactor& reactor)
    : reactor_(reactor),
      calls_(reactor.getDelayedCalls()),
      readers_(reactor.getReaders()),
      writers_(reactor.getWriters()) {}

std::vector<DelayedCall> ReactorCleanCheck::leftoverCalls() const {
  std::vector<DelayedCall> out;
  for (DelayedCall& call : reactor_.getDelayedCalls()) {
    if (!contains(calls_, call)) out.push_back(std::move(call));
  }
  std::sort(out.begin(), out.end(),
            [](const DelayedCall& a, const DelayedCall& b) { return a.getTime() < b.getTime(); });
  return out;
}

std::vector<IReadDescriptor*> ReactorCleanCheck::leftoverReaders() const {
  std::vector<IReadDescriptor*> out = reactor_.getReaders();
  std::erase_if(out, [this](IReadDescriptor* r) { return contains(readers_, r); });
  return out;
}

std::vector<IWriteDescriptor*> ReactorCleanCheck::leftoverWriters() const {
  std::vector<IWriteDescriptor*> out = reactor_.getWriters();
  std::erase_if(out, [this](IWriteDescriptor* w) { return contains(writers_, w); });
  return out;
}

bool ReactorCleanCheck::clean() const {
  return leftoverCalls().empty() && leftoverReaders().empty() && leftoverWriters().empty();
}

std::string ReactorCleanCheck::report() const {
  const std::vector<DelayedCall> calls = leftoverCalls();
  const std::vector<IReadDescriptor*> readers = leftoverReaders();
  const std::vector<IWriteDescriptor*> writers = leftoverWriters();
  if (calls.empty() && readers.empty() && writers.empty()) return {};

  std::string text = "Reactor was unclean.\n";
  if (!calls.empty()) {
    const double now = reactor_.seconds();
    text += "DelayedCalls: (" + std::to_string(calls.size()) +
            " pending; cancel them or let them run before the test ends)\n";
    for (const DelayedCall& call : calls) {
      const double at = call.getTime();
      text += "  DelayedCall due at " + formatSeconds(at) + " (in " +
              formatSeconds(std::max(0.0, at - now)) + " s)\n";
    }
  }
  if (!readers.empty() || !writers.empty()) {
    text += "Selectables: (close the connections and ports the test opened)\n";
    for (IReadDescriptor* r : readers) text += describeDescriptor("reader", r);
    for (IWriteDescriptor* w : writers) text += describeDescriptor("writer", w);
  }
  return text;
}

void ReactorCleanCheck::verify() const {
  if (std::string text = report(); !text.empty()) throw DirtyReactorError(text);
}

std::string ReactorCleanCheck::cleanUp() {
  std::string text = report();
  for (DelayedCall& call : leftoverCalls()) {
    if (call.active()) call.cancel();
  }
  for (IReadDescriptor* r : leftoverReaders()) reactor_.removeReader(r);
  for (IWriteDescriptor* w : leftoverWriters()) reactor_.removeWriter(w);
  return text;
}

}  // namespace torsion::testing
