// Fuzzes Int16StringReceiver (see int_string_receiver_fuzz.hpp for the invariants).
#include "int_string_receiver_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return torsion::fuzz::fuzzIntStrings<torsion::protocols::Int16StringReceiver>(data, size);
}
