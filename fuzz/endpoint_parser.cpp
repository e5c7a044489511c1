// Fuzzes the endpoint description grammar (torsion/net/endpoint_parser.hpp): any input either
// parses or throws EndpointStringError, never anything else; what parses survives quoting.
#include "torsion/net/endpoint_parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// Rebuilds a description from its parts with quoteStringArgument; it must read back the same.
void roundTrip(const torsion::EndpointDescription& d) {
  std::string again = torsion::quoteStringArgument(d.type);
  for (const auto& a : d.args) again += ":" + torsion::quoteStringArgument(a);
  for (const auto& [k, v] : d.kwargs) {
    again += ":" + torsion::quoteStringArgument(k) + "=" + torsion::quoteStringArgument(v);
  }
  check(torsion::parseEndpointDescription(again) == d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    roundTrip(torsion::parseEndpointDescription(input));
  } catch (const torsion::EndpointStringError& e) {
    check(e.what()[0] != '\0');
  }
  try {
    (void)torsion::parseServerDescription(input);
  } catch (const torsion::EndpointStringError&) {
  }
  try {
    (void)torsion::parseClientDescription(input);
  } catch (const torsion::EndpointStringError&) {
  }
  return 0;
}
