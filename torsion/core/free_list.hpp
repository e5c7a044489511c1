// A per-thread free list of fixed-size blocks, for objects created and destroyed at high
// rates (Deferred states, timer entries). Internal to torsion.
//
// Freed blocks are kept for reuse on the freeing thread, up to MaxFree of them; beyond that
// they go back to operator delete. Pooling is off under AddressSanitizer and
// ThreadSanitizer, so that use-after-free stays visible to them.
#pragma once

#include <cstddef>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TORSION_NO_POOLING 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TORSION_NO_POOLING 1
#endif
#endif

namespace torsion::detail {

template <std::size_t Size, std::size_t MaxFree>
class FreeList {
  static_assert(Size >= sizeof(void*), "FreeList blocks must hold a pointer");

 public:
  static void* allocate() {
#ifndef TORSION_NO_POOLING
    Local& l = local_;
    if (!gone_ && l.head != nullptr) {
      Node* n = l.head;
      l.head = n->next;
      --l.count;
      return n;
    }
#endif
    return ::operator new(Size);
  }

  static void deallocate(void* p) noexcept {
#ifndef TORSION_NO_POOLING
    Local& l = local_;
    if (!gone_ && l.count < MaxFree) {
      auto* n = static_cast<Node*>(p);
      n->next = l.head;
      l.head = n;
      ++l.count;
      return;
    }
#endif
    ::operator delete(p);
  }

 private:
  struct Node {
    Node* next;
  };
  struct Local {
    Node* head = nullptr;
    std::size_t count = 0;
    ~Local() {
      gone_ = true;  // objects freed later on this thread (at exit) bypass the list
      while (head != nullptr) {
        Node* n = head;
        head = n->next;
        ::operator delete(n);
      }
    }
  };
  static thread_local Local local_;
  static thread_local bool gone_;
};

template <std::size_t Size, std::size_t MaxFree>
thread_local typename FreeList<Size, MaxFree>::Local FreeList<Size, MaxFree>::local_;
template <std::size_t Size, std::size_t MaxFree>
thread_local bool FreeList<Size, MaxFree>::gone_ = false;

}  // namespace torsion::detail
