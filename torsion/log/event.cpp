#include "torsion/log/event.hpp"

#include <fmt/args.h>
#include <fmt/format.h>

#include <exception>
#include <iterator>
#include <new>
#include <type_traits>

namespace torsion {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

void appendQuoted(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Twisted's formatUnformattableEvent: everything we know, so that nothing is lost.
std::string unformattable(const LogEvent& event, std::string_view reason) {
  std::string out = "Unable to format event {\"log_format\": ";
  appendQuoted(out, event.format);
  for (const LogField& field : event.fields) {
    out += ", ";
    appendQuoted(out, field.name);
    out += ": ";
    out += field.value.repr();
  }
  out += "}: ";
  out += reason;
  return out;
}

}  // namespace

FieldValue::FieldValue(const char* value) {
  if (value != nullptr) value_ = std::string(value);
}

FieldValue::FieldValue(const FieldRef& value) {
  std::visit(Overloaded{[this](std::string_view text) { value_ = std::string(text); },
                        [this](auto other) { value_ = other; }},
             value.variant());
}

std::string FieldValue::repr() const {
  return std::visit(Overloaded{[](std::monostate) { return std::string("null"); },
                               [](bool flag) { return std::string(flag ? "true" : "false"); },
                               [](const std::string& text) {
                                 std::string out;
                                 appendQuoted(out, text);
                                 return out;
                               },
                               [](auto number) { return fmt::format("{}", number); }},
                    value_);
}

FieldRef::FieldRef(const char* value) noexcept {
  if (value != nullptr) value_ = std::string_view(value);
}

FieldRef::FieldRef(const FieldValue& value) noexcept {
  std::visit(Overloaded{[this](const std::string& text) { value_ = std::string_view(text); },
                        [this](auto other) { value_ = other; }},
             value.variant());
}

const FieldValue* LogEvent::field(std::string_view name) const noexcept {
  for (const LogField& f : fields) {
    if (f.name == name) return &f.value;
  }
  return nullptr;
}

std::string formatEvent(const LogEvent& event) {
  if (event.format.find_first_of("{}") == std::string::npos) return event.format;

  fmt::dynamic_format_arg_store<fmt::format_context> args;
  args.reserve(event.fields.size(), event.fields.size());
  for (const LogField& field : event.fields) {
    const char* name = field.name.c_str();
    // Strings are passed as views (fmt copies only the name), numbers by value.
    std::visit(Overloaded{[&](std::monostate) {
                            args.push_back(fmt::arg(name, std::string_view("null")));
                          },
                          [&](const std::string& text) {
                            args.push_back(fmt::arg(name, std::string_view(text)));
                          },
                          [&](auto value) { args.push_back(fmt::arg(name, value)); }},
               field.value.variant());
  }
  try {
    return fmt::vformat(event.format, args);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& error) {
    return unformattable(event, error.what());
  } catch (...) {
    return unformattable(event, "unknown error");
  }
}

}  // namespace torsion
