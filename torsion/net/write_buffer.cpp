#include "torsion/net/write_buffer.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace torsion::detail {

struct WriteBuffer::Chunk {
  Chunk* next;
  std::uint32_t begin;
  std::uint32_t end;
  std::uint32_t capacity;
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
};

namespace {

constexpr std::uint32_t kChunkBytes = 16 * 1024;
constexpr int kSpareChunks = 64;

// Default-size chunks kept for reuse by this thread (one reactor per thread).
struct SpareChunks {
  void* list[kSpareChunks];
  int count = 0;
  ~SpareChunks() {
    while (count > 0) std::free(list[--count]);
  }
};
thread_local SpareChunks spares;

}  // namespace

void WriteBuffer::append(std::string_view data) {
  while (!data.empty()) {
    if (tail_ != nullptr && tail_->end < tail_->capacity) {
      const std::size_t n = std::min<std::size_t>(data.size(), tail_->capacity - tail_->end);
      std::memcpy(tail_->data() + tail_->end, data.data(), n);
      tail_->end += static_cast<std::uint32_t>(n);
      size_ += n;
      data.remove_prefix(n);
      continue;
    }
    // One chunk for the rest, capped so that a huge write is a few big chunks rather than one
    // allocation the size of the write.
    const std::size_t want =
        std::clamp<std::size_t>(data.size(), kChunkBytes, std::size_t{64} * 1024 * 1024);
    void* mem = nullptr;
    if (want == kChunkBytes && spares.count > 0) {
      mem = spares.list[--spares.count];
    } else {
      mem = std::malloc(sizeof(Chunk) + want);
      if (mem == nullptr) throw std::bad_alloc();
    }
    Chunk* c = static_cast<Chunk*>(mem);
    c->next = nullptr;
    c->begin = 0;
    c->end = 0;
    c->capacity = static_cast<std::uint32_t>(want);
    if (tail_ != nullptr) {
      tail_->next = c;
    } else {
      head_ = c;
    }
    tail_ = c;
  }
}

int WriteBuffer::fill(iovec* iov, int max) const noexcept {
  int n = 0;
  for (Chunk* c = head_; c != nullptr && n < max; c = c->next) {
    if (c->end == c->begin) continue;
    iov[n].iov_base = c->data() + c->begin;
    iov[n].iov_len = c->end - c->begin;
    ++n;
  }
  return n;
}

void WriteBuffer::consume(std::size_t n) noexcept {
  size_ -= n;
  while (head_ != nullptr) {
    const std::size_t here = head_->end - head_->begin;
    if (n < here) {
      head_->begin += static_cast<std::uint32_t>(n);
      break;
    }
    n -= here;
    Chunk* done = head_;
    head_ = done->next;
    if (head_ == nullptr) tail_ = nullptr;
    if (done->capacity == kChunkBytes && spares.count < kSpareChunks) {
      spares.list[spares.count++] = done;
    } else {
      std::free(done);
    }
  }
}

void WriteBuffer::clear() noexcept { consume(size_); }

}  // namespace torsion::detail
