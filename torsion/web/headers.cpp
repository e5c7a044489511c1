#include "torsion/web/headers.hpp"

#include <algorithm>
#include <stdexcept>

#include "torsion/web/http_syntax.hpp"

namespace torsion::web {
namespace {

void checkName(std::string_view name) {
  if (!isToken(name)) {
    throw std::invalid_argument("invalid header name '" + std::string(name) + "'");
  }
}

void checkValue(std::string_view name, std::string_view value) {
  // isFieldValue also refuses surrounding whitespace; an empty value is allowed.
  if (!value.empty() && !isFieldValue(value)) {
    throw std::invalid_argument("invalid value for header '" + std::string(name) +
                                "' (control characters, CR or LF, or surrounding whitespace)");
  }
}

}  // namespace

Headers::Headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [name, value] : fields) {
    addRawHeader(name, value);
  }
}

Headers::Entry Headers::store(std::string_view name, std::string_view value) {
  // A view into our own buffer would dangle once append() reallocates it.
  auto inside = [this](std::string_view v) {
    return !v.empty() && v.data() >= data_.data() && v.data() < data_.data() + data_.size();
  };
  if (inside(name) || inside(value)) {
    std::string n(name), v(value);
    return store(n, v);
  }
  Entry e;
  e.nameOffset = static_cast<std::uint32_t>(data_.size());
  e.nameSize = static_cast<std::uint32_t>(name.size());
  data_.append(name);
  e.valueOffset = static_cast<std::uint32_t>(data_.size());
  e.valueSize = static_cast<std::uint32_t>(value.size());
  data_.append(value);
  return e;
}

Headers::Field Headers::operator[](std::size_t i) const noexcept {
  const Entry& e = entries_[i];
  std::string_view d(data_);
  return {d.substr(e.nameOffset, e.nameSize), d.substr(e.valueOffset, e.valueSize)};
}

void Headers::addRawHeader(std::string_view name, std::string_view value) {
  checkName(name);
  checkValue(name, value);
  entries_.push_back(store(name, value));
}

void Headers::setRawHeaders(std::string_view name, const std::vector<std::string_view>& values) {
  checkName(name);
  for (auto v : values) {
    checkValue(name, v);
  }
  if (values.size() == 1 && !hasHeader(name)) {
    entries_.push_back(store(name, values[0]));  // the common case: a new name, one value
    return;
  }
  // `name` and `values` may view this object's own buffer: copy them before it grows.
  std::string nameCopy(name);
  std::vector<std::string> valueCopies(values.begin(), values.end());
  std::size_t at = entries_.size();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (equalsIgnoreCase((*this)[i].name, nameCopy)) {
      at = i;
      break;
    }
  }
  std::vector<Entry> kept;
  kept.reserve(entries_.size());
  std::size_t removedBefore = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (equalsIgnoreCase((*this)[i].name, nameCopy)) {
      if (i < at) {
        ++removedBefore;
      }
      continue;
    }
    kept.push_back(entries_[i]);
  }
  at -= removedBefore;
  std::vector<Entry> added;
  added.reserve(valueCopies.size());
  for (const auto& v : valueCopies) {
    added.push_back(store(nameCopy, v));
  }
  kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(std::min(at, kept.size())), added.begin(),
              added.end());
  entries_ = std::move(kept);
}

void Headers::setHeader(std::string_view name, std::string_view value) {
  setRawHeaders(name, {value});
}

std::vector<std::string_view> Headers::getRawHeaders(std::string_view name) const {
  std::vector<std::string_view> values;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto f = (*this)[i];
    if (equalsIgnoreCase(f.name, name)) {
      values.push_back(f.value);
    }
  }
  return values;
}

std::optional<std::string_view> Headers::getHeader(std::string_view name) const {
  for (std::size_t i = entries_.size(); i-- > 0;) {
    auto f = (*this)[i];
    if (equalsIgnoreCase(f.name, name)) {
      return f.value;
    }
  }
  return std::nullopt;
}

bool Headers::hasHeader(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (equalsIgnoreCase((*this)[i].name, name)) {
      return true;
    }
  }
  return false;
}

bool Headers::removeHeader(std::string_view name) {
  std::size_t before = entries_.size();
  std::erase_if(entries_, [&](const Entry& e) {
    return equalsIgnoreCase(std::string_view(data_).substr(e.nameOffset, e.nameSize), name);
  });
  return entries_.size() != before;
}

void Headers::clear() noexcept {
  data_.clear();
  entries_.clear();
}

void Headers::serialize(std::string& out) const {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    auto f = (*this)[i];
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
}

}  // namespace torsion::web
