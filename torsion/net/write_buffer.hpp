// WriteBuffer: the bytes a stream transport could not send at once, as a chain of chunks
// flushed with writev. Internal to torsion/net.
//
// An empty buffer is three words and owns no memory, so an idle connection costs nothing
// here. Chunks are 16 KiB (or one bigger chunk for a bigger write); spare default-size chunks
// are kept on a per-thread list for the next burst, up to 1 MiB.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace torsion::detail {

class WriteBuffer {
 public:
  WriteBuffer() = default;
  ~WriteBuffer() { clear(); }
  WriteBuffer(const WriteBuffer&) = delete;
  WriteBuffer& operator=(const WriteBuffer&) = delete;

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  // Copies data to the end.
  void append(std::string_view data);
  // Fills up to `max` iovecs with the queued bytes, in order; returns how many.
  int fill(iovec* iov, int max) const noexcept;
  // Drops the first n bytes (n <= size()).
  void consume(std::size_t n) noexcept;
  // Drops everything.
  void clear() noexcept;

 private:
  struct Chunk;
  Chunk* head_ = nullptr;
  Chunk* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace torsion::detail
