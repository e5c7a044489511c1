// Internals of Deferred<T>: the shared, type-erased state behind every handle.
//
// Not a public header: deferred.hpp includes it because its thin templates need the layout.
// The typed code (deferred.hpp) packs each callback with the function that knows its types;
// everything that does not depend on a type (running the chain, chaining Deferreds,
// cancellation, unhandled-error reporting) lives in deferred.cpp.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "torsion/core/function.hpp"
#include "torsion/core/source_location.hpp"
#include "torsion/defer/failure.hpp"

namespace torsion::detail {

class DeferredState;

// ---------------------------------------------------------------------------------------
// Where a callback was added: file and line (16 bytes, where a SourceLocation takes 24),
// kept with each callback to name the origin of a failure it throws.
struct CallSite {
  const char* file;
  std::uint_least32_t line;
  CallSite(const SourceLocation& where) noexcept  // NOLINT: implicit by design
      : file(where.file_name()), line(where.line()) {}
  SourceLocation location() const noexcept { return SourceLocation(file, line, ""); }
};

// ---------------------------------------------------------------------------------------
// The current result: nothing yet, a value of the chain's current type, or a Failure.
class ValueSlot {
 public:
  static constexpr std::size_t kInlineSize = 32;

  template <class T>
  static constexpr bool kInline = sizeof(T) <= kInlineSize &&
                                  alignof(T) <= 8 && std::is_nothrow_move_constructible_v<T>;

  ValueSlot() noexcept = default;
  ValueSlot(const ValueSlot&) = delete;
  ValueSlot& operator=(const ValueSlot&) = delete;
  ~ValueSlot() { reset(); }

  bool empty() const noexcept { return ops_ == nullptr; }

  template <class T, class... A>
  void emplace(A&&... args) {
    reset();
    if constexpr (kInline<T>) {
      ::new (static_cast<void*>(buf_)) T(std::forward<A>(args)...);
    } else {
      *reinterpret_cast<T**>(buf_) = new T(std::forward<A>(args)...);
    }
    ops_ = &opsFor<T>;
  }

  // Moves the value out and leaves the slot empty. Precondition: holds a T.
  template <class T>
  T take() {
    T* p = pointer<T>();
    T out(std::move(*p));
    if constexpr (kTrivial<T>) {
      ops_ = nullptr;
    } else {
      reset();
    }
    return out;
  }

  template <class T>
  T* pointer() noexcept {
    if constexpr (kInline<T>) {
      return std::launder(reinterpret_cast<T*>(buf_));
    } else {
      return *reinterpret_cast<T**>(buf_);
    }
  }

  void reset() noexcept {
    if (ops_ != nullptr) {
      if (ops_->destroy != nullptr) ops_->destroy(buf_);
      ops_ = nullptr;
    }
  }

  // Moves this slot's value (of whatever type) into `dst`; this slot ends empty.
  void moveTo(ValueSlot& dst) noexcept {
    dst.reset();
    if (ops_ != nullptr) {
      if (ops_->move != nullptr) {
        ops_->move(buf_, dst.buf_);
      } else {
        std::memcpy(dst.buf_, buf_, kInlineSize);
      }
      dst.ops_ = ops_;
      ops_ = nullptr;
    }
  }

 private:
  struct Ops {
    void (*destroy)(void*) noexcept;
    void (*move)(void* from, void* to) noexcept;
  };

  // Trivially copyable values need no ops at all: they are copied as bytes and never
  // destroyed (the common case of ints, pointers, small structs).
  template <class T>
  static constexpr bool kTrivial = kInline<T>&& std::is_trivially_copyable_v<T>;

  template <class T>
  static constexpr Ops opsFor =
      kTrivial<T>  ? Ops{nullptr, nullptr}
      : kInline<T> ? Ops{[](void* p) noexcept { std::launder(static_cast<T*>(p))->~T(); },
                         [](void* from, void* to) noexcept {
                           T* src = std::launder(static_cast<T*>(from));
                           ::new (to) T(std::move(*src));
                           src->~T();
                         }}
                   : Ops{[](void* p) noexcept { delete *static_cast<T**>(p); },
                         [](void* from, void* to) noexcept {
                           *static_cast<T**>(to) = *static_cast<T**>(from);
                         }};

  alignas(8) unsigned char buf_[kInlineSize];
  const Ops* ops_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// The callback chain: a FIFO of variable-size records [EntryFn][callable], stored in an
// inline block and, past that, in linked overflow blocks. Records never move, so a callback
// may append to the chain it is running in (Twisted's re-entrancy rule 6).
enum class EntryOp : std::uint8_t { kInvoke, kDestroy };

// Invokes (then destroys) or only destroys the callable at `callable`; returns the
// callable's padded size so the reader can step to the next record.
using EntryFn = std::size_t (*)(void* callable, DeferredState& state, EntryOp op);

class CallbackList {
 public:
  static constexpr std::size_t kInlineBytes = 256;
  static constexpr std::size_t kMaxInlineCallable = 64;

