// LogEvent: one structured log event (the event dict of twisted.logger), its field values, and
// formatEvent, which renders its message.
//
// An event keeps its format string and its fields apart, as Twisted's does: observers that
// write JSON keep the fields as data, observers that write text render the message with
// formatEvent. The format uses Twisted's placeholders, "{name}" for the field called name and
// "{{" / "}}" for literal braces, plus fmt's format specs ("{port:>5}", "{ratio:.2f}").
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "torsion/defer/failure.hpp"
#include "torsion/log/level.hpp"

namespace torsion {

// Which C++ types a field accepts. Every integer type converts (signed ones to int64,
// unsigned ones to uint64) without ambiguity; character types do not, because 'x' could mean
// a letter or a number: pass std::string(1, c) or int(c).
template <class T>
concept LogCharacter = std::same_as<T, char> || std::same_as<T, wchar_t> ||
    std::same_as<T, char8_t> || std::same_as<T, char16_t> || std::same_as<T, char32_t>;
template <class T>
concept LogSignedInteger = std::signed_integral<T> && !LogCharacter<T>;
template <class T>
concept LogUnsignedInteger =
    std::unsigned_integral<T> && !LogCharacter<T> && !std::same_as<T, bool>;

class FieldRef;

// The value of one field, owned by the event: null, bool, int64, uint64, double or string.
class FieldValue {
 public:
  using Variant =
      std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string>;

  FieldValue() noexcept = default;  // null
  FieldValue(std::nullptr_t) noexcept {}
  template <std::same_as<bool> T>  // a template, so that pointers do not decay to bool
  FieldValue(T value) noexcept : value_(value) {}
  template <LogSignedInteger T>
  FieldValue(T value) noexcept : value_(static_cast<std::int64_t>(value)) {}
  template <LogUnsignedInteger T>
  FieldValue(T value) noexcept : value_(static_cast<std::uint64_t>(value)) {}
  template <std::floating_point T>
  FieldValue(T value) noexcept : value_(static_cast<double>(value)) {}
  template <LogCharacter T>
  FieldValue(T) = delete;
  FieldValue(const char* value);  // a null pointer gives a null field
  FieldValue(std::string_view value) : value_(std::string(value)) {}
  FieldValue(std::string value) noexcept : value_(std::move(value)) {}
  explicit FieldValue(const FieldRef& value);

  const Variant& variant() const noexcept { return value_; }
  bool isNull() const noexcept { return std::holds_alternative<std::monostate>(value_); }
  // The value as T (one of Variant's types), or nullptr if it holds another type.
  template <class T>
  const T* getIf() const noexcept {
    return std::get_if<T>(&value_);
  }

  // The value as source text: strings quoted and escaped, null as "null".
  std::string repr() const;

  friend bool operator==(const FieldValue&, const FieldValue&) = default;

 private:
  Variant value_;
};

// A field value as passed to a logging call: like FieldValue, but strings are viewed, not
// copied, so that a call whose event nobody wants costs no allocation. A FieldRef is only
// valid until the end of the full expression that made it; use it through Fields only.
class FieldRef {
 public:
  using Variant =
      std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string_view>;

  FieldRef() noexcept = default;  // null
  FieldRef(std::nullptr_t) noexcept {}
  template <std::same_as<bool> T>
  FieldRef(T value) noexcept : value_(value) {}
  template <LogSignedInteger T>
  FieldRef(T value) noexcept : value_(static_cast<std::int64_t>(value)) {}
  template <LogUnsignedInteger T>
  FieldRef(T value) noexcept : value_(static_cast<std::uint64_t>(value)) {}
  template <std::floating_point T>
  FieldRef(T value) noexcept : value_(static_cast<double>(value)) {}
  template <LogCharacter T>
  FieldRef(T) = delete;
  FieldRef(const char* value) noexcept;  // a null pointer gives a null field
  FieldRef(std::string_view value) noexcept : value_(value) {}
  FieldRef(const std::string& value) noexcept : value_(std::string_view(value)) {}
  FieldRef(const FieldValue& value) noexcept;

  const Variant& variant() const noexcept { return value_; }

 private:
  Variant value_;
};

// One named argument of a logging call: {"peer", host}.
struct FieldArg {
  std::string_view name;
  FieldRef value;
};

// The fields of a logging call: log.info("Connection from {peer}", {{"peer", host}}).
using Fields = std::initializer_list<FieldArg>;

// One named field of an event.
struct LogField {
  std::string name;
  FieldValue value;

  friend bool operator==(const LogField&, const LogField&) = default;
};

// One log event. Twisted's reserved keys map to members: log_format -> format, log_level ->
// level, log_namespace -> logNamespace, log_time -> time, log_failure -> failure. Field names
// starting with "log_" are reserved for the same purpose; "log_system", when present as a
// string, replaces "namespace#level" in the text format, as in Twisted.
struct LogEvent {
  std::string format;
  std::vector<LogField> fields;
  LogLevel level = LogLevel::info;
  std::string logNamespace;
  // When the event happened; LogPublisher::publish stamps the current time on an event whose
  // time is still the epoch.
  std::chrono::system_clock::time_point time{};
  std::optional<Failure> failure;

  // The value of the first field with that name, or nullptr.
  const FieldValue* field(std::string_view name) const noexcept;
};

// The event's message: its format with every "{name}" replaced by the field's value. Never
// throws for a bad event: a malformed format, or one that names a missing field or applies a
// spec the value does not support, renders as Twisted's
//   Unable to format event {"log_format": "...", "name": value, ...}: <reason>
// (only std::bad_alloc escapes). A format without braces is returned as it is. A bare "{}"
// takes the fields in order, as fmt does. Null renders as "null", bools as "true"/"false".
std::string formatEvent(const LogEvent& event);

}  // namespace torsion
