#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "torsion/core/free_list.hpp"
#include "torsion/defer/deferred_state.hpp"
#include "torsion/defer/errors.hpp"
#include "torsion/log/logger.hpp"

namespace torsion {

std::string TimeoutError::formatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

FirstError::FirstError(Failure subFailure, std::size_t index)
    : Error("FirstError[#" + std::to_string(index) + ", " + subFailure.describe() + "]"),
      subFailure_(std::move(subFailure)),
      index_(index) {}

FailureGroup::FailureGroup(std::vector<Failure> failures)
    : Error("FailureGroup of " + std::to_string(failures.size()) + " failures"),
      failures_(std::move(failures)) {}

namespace detail {

// Creating a Deferred is the most frequent allocation of a Deferred-heavy program.
using StatePool = FreeList<sizeof(DeferredState), 1024>;

namespace {

// The stack of Deferreds being run by runCallbacks (Twisted's `chain` list): inline for
// the usual depth, growing on the heap for deep chains so nothing recurses.
class ChainStack {
 public:
  ~ChainStack() {
    while (!empty()) pop()->release();
  }
  bool empty() const noexcept { return size_ == 0; }
  DeferredState* back() const noexcept { return at(size_ - 1); }
  void push(DeferredState* s) {
    if (size_ < kInline) {
      inline_[size_] = s;
    } else {
      overflow_.push_back(s);
    }
    ++size_;
  }
  DeferredState* pop() noexcept {
    --size_;
    if (size_ < kInline) return inline_[size_];
    DeferredState* s = overflow_.back();
    overflow_.pop_back();
    return s;
  }

