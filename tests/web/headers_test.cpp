// Headers: case-insensitive lookups, order kept, injection refused, buffer reuse.
#include "torsion/web/headers.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace torsion::web {
namespace {

TEST(Headers, lookupsIgnoreCaseAndKeepTheCaseGiven) {
  Headers h{{"Content-Type", "text/plain"}, {"X-Thing", "1"}};
  EXPECT_TRUE(h.hasHeader("content-type"));
  EXPECT_EQ(h.getHeader("CONTENT-TYPE"), "text/plain");
  std::string out;
  h.serialize(out);
  EXPECT_EQ(out, "Content-Type: text/plain\r\nX-Thing: 1\r\n");
  EXPECT_FALSE(h.getHeader("Missing"));
}

TEST(Headers, repeatedNamesKeepEveryValueAndGetHeaderReturnsTheLast) {
  Headers h;
  h.addRawHeader("Set-Cookie", "a=1");
  h.addRawHeader("X", "y");
  h.addRawHeader("set-cookie", "b=2");
  EXPECT_EQ(h.getRawHeaders("Set-Cookie"), (std::vector<std::string_view>{"a=1", "b=2"}));
  EXPECT_EQ(h.getHeader("set-cookie"), "b=2");
  EXPECT_EQ(h.size(), 3u);
}

TEST(Headers, setReplacesEveryValueInThePlaceOfTheFirst) {
  Headers h{{"A", "1"}, {"B", "2"}, {"a", "3"}, {"C", "4"}};
  h.setHeader("A", "new");
  std::string out;
  h.serialize(out);
  EXPECT_EQ(out, "A: new\r\nB: 2\r\nC: 4\r\n");
  h.setRawHeaders("B", {});
  EXPECT_FALSE(h.hasHeader("B"));
  EXPECT_TRUE(h.removeHeader("c"));
  EXPECT_FALSE(h.removeHeader("c"));
  EXPECT_EQ(h.size(), 1u);
}

TEST(Headers, refusesValuesThatWouldSplitAHeader) {
  Headers h;
  EXPECT_THROW(h.setHeader("X", "a\r\nInjected: yes"), std::invalid_argument);
  EXPECT_THROW(h.addRawHeader("X", "a\nb"), std::invalid_argument);
  EXPECT_THROW(h.addRawHeader("X", std::string("a\0b", 3)), std::invalid_argument);
  EXPECT_THROW(h.addRawHeader("Bad Name", "v"), std::invalid_argument);
  EXPECT_THROW(h.addRawHeader("", "v"), std::invalid_argument);
  EXPECT_TRUE(h.empty());
  h.addRawHeader("Empty", "");
  EXPECT_EQ(h.getHeader("Empty"), "");
}

TEST(Headers, aValueCopiedFromItselfSurvivesGrowth) {
  Headers h;
  h.addRawHeader("A", std::string(100, 'x'));
  for (int i = 0; i < 50; ++i) {
    auto v = *h.getHeader("A");
    h.addRawHeader("B", v);  // views our own buffer, which may move
  }
  for (auto v : h.getRawHeaders("B")) {
    EXPECT_EQ(v, std::string(100, 'x'));
  }
}

TEST(Headers, iterationGivesNameValuePairsInOrder) {
  Headers h{{"A", "1"}, {"B", "2"}};
  std::string seen;
  for (auto [name, value] : h) {
    seen.append(name).append("=").append(value).append(";");
  }
  EXPECT_EQ(seen, "A=1;B=2;");
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.begin(), h.end());
}

}  // namespace
}  // namespace torsion::web
