#include "torsion/defer/failure.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace torsion {

namespace {

std::string demangle(const char* mangled);

}  // namespace

std::string demangledName(const std::type_info& type) { return demangle(type.name()); }

namespace {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

}  // namespace

Failure Failure::current(SourceLocation where) { return Failure(std::current_exception(), where); }

Failure::Failure(std::exception_ptr error, SourceLocation where)
    : error_(error ? std::move(error) : std::make_exception_ptr(std::bad_exception())),
      where_(where) {}

void Failure::raiseException() const { std::rethrow_exception(error_); }

std::string Failure::getErrorMessage() const {
  try {
    std::rethrow_exception(error_);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception of type " + typeName();
  }
}

std::string Failure::typeName() const {
  try {
    std::rethrow_exception(error_);
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type != nullptr ? demangle(type->name()) : std::string("unknown");
  }
}

std::string Failure::describe() const {
  std::string out = typeName();
  out += ": ";
  out += getErrorMessage();
  if (where_.line() != 0) {
    out += " (at ";
    out += where_.file_name();
    out += ':';
    out += std::to_string(where_.line());
    if (where_.function_name()[0] != '\0') {
      out += " in ";
      out += where_.function_name();
    }
    out += ')';
  }
  return out;
}

}  // namespace torsion
