// Deterministic draws of the evaluation prompts: splitmix64 to derive independent seeds (one per
// length, depth and trial, so a prompt does not change when other grid cells are added) and a
// platform-independent draw of integers, fractions, digit strings and letter keys.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace halo::eval {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// std::mt19937_64's sequence is fixed by the standard; the distributions are not, so values are
// drawn with modulo and a 53-bit fraction (identical on every platform).
struct SeededDraw {
  std::mt19937_64 rng;
  explicit SeededDraw(uint64_t seed) : rng(seed) {}
  uint64_t below(uint64_t n) { return rng() % n; }
  double unit() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  // n digits, the first not 0.
  std::string digits(int n) {
    std::string s(1, static_cast<char>('1' + below(9)));
    while (static_cast<int>(s.size()) < n) s += static_cast<char>('0' + below(10));
    return s;
  }
  // n capital letters.
  std::string letters(int n) {
    std::string s;
    while (static_cast<int>(s.size()) < n) s += static_cast<char>('A' + below(26));
    return s;
  }
};

}  // namespace halo::eval