  template <class F>
  static constexpr bool kStoredInline = sizeof(F) <= kMaxInlineCallable && alignof(F) <= 8;

  CallbackList() noexcept;
  CallbackList(const CallbackList&) = delete;
  CallbackList& operator=(const CallbackList&) = delete;
  ~CallbackList();  // precondition: destroyAll() ran
  // Destroys the remaining callables without invoking them.
  void destroyAll(DeferredState& state) noexcept;

  // The read and write positions meet only when every record was consumed (records never
  // span blocks, and a block the reader leaves is freed).
  bool empty() const noexcept { return readPtr_ == writePtr_; }

  // Appends `f` run by `fn`. `fn` receives a pointer to the stored F (boxed if large).
  template <class F>
  void push(EntryFn fn, F&& f) {
    using D = std::decay_t<F>;
    void* slot = reserve(fn, padded(sizeof(D)));
    ::new (slot) D(std::forward<F>(f));
  }

  // Invokes the first record and removes it. Precondition: !empty().
  void invokeFront(DeferredState& state) {
    EntryFn fn = frontFn();
    advance(fn(frontCallable(), state, EntryOp::kInvoke));
  }

  // The first record's function (runCallbacks recognises chain continuations by it).
  EntryFn frontFn() const noexcept {
    EntryFn fn;
    std::memcpy(&fn, readPtr_, sizeof fn);
    return fn;
  }
  void* frontCallable() const noexcept { return readPtr_ + sizeof(EntryFn); }
  void popFrontWithoutInvoking(std::size_t callableSize) noexcept { advance(callableSize); }

  static constexpr std::size_t padded(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

 private:
  // An overflow block; `end` is where its records stop once the writer moved on.
  struct Block {
    Block* next = nullptr;
    unsigned char* end = nullptr;
    unsigned char* data() noexcept { return reinterpret_cast<unsigned char*>(this + 1); }
  };

  // Positions are raw pointers so that the hot paths touch no block header.
  void* reserve(EntryFn fn, std::size_t callableBytes) {
    const std::size_t need = sizeof(EntryFn) + callableBytes;
    if (static_cast<std::size_t>(writeEnd_ - writePtr_) < need) grow(need);
    unsigned char* at = writePtr_;
    std::memcpy(at, &fn, sizeof fn);
    writePtr_ += need;
    return at + sizeof(EntryFn);
  }
  void advance(std::size_t callableBytes) noexcept {
    readPtr_ += sizeof(EntryFn) + callableBytes;
    if (readPtr_ == writePtr_) {
      reset();
    } else if (readPtr_ == readEnd_) {
      nextBlock();
    }
  }
  void grow(std::size_t need);
  void nextBlock() noexcept;  // the reader reached the end of a block the writer left
  void reset() noexcept;      // empty: back to the start of the inline buffer

  Block* readBlock_ = nullptr;   // the overflow block being read, or null for inline
  Block* writeBlock_ = nullptr;  // the overflow block being written, or null for inline
  Block* firstOverflow_ = nullptr;
  unsigned char* readPtr_;
  unsigned char* readEnd_ = nullptr;  // end of the records of the read block, once known
  unsigned char* writePtr_;
  unsigned char* writeEnd_;
  std::size_t lastCapacity_ = kInlineBytes;
  alignas(8) unsigned char inlineBytes_[kInlineBytes];
};

// ---------------------------------------------------------------------------------------
// The coroutine side of a Deferred made by a coroutine (see coroutine.hpp).
class CoroutineLink {
 public:
  // What the coroutine currently awaits (not owned), or nullptr.
  DeferredState* awaiting = nullptr;
  // cancel() arrived while the coroutine was running: cancel what it awaits next.
  bool cancelRequested = false;
};

// ---------------------------------------------------------------------------------------
class DeferredState {
 public:
  enum class Kind : std::uint8_t { kEmpty, kValue, kFailure };

  static DeferredState* create(const std::type_info& type);  // refs == 1
  void addRef() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) destroy();
  }
  std::uint32_t refs() const noexcept { return refs_; }

  // --- the result --------------------------------------------------------------------
  Kind kind() const noexcept { return kind_; }
  bool called() const noexcept { return called_; }
  bool running() const noexcept { return running_; }
  unsigned paused() const noexcept { return paused_; }
  // The result is available to the next callback right now (fired, not paused, not
  // running its chain).
  bool ready() const noexcept { return called_ && paused_ == 0 && !running_; }
  // The chain's result was handed to another Deferred or to a co_await.
  bool consumed() const noexcept { return consumed_; }
  void markConsumed() noexcept { consumed_ = true; }

