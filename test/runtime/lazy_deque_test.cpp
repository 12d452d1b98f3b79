#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "runtime/lazy_deque.hpp"

using namespace keel;

TEST_CASE("lazy_deque: an unallocated deque is an empty range") {
  lazy_deque<std::string> d;
  CHECK(d.empty());
  CHECK(d.size() == 0);
  CHECK(d.begin() == d.end());
  const auto& cd = d;
  CHECK(cd.begin() == cd.end());
  size_t seen = 0;
  for (auto& x : d) {
    (void) x;
    ++seen;
  }
  CHECK(seen == 0);
  d.clear();  // no storage to clear
  CHECK(d.empty());
}

TEST_CASE("lazy_deque: first in, first out, indexed from the front") {
  lazy_deque<int> d;
  for (int i = 1; i <= 1000; ++i)
    d.push_back(i);
  d.emplace_back(1001);
  CHECK(d.size() == 1001);
  CHECK(d.front() == 1);
  CHECK(d.back() == 1001);
  CHECK(d[500] == 501);
  d.pop_front();
  CHECK(d.front() == 2);
  CHECK(d[0] == 2);
  std::vector<int> rest(d.begin(), d.end());
  CHECK(rest.size() == 1000);
  CHECK(rest.back() == 1001);
  d.clear();
  CHECK(d.empty());
  CHECK(d.begin() == d.end());
  d.push_back(7);  // reuses the kept storage
  CHECK(d.front() == 7);
}

TEST_CASE("lazy_deque: copies are deep, moves leave the source empty") {
  lazy_deque<std::string> a;
  a.push_back("x");
  auto b = a;
  b.push_back("y");
  CHECK(a.size() == 1);
  CHECK(b.size() == 2);
  lazy_deque<std::string> empty;
  b = empty;
  CHECK(b.empty());
  auto c = std::move(a);
  CHECK(c.size() == 1);
  CHECK(c.front() == "x");
  CHECK(a.empty());  // NOLINT: a moved-from lazy_deque is empty
}
