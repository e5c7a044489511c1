// Helpers shared by the framing fuzz targets: an input read as a few settings followed by
// chunks whose sizes come from the input, and a check that aborts with a message.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace torsion::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

// Reads the fuzzer's input front to back.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // One settings byte (0 once the input is used up).
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  // The next chunk: a header byte (its low 6 bits + 1 are the size; its top bit is handed
  // back in `flag`), then that many bytes (fewer at the end). Empty once the input is used up.
  std::string_view chunk(bool& flag) {
    const std::uint8_t header = byte();
    flag = (header & 0x80U) != 0;
    const std::size_t size = std::min<std::size_t>((header & 0x3FU) + 1U, rest_.size());
    const std::string_view out = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return out;
  }

  bool empty() const noexcept { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace torsion::fuzz
