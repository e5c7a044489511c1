// Waiting on several Deferreds: deferredList, gatherResults, race (twisted.internet.defer's
// DeferredList, gatherResults and race).
//
// Each combinator adds one step to every member's chain, after the steps already there, so
// earlier callbacks shape what it sees (as in Twisted). That step takes the member's value
// (moved, so move-only types work) and the member's chain goes on as Deferred<void>; a
// member's failure stays in the member's chain (and is reported as unhandled when the
// member is dropped) unless consumeErrors is set.
//
// Cancellation: cancelling the combined Deferred while it has not fired cancels every
// member; an exception thrown by a member's canceller is logged and the others are still
// cancelled.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "torsion/defer/deferred.hpp"

namespace torsion {

struct DeferredListOptions {
  // Errback the list with FirstError(failure, index) as soon as a member fails.
  bool fireOnOneErrback = false;
  // Replace each member's failure by "handled" in the member's own chain, so nothing is
  // reported as unhandled. Does not disable fireOnOneErrback.
  bool consumeErrors = false;
};

// What a fireOnOneCallback list and race fire with: the first value and its member's index.
template <class T>
struct FirstResult {
  T result;
  std::size_t index;
};
template <>
struct FirstResult<void> {
  std::size_t index;
};

// Tag for deferredList's fireOnOneCallback form.
struct FireOnOneCallback {};
inline constexpr FireOnOneCallback fireOnOneCallback{};

namespace detail {

// The members of a combinator, for cancelling them. A member's pointer is cleared when the
// combinator's step in its chain is destroyed (it ran, or the member was destroyed unfired),
// so the combinator never keeps a member alive and never touches a dead one.
struct MemberSet {
  std::vector<DeferredState*> members;
  // Cancels every member still pending but `except`; logs what a canceller throws.
  void cancelAll(std::size_t except = static_cast<std::size_t>(-1)) noexcept;
};

// Captured by a member's step: keeps the combinator's state alive and clears the member's
// pointer when the step goes away.
template <class S>
class MemberGuard {
 public:
  MemberGuard(std::shared_ptr<S> st, std::size_t i) noexcept : st_(std::move(st)), i_(i) {}
  MemberGuard(MemberGuard&& o) noexcept : st_(std::move(o.st_)), i_(o.i_) {}
  MemberGuard(const MemberGuard&) = delete;
  MemberGuard& operator=(const MemberGuard&) = delete;
  MemberGuard& operator=(MemberGuard&&) = delete;
  ~MemberGuard() {
    if (st_) st_->members[i_] = nullptr;
  }
  S& operator*() const noexcept { return *st_; }
  S* operator->() const noexcept { return st_.get(); }
  std::size_t index() const noexcept { return i_; }

