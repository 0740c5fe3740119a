// splitmix64: one step of Vigna's SplitMix64 mixer, a bijection on 64-bit values that spreads
// neighbouring inputs (seeds, indices) over the whole range. Used for fingerprints and for
// deriving per-sequence seeds.
#pragma once

#include <cstdint>

namespace halo {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace halo