 private:
  static constexpr std::size_t kInline = 8;
  DeferredState* at(std::size_t i) const noexcept {
    return i < kInline ? inline_[i] : overflow_[i - kInline];
  }
  DeferredState* inline_[kInline];
  std::vector<DeferredState*> overflow_;
  std::size_t size_ = 0;
};

// The record of a coroutine waiting on a Deferred.
struct Resumer {
  std::coroutine_handle<> handle;
  CoroutineLink* waiter;
};

std::size_t resumerFn(void* p, DeferredState&, EntryOp op) {
  auto* r = static_cast<Resumer*>(p);
  if (op == EntryOp::kInvoke) {
    r->waiter->awaiting = nullptr;
    r->handle.resume();
  } else {
    // The Deferred is gone unfired: nothing can resume the coroutine, so free it.
    r->handle.destroy();
  }
  return CallbackList::padded(sizeof(Resumer));
}

}  // namespace

// ---------------------------------------------------------------------------------------
CallbackList::CallbackList() noexcept
    : readPtr_(inlineBytes_), writePtr_(inlineBytes_), writeEnd_(inlineBytes_ + kInlineBytes) {}

CallbackList::~CallbackList() { reset(); }

void CallbackList::destroyAll(DeferredState& state) noexcept {
  // Callables are destroyed in order, without running.
  while (!empty()) {
    EntryFn fn = frontFn();
    advance(fn(frontCallable(), state, EntryOp::kDestroy));
  }
}

void CallbackList::grow(std::size_t need) {
  // The writer leaves its block: mark where its records end, for the reader.
  std::size_t cap = lastCapacity_ * 2;
  while (cap < need) cap *= 2;
  auto* raw = static_cast<unsigned char*>(::operator new(sizeof(Block) + cap));
  auto* b = ::new (raw) Block;
  if (writeBlock_ != nullptr) {
    writeBlock_->end = writePtr_;
    writeBlock_->next = b;
  } else {
    firstOverflow_ = b;
  }
  if (readPtr_ == writePtr_) {
    // Nothing left to read where the writer was: the reader follows it.
    readBlock_ = b;
    readPtr_ = b->data();
    readEnd_ = nullptr;
  } else if (readBlock_ == writeBlock_) {
    readEnd_ = writePtr_;
  }
  writeBlock_ = b;
  writePtr_ = b->data();
  writeEnd_ = b->data() + cap;
  lastCapacity_ = cap;
}

void CallbackList::nextBlock() noexcept {
  Block* next = readBlock_ != nullptr ? readBlock_->next : firstOverflow_;
  if (readBlock_ != nullptr) {
    readBlock_->~Block();
    ::operator delete(readBlock_);
    firstOverflow_ = next;
  }
  readBlock_ = next;
  readPtr_ = next->data();
  readEnd_ = next->end;  // null while the writer is still in it
}

void CallbackList::reset() noexcept {
  // Free what is left of the overflow chain (the reader may be inside it).
  Block* b = readBlock_ != nullptr ? readBlock_ : firstOverflow_;
  while (b != nullptr) {
    Block* next = b->next;
    b->~Block();
    ::operator delete(b);
    b = next;
  }
  firstOverflow_ = readBlock_ = writeBlock_ = nullptr;
  readPtr_ = writePtr_ = inlineBytes_;
  readEnd_ = nullptr;
  writeEnd_ = inlineBytes_ + kInlineBytes;
  lastCapacity_ = kInlineBytes;
}

// ---------------------------------------------------------------------------------------
DeferredState* DeferredState::create(const std::type_info& type) {
  void* mem = StatePool::allocate();
  return ::new (mem) DeferredState(type);
}

DeferredState::DeferredState(const std::type_info& type) noexcept
    : headType_(&type), tailType_(&type) {}

DeferredState::~DeferredState() {
  callbacks_.destroyAll(*this);
  if (inner_ != nullptr) inner_->release();
}

void DeferredState::destroy() noexcept {
  if (kind_ == Kind::kFailure) reportUnhandledFailure(*failure_);
  this->~DeferredState();
  StatePool::deallocate(this);
}

void DeferredState::setFailure(Failure f) noexcept {
  value_.reset();
  failure_.emplace(std::move(f));
  kind_ = Kind::kFailure;
}

void DeferredState::setFailureFromCurrent(const SourceLocation& where,
                                          const Failure* incoming) noexcept {
  std::exception_ptr e = std::current_exception();
  if (incoming != nullptr && incoming->exception() == e) {
    setFailure(*incoming);
  } else {
    setFailure(Failure(std::move(e), where));
  }
}

Failure DeferredState::takeFailure() noexcept {
  Failure f = std::move(*failure_);
  failure_.reset();
  kind_ = Kind::kEmpty;
  return f;
}

bool DeferredState::beginFire() {
  if (called_) {
    if (suppressAlreadyCalled_) {
      suppressAlreadyCalled_ = false;
      return false;
    }
    throw AlreadyCalledError();
  }
  return true;
}

void DeferredState::fire() {
  called_ = true;
  runCallbacks();
}

void DeferredState::appendRefused(const std::type_info& handleType) const {
  if (consumed_) {
    throw std::logic_error(
        "Deferred: its result was handed to another Deferred or to co_await; add callbacks to "
        "the Deferred that received it");
  }
  throw std::logic_error("Deferred: this handle is stale: the chain now yields " +
                         demangledName(*tailType_) + ", not " + demangledName(handleType) +
                         "; use the Deferred returned by the last addCallback");
}

void DeferredState::fireRefused(const std::type_info& handleType) const {
  throw std::logic_error("Deferred: fire the handle the chain started from (Deferred<" +
                         demangledName(*headType_) + ">), not one returned by addCallback (" +
                         "Deferred<" + demangledName(handleType) + ">)");
}

void DeferredState::unpause() {
  if (paused_ == 0) throw std::logic_error("Deferred::unpause without a matching pause");
  if (--paused_ == 0 && called_) runCallbacks();
}

void DeferredState::cancel() {
  if (!called_) {
    if (coroutine_ != nullptr) {
      // A coroutine's Deferred: cancel what the coroutine awaits and let it decide; it may
      // catch the CancelledError and go on.
      if (DeferredState* awaited = coroutine_->awaiting) {
        const StateRef keep(awaited);
        awaited->cancel();
      } else {
        coroutine_->cancelRequested = true;
      }
      return;
    }
    // The canceller may drop the last handle, or throw (then, as in Twisted, the exception
    // propagates and the Deferred stays unfired).
    const StateRef keep(this);
    if (canceller_) {
      auto canceller = std::move(canceller_);
      canceller(*this);
    } else {
      // Eat the result the producer will eventually deliver.
      suppressAlreadyCalled_ = true;
    }
    if (!called_) {
      setFailure(Failure(CancelledError(), SourceLocation()));
      fire();
    }
  } else if (chainedTo_ != nullptr) {
    // Waiting on an inner Deferred: cancel that one instead.
    DeferredState* inner = chainedTo_;
    const StateRef keep(inner);
    inner->cancel();
  }
}

void DeferredState::appendResumer(std::coroutine_handle<> h, CoroutineLink* waiter) {
  consumed_ = true;
  waiter->awaiting = this;
  callbacks_.push(&resumerFn, Resumer{h, waiter});
}

// The continuation record of an inner Deferred: when the inner fires, its result moves
// to `outer`. runCallbacks recognises it by its function and unrolls it without recursion.
std::size_t DeferredState::continuationFn(void* p, DeferredState&, EntryOp op) {
  DeferredState* outer = *static_cast<DeferredState**>(p);
  if (op == EntryOp::kDestroy) {
    // The inner Deferred is gone unfired: the outer one will wait forever.
    outer->chainedTo_ = nullptr;
    outer->release();
  }
  return CallbackList::padded(sizeof(DeferredState*));
}

void DeferredState::chainInto(DeferredState* outer) {
  outer->pause();
  outer->chainedTo_ = this;
  consumed_ = true;
  outer->addRef();
  callbacks_.push(&continuationFn, outer);
}

void DeferredState::runCallbacks() {
  if (running_) return;  // the loop already running this chain picks new callbacks up
  ChainStack chain;
  addRef();
  chain.push(this);
  while (!chain.empty()) {
    DeferredState* current = chain.back();
    if (current->paused_ > 0) {
      // Waiting on another Deferred; everything below waits with it.
      return;
    }
    bool finished = true;
    while (!current->callbacks_.empty()) {
      if (current->callbacks_.frontFn() == &continuationFn) {
        // Hand our result to the Deferred that waits on us, and run it next.
        DeferredState* outer = *static_cast<DeferredState**>(current->callbacks_.frontCallable());
        current->callbacks_.popFrontWithoutInvoking(CallbackList::padded(sizeof(DeferredState*)));
        current->value_.moveTo(outer->value_);
        outer->failure_ = std::move(current->failure_);
        current->failure_.reset();
        outer->kind_ = current->kind_;
        current->kind_ = Kind::kEmpty;
        outer->chainedTo_ = nullptr;
        --outer->paused_;
        chain.push(outer);  // the record's reference moves to the chain
        finished = false;
        break;
      }
      current->running_ = true;
      current->callbacks_.invokeFront(*current);
      current->running_ = false;
      if (current->inner_ != nullptr) {
        DeferredState* inner = std::exchange(current->inner_, nullptr);
        if (inner == current) {
          inner->release();
          current->setFailure(
              Failure(std::logic_error("a callback returned the Deferred it was attached to"),
                      SourceLocation()));
        } else if (inner->ready() && !inner->consumed_) {
          // It already has a result: take it and keep going.
          inner->value_.moveTo(current->value_);
          current->failure_ = std::move(inner->failure_);
          inner->failure_.reset();
          current->kind_ = inner->kind_;
          inner->kind_ = Kind::kEmpty;
          inner->consumed_ = true;
          inner->release();
        } else if (inner->consumed_) {
          inner->release();
          current->setFailure(Failure(
              std::logic_error("a callback returned a Deferred whose result was already taken"),
              SourceLocation()));
        } else {
          // Pause until the inner Deferred fires.
          inner->chainInto(current);
          inner->release();
          break;
        }
      }
    }
    if (finished) chain.pop()->release();
  }
}

// ---------------------------------------------------------------------------------------
void reportUnhandledFailure(const Failure& failure) noexcept {
  try {
    static const Logger log("torsion.defer");
    log.failure("Unhandled error in Deferred:", failure, LogLevel::critical);
  } catch (...) {
    // Logging must not throw out of a destructor; there is nowhere left to report to.
  }
}

}  // namespace detail
}  // namespace torsion