 private:
  std::shared_ptr<S> st_;
  std::size_t i_;
};

template <class Out, class S, class T>
Deferred<Out> startCombinator(const std::shared_ptr<S>& st, const std::vector<Deferred<T>>& ds) {
  for (const auto& d : ds) {
    DeferredState* s = DeferredAccess::state(d);
    if (s == nullptr) throw std::logic_error("a combinator was given a moved-from Deferred");
    st->members.push_back(s);
  }
  std::weak_ptr<S> weak = st;
  Deferred<Out> out([weak](Deferred<Out>&) {
    if (auto alive = weak.lock()) alive->cancelAll();
  });
  st->out.emplace(out);
  return out;
}

}  // namespace detail

// Fires, once every member has fired, with their results in input order (Twisted's
// DeferredList with fireOnOneCallback=False). An empty list fires at once with {}.
template <class T>
Deferred<std::vector<Result<T>>> deferredList(std::vector<Deferred<T>> ds,
                                              DeferredListOptions options = {}) {
  using Out = std::vector<Result<T>>;
  struct State : detail::MemberSet {
    std::vector<std::optional<Result<T>>> results;
    std::size_t remaining = 0;
    std::optional<Deferred<Out>> out;
  };
  auto st = std::make_shared<State>();
  st->results.resize(ds.size());
  st->remaining = ds.size();
  Deferred<Out> out = detail::startCombinator<Out>(st, ds);
  if (ds.empty()) {
    out.callback(Out{});
    return out;
  }
  for (std::size_t i = 0; i < ds.size(); ++i) {
    ds[i].addBoth(
        [st = detail::MemberGuard<State>(st, i), i, options](Result<T> r) -> Result<void> {
          Result<void> passOn;
          if (!r.ok() && !options.consumeErrors) passOn = Result<void>(r.failure());
          bool failed = !r.ok();
          std::optional<Failure> firstFailure;
          if (failed && options.fireOnOneErrback) firstFailure = r.failure();
          st->results[i].emplace(std::move(r));
          --st->remaining;
          if (st->out->called()) return passOn;
          if (firstFailure) {
            st->out->errback(Failure(FirstError(*firstFailure, i)));
          } else if (st->remaining == 0) {
            Out all;
            all.reserve(st->results.size());
            for (auto& slot : st->results) all.push_back(std::move(*slot));
            st->out->callback(std::move(all));
          }
          return passOn;
        });
  }
  return out;
}

// Fires with the first member's value and its index (Twisted's DeferredList with
// fireOnOneCallback=True; the other members are left alone). If every member fails, it
// errbacks with FailureGroup (Twisted fires with the list of failures instead); with
// fireOnOneErrback, the first failure errbacks it with FirstError. An empty list never fires.
template <class T>
Deferred<FirstResult<T>> deferredList(std::vector<Deferred<T>> ds, FireOnOneCallback,
                                      DeferredListOptions options = {}) {
  using Out = FirstResult<T>;
  struct State : detail::MemberSet {
    std::vector<std::optional<Failure>> failures;
    std::size_t remaining = 0;
    std::optional<Deferred<Out>> out;
  };
  auto st = std::make_shared<State>();
  st->failures.resize(ds.size());
  st->remaining = ds.size();
  Deferred<Out> out = detail::startCombinator<Out>(st, ds);
  for (std::size_t i = 0; i < ds.size(); ++i) {
    ds[i].addBoth(
        [st = detail::MemberGuard<State>(st, i), i, options](Result<T> r) -> Result<void> {
          Result<void> passOn;
          --st->remaining;
          if (!r.ok()) {
            if (!options.consumeErrors) passOn = Result<void>(r.failure());
            st->failures[i] = r.failure();
            if (st->out->called()) return passOn;
            if (options.fireOnOneErrback) {
              st->out->errback(Failure(FirstError(r.failure(), i)));
            } else if (st->remaining == 0) {
              std::vector<Failure> all;
              for (auto& f : st->failures) {
                if (f) all.push_back(*f);
              }
              st->out->errback(Failure(FailureGroup(std::move(all))));
            }
            return passOn;
          }
          if (st->out->called()) return passOn;
          if constexpr (std::is_void_v<T>) {
            st->out->callback(Out{i});
          } else {
            st->out->callback(Out{std::move(r).value(), i});
          }
          return passOn;
        });
  }
  return out;
}

// Fires with every member's value, in input order, once all have succeeded; errbacks with
// FirstError(failure, index) at the first failure (Twisted's gatherResults). For
// Deferred<void> members the result is a Deferred<void>.
template <class T>
auto gatherResults(std::vector<Deferred<T>> ds, bool consumeErrors = false) {
  auto list = deferredList(std::move(ds), DeferredListOptions{true, consumeErrors});
  if constexpr (std::is_void_v<T>) {
    return list.addCallback([](std::vector<Result<void>>) {});
  } else {
    return list.addCallback([](std::vector<Result<T>> results) {
      std::vector<T> values;
      values.reserve(results.size());
      for (auto& r : results) values.push_back(std::move(r).value());
      return values;
    });
  }
}

// Fires with the first member to succeed and its index, and cancels all the others
// (Twisted's race). If every member fails it errbacks with FailureGroup (an empty input
// fails at once). Cancelling the race cancels every member. Members' failures are consumed.
template <class T>
Deferred<FirstResult<T>> race(std::vector<Deferred<T>> ds) {
  using Out = FirstResult<T>;
  struct State : detail::MemberSet {
    std::vector<std::optional<Failure>> failures;
    std::size_t failed = 0;
    bool won = false;
    std::optional<Deferred<Out>> out;
  };
  auto st = std::make_shared<State>();
  st->failures.resize(ds.size());
  Deferred<Out> out = detail::startCombinator<Out>(st, ds);
  if (ds.empty()) {
    out.errback(Failure(FailureGroup({})));
    return out;
  }
  for (std::size_t i = 0; i < ds.size(); ++i) {
    ds[i].addBoth([st = detail::MemberGuard<State>(st, i), i](Result<T> r) {
      if (!r.ok()) {
        st->failures[i] = r.failure();
        if (++st->failed == st->failures.size() && !st->won) {
          std::vector<Failure> all;
          for (auto& f : st->failures) all.push_back(*f);
          st->out->errback(Failure(FailureGroup(std::move(all))));
        }
        return;
      }
      if (st->won) return;
      st->won = true;
      // Cancel the losers first, then fire (Twisted's order).
      st->cancelAll(i);
      if constexpr (std::is_void_v<T>) {
        st->out->callback(Out{i});
      } else {
        st->out->callback(Out{std::move(r).value(), i});
      }
    });
  }
  return out;
}

}  // namespace torsion