  ValueSlot& value() noexcept { return value_; }
  template <class T, class... A>
  void setValue(A&&... args) {
    failure_.reset();
    if constexpr (!std::is_void_v<T>) {
      value_.emplace<T>(std::forward<A>(args)...);
    } else {
      value_.reset();
    }
    kind_ = Kind::kValue;
  }
  void setFailure(Failure f) noexcept;
  // From inside a catch block: the current exception becomes the result. If it is the
  // exception of `incoming` (an errback rethrew it, e.g. through Failure::trap), `incoming`
  // is kept, with its origin.
  void setFailureFromCurrent(const SourceLocation& where,
                             const Failure* incoming = nullptr) noexcept;
  Failure takeFailure() noexcept;  // precondition: kind() == kFailure; leaves kEmpty
  const Failure& failure() const noexcept { return *failure_; }
  // A callback returned this Deferred: the chain continues with its result.
  void setInner(DeferredState* inner) noexcept { inner_ = inner; }  // takes the reference

  // --- firing ------------------------------------------------------------------------
  // The typed callers store the result with setValue/setFailure first, then call fire().
  // Returns false if the result is to be dropped (AlreadyCalledError thrown otherwise).
  bool beginFire();  // throws AlreadyCalledError
  void fire();       // runs the chain
  void runCallbacks();

  // --- chain -------------------------------------------------------------------------
  // Precondition for the typed add functions: not consumed, tail type matches.
  void checkAppend(const std::type_info& handleType) const {
    if (consumed_ || handleType != *tailType_) appendRefused(handleType);
  }
  void checkFire(const std::type_info& handleType) const {
    if (handleType != *headType_) fireRefused(handleType);
  }
  template <class F>
  void append(EntryFn fn, F&& f) {
    callbacks_.push(fn, std::forward<F>(f));
    if (ready()) runCallbacks();
  }
  void setTailType(const std::type_info& t) noexcept { tailType_ = &t; }
  const std::type_info& tailType() const noexcept { return *tailType_; }
  const std::type_info& headType() const noexcept { return *headType_; }

  // --- pause, cancel -----------------------------------------------------------------
  void pause() noexcept { ++paused_; }
  void unpause();
  void cancel();
  void setCanceller(UniqueFunction<void(DeferredState&)> c) { canceller_ = std::move(c); }
  void setCoroutine(CoroutineLink* link) noexcept { coroutine_ = link; }

  // Registers a coroutine waiting for this Deferred (an awaiter's await_suspend). The
  // frame is owned by the chain until the Deferred fires; if the Deferred is destroyed
  // unfired, the frame is destroyed with it.
  void appendResumer(std::coroutine_handle<> h, CoroutineLink* waiter);

 private:
  explicit DeferredState(const std::type_info& type) noexcept;
  ~DeferredState();
  void destroy() noexcept;
  [[noreturn]] void appendRefused(const std::type_info& handleType) const;
  [[noreturn]] void fireRefused(const std::type_info& handleType) const;
  void chainInto(DeferredState* outer);  // this (unfired/paused) feeds `outer` later
  static std::size_t continuationFn(void* callable, DeferredState& state, EntryOp op);
  friend struct ContinuationAccess;

  std::uint32_t refs_ = 1;
  Kind kind_ = Kind::kEmpty;
  bool called_ = false;
  bool running_ = false;
  bool suppressAlreadyCalled_ = false;
  bool consumed_ = false;
  unsigned paused_ = 0;
  const std::type_info* headType_;
  const std::type_info* tailType_;
  DeferredState* inner_ = nullptr;      // set by a callback returning a Deferred (owned)
  DeferredState* chainedTo_ = nullptr;  // the inner Deferred this one waits on (not owned)
  CoroutineLink* coroutine_ = nullptr;  // set for a coroutine's own Deferred
  ValueSlot value_;
  std::optional<Failure> failure_;
  UniqueFunction<void(DeferredState&)> canceller_;
  CallbackList callbacks_;
};

// Holds a reference for a scope (around calls that may drop the last handle, or throw).
class StateRef {
 public:
  explicit StateRef(DeferredState* s) noexcept : s_(s) { s_->addRef(); }
  StateRef(const StateRef&) = delete;
  StateRef& operator=(const StateRef&) = delete;
  ~StateRef() { s_->release(); }

 private:
  DeferredState* s_;
};

// Reports a Failure nobody handled ("Unhandled error in Deferred:"), at critical level.
void reportUnhandledFailure(const Failure& failure) noexcept;

}  // namespace torsion::detail
