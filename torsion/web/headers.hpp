// Headers: the fields of a request or response, as Twisted's twisted.web.http_headers.Headers:
// an ordered multi-map with case-insensitive names. Used by the server's Request (request and
// response headers) and by the client's Agent.
//
// Names keep the case they were given (and are sent that way); lookups ignore case. Values
// are kept as given. All fields live in one buffer that keeps its capacity across clear(), so
// a connection that reuses its Headers allocates nothing per request. Setting a name that is not a
// token or a value holding CR, LF, NUL or another control character throws std::invalid_argument: a
// caller's string can never split a header and smuggle a second one into a message (Twisted's
// CVE-2019-12387 class of bugs).
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torsion::web {

class Headers {
 public:
  struct Field {
    std::string_view name;
    std::string_view value;
  };

  Headers() = default;
  // Headers{{"Content-Type", "text/plain"}, {"X-A", "1"}}: added in order.
  Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);
  Headers(const Headers& other) = default;
  Headers(Headers&& other) noexcept = default;
  Headers& operator=(const Headers& other) = default;
  Headers& operator=(Headers&& other) noexcept = default;

  // Appends a field (a repeated name keeps every value, in order).
  void addRawHeader(std::string_view name, std::string_view value);
  // addRawHeader without the checks, for a field the HTTP parser has already validated (a
  // token name, a valid field value): the server fills request headers this way.
  void addParsedHeader(std::string_view name, std::string_view value) {
    entries_.push_back(store(name, value));
  }
  // Replaces every field called `name` with these values (none: removes it). The first new
  // value takes the place of the first old one, so the order of other fields is kept.
  void setRawHeaders(std::string_view name, const std::vector<std::string_view>& values);
  // setRawHeaders(name, {value}).
  void setHeader(std::string_view name, std::string_view value);
  // Every value of `name`, in order (views into this object: valid until it changes).
  std::vector<std::string_view> getRawHeaders(std::string_view name) const;
  // The LAST value of `name` (Twisted's Request.getHeader), or nothing. A view, valid until
  // this object changes.
  std::optional<std::string_view> getHeader(std::string_view name) const;
  bool hasHeader(std::string_view name) const noexcept;
  // Removes every field called `name`; true if there was one.
  bool removeHeader(std::string_view name);
  // Forgets every field, keeping the buffers' capacity.
  void clear() noexcept;

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  // The i-th field (views, valid until this object changes).
  Field operator[](std::size_t i) const noexcept;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Field;
    const_iterator() = default;
    Field operator*() const noexcept { return (*headers_)[index_]; }
    const_iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      auto copy = *this;
      ++index_;
      return copy;
    }
    friend bool operator==(const const_iterator&, const const_iterator&) = default;

   private:
    friend class Headers;
    const_iterator(const Headers* h, std::size_t i) : headers_(h), index_(i) {}
    const Headers* headers_ = nullptr;
    std::size_t index_ = 0;
  };
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, entries_.size()}; }

  // Appends "Name: value\r\n" for every field to `out`.
  void serialize(std::string& out) const;

 private:
  struct Entry {
    std::uint32_t nameOffset, nameSize, valueOffset, valueSize;
  };
  Entry store(std::string_view name, std::string_view value);

  std::string data_;
  std::vector<Entry> entries_;
};

}  // namespace torsion::web
