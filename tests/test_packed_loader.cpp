// PackedLoader, TokenStream and LengthCurriculum on synthetic shard sets written in the test
// (document d holds ids 1000*d + 1, 1000*d + 2, ...; the separator is 7, never a document id):
// the stream holds every document once per epoch, resume after k batches equals an
// uninterrupted run for 1, 2 and 3 ranks and across 2 -> 3 ranks, the union over ranks is the
// 1-rank batch, curriculum shapes continue the same stream, and a corrupt shard stops the open.
#include "common/error.h"
#include "data/length_curriculum.h"
#include "data/packed_loader.h"
#include "data/shard_manifest.h"
#include "data/token_shard_file.h"
#include "data/token_stream.h"
#include "tests/test_util.h"

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <numeric>
#include <set>

namespace halo::data {
namespace {

constexpr int64_t kSep = 7;

// Writes a shard set with the given document lengths (split over shards of `per_shard`
// documents) and returns the manifest path.
std::filesystem::path write_set(const std::filesystem::path& dir,
                                const std::vector<int64_t>& lengths, size_t per_shard = 5) {
  Manifest m;
  m.tokenizer_kind = "test";
  m.tokenizer_identity = "test:synthetic";
  m.vocab_size = 1000 * static_cast<int64_t>(lengths.size() + 1) + 1000;
  m.separator_id = kSep;
  m.separator_token = "<sep>";
  m.token_dtype = token_dtype_for_vocab(m.vocab_size);
  SplitInfo& s = m.splits["train"];
  m.splits["validation"] = SplitInfo();
  for (size_t first = 0; first < lengths.size(); first += per_shard) {
    std::vector<uint32_t> tokens;
    std::vector<int64_t> offsets{0};
    for (size_t d = first; d < std::min(lengths.size(), first + per_shard); ++d) {
      for (int64_t j = 0; j < lengths[d]; ++j) tokens.push_back(uint32_t(1000 * d + 1 + j));
      offsets.push_back(int64_t(tokens.size()));
    }
    ShardInfo sh;
    sh.file = "train-" + std::to_string(s.shards.size()) + ".h5";
    sh.documents = int64_t(offsets.size()) - 1;
    sh.tokens = int64_t(tokens.size());
    sh.sha256 = write_token_shard((dir / sh.file).string(), tokens, offsets, m.token_dtype);
    s.documents += sh.documents;
    s.tokens += sh.tokens;
    s.shards.push_back(sh);
  }
  m.write(dir / "manifest.json");
  return dir / "manifest.json";
}

// 23 documents of 1..40 tokens: about 480 stream tokens per epoch.
std::vector<int64_t> default_lengths() {
  std::vector<int64_t> out;
  for (int d = 0; d < 23; ++d) out.push_back(1 + (d * 17) % 40);
  return out;
}

LoaderOptions options(const std::filesystem::path& manifest, int64_t T, int64_t G, int rank = 0,
                      int world = 1, int prefetch = 2) {
  LoaderOptions o;
  o.manifest = manifest;
  o.seq_len = T;
  o.global_batch = G;
  o.rank = rank;
  o.world_size = world;
  o.seed = 1234;
  o.prefetch = prefetch;
  return o;
}

void require_same(const Batch& a, const Batch& b) {
  REQUIRE(a.step == b.step);
  REQUIRE(a.input_ids.equal(b.input_ids));
  REQUIRE(a.labels.equal(b.labels));
  REQUIRE(a.position_ids.equal(b.position_ids));
  REQUIRE(a.doc_starts.equal(b.doc_starts));
}

std::vector<Batch> take(PackedLoader& l, int n) {
  std::vector<Batch> out;
  for (int i = 0; i < n; ++i) out.push_back(l.next());
  return out;
}

// The rows of all ranks' batches stacked in rank order.
Batch stack(const std::vector<Batch>& parts) {
  std::vector<at::Tensor> ids, labels, pos, starts;
  for (const auto& p : parts) {
    ids.push_back(p.input_ids);
    labels.push_back(p.labels);
    pos.push_back(p.position_ids);
    starts.push_back(p.doc_starts);
  }
  Batch b;
  b.input_ids = at::cat(ids);
  b.labels = at::cat(labels);
  b.position_ids = at::cat(pos);
  b.doc_starts = at::cat(starts);
  b.step = parts.front().step;
  return b;
}

}  // namespace

TEST_CASE("loader stream: each epoch holds every document once, then the separator", "[loader]") {
  test::TempDir dir("halo-loader");
  const auto lengths = default_lengths();
  const auto manifest = write_set(dir.path(), lengths);
  const int64_t epoch_tokens = 23 + std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  PackedLoader loader(options(manifest, 13, 4));
  REQUIRE(loader.epoch_tokens() == epoch_tokens);
  REQUIRE(loader.num_documents() == 23);
  REQUIRE(loader.separator_id() == kSep);

  // Three epochs of stream, row after row.
  std::vector<int64_t> stream, labels;
  std::vector<bool> starts;
  std::vector<int64_t> positions;
  while (int64_t(stream.size()) < 3 * epoch_tokens + 1) {
    Batch b = loader.next();
    REQUIRE(b.input_ids.sizes() == at::IntArrayRef({4, 13}));
    REQUIRE(b.input_ids.scalar_type() == at::kLong);
    REQUIRE(b.doc_starts.scalar_type() == at::kBool);
    for (int64_t r = 0; r < 4; ++r) {
      for (int64_t t = 0; t < 13; ++t) {
        stream.push_back(b.input_ids[r][t].item<int64_t>());
        labels.push_back(b.labels[r][t].item<int64_t>());
        starts.push_back(b.doc_starts[r][t].item<bool>());
        REQUIRE(b.position_ids[r][t].item<int64_t>() == t);  // restart_positions off
      }
    }
  }
  // Labels are the next stream token, across row and batch boundaries.
  for (size_t i = 0; i + 1 < stream.size(); ++i) REQUIRE(labels[i] == stream[i + 1]);
  // Split the stream into documents at the separators; document starts flagged exactly.
  std::vector<std::vector<int64_t>> epochs_docs[3];
  int64_t pos = 0;
  for (int e = 0; e < 3; ++e) {
    std::vector<int64_t> order;
    for (int d = 0; d < 23; ++d) {
      REQUIRE(starts[pos]);
      const int64_t doc = (stream[pos] - 1) / 1000;
      REQUIRE(doc >= 0);
      REQUIRE(doc < 23);
      order.push_back(doc);
      for (int64_t j = 0; j < lengths[doc]; ++j, ++pos) {
        REQUIRE(stream[pos] == 1000 * doc + 1 + j);
        if (j > 0) REQUIRE_FALSE(starts[pos]);
      }
      REQUIRE(stream[pos] == kSep);
      REQUIRE_FALSE(starts[pos]);
      ++pos;
    }
    REQUIRE(std::set<int64_t>(order.begin(), order.end()).size() == 23);
    REQUIRE(order == document_order(23, 1234, e, true));
  }
  // The order is a shuffle that changes with the epoch and the seed.
  REQUIRE(document_order(23, 1234, 0, true) != document_order(23, 1234, 1, true));
  REQUIRE(document_order(23, 1234, 0, true) != document_order(23, 99, 0, true));
  REQUIRE(document_order(23, 1234, 0, false) == document_order(23, 5, 3, false));
  auto identity = document_order(23, 1234, 0, false);
  for (int64_t i = 0; i < 23; ++i) REQUIRE(identity[i] == i);
}

TEST_CASE("loader: a batch longer than several epochs, and an empty document", "[loader]") {
  test::TempDir dir("halo-loader");
  const std::vector<int64_t> lengths = {3, 0, 2};
  const auto manifest = write_set(dir.path(), lengths, 2);
  PackedLoader loader(options(manifest, 7, 4, 0, 1, 0));
  REQUIRE(loader.epoch_tokens() == 8);
  // The reference stream, built from the documented definition.
  std::vector<int64_t> tokens;
  std::vector<bool> starts;
  for (int64_t e = 0; e < 12; ++e) {
    for (int64_t d : document_order(3, 1234, e, true)) {
      for (int64_t j = 0; j < lengths[d]; ++j) {
        tokens.push_back(1000 * d + 1 + j);
        starts.push_back(j == 0);
      }
      tokens.push_back(kSep);
      starts.push_back(lengths[d] == 0);
    }
  }
  for (int64_t step = 0; step < 3; ++step) {
    Batch b = loader.next();  // 28 tokens: three and a half epochs
    for (int64_t r = 0; r < 4; ++r) {
      for (int64_t t = 0; t < 7; ++t) {
        const size_t at = size_t(step * 28 + r * 7 + t);
        REQUIRE(b.input_ids[r][t].item<int64_t>() == tokens[at]);
        REQUIRE(b.labels[r][t].item<int64_t>() == tokens[at + 1]);
        REQUIRE(b.doc_starts[r][t].item<bool>() == starts[at]);
      }
    }
  }
  REQUIRE(loader.cursor().epoch == 84 / 8);
  REQUIRE(loader.cursor().token_offset == 84 % 8);
}

TEST_CASE("loader: restart_positions restarts position ids at document starts", "[loader]") {
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), default_lengths());
  auto o = options(manifest, 31, 2);
  o.restart_positions = true;
  PackedLoader loader(o);
  int restarts = 0;
  for (int i = 0; i < 10; ++i) {
    Batch b = loader.next();
    for (int64_t r = 0; r < 2; ++r) {
      int64_t expect = 0;
      for (int64_t t = 0; t < 31; ++t) {
        if (b.doc_starts[r][t].item<bool>() && t > 0) {
          expect = 0;
          ++restarts;
        }
        REQUIRE(b.position_ids[r][t].item<int64_t>() == expect);
        ++expect;
      }
    }
  }
  REQUIRE(restarts > 10);
}

TEST_CASE("loader resume after k batches equals an uninterrupted run (1, 2, 3 ranks)", "[loader]") {
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), default_lengths());
  const int64_t T = 11, G = 6;  // 66 tokens a batch: 14 batches cross two epochs
  const int n = 14;
  for (int world : {1, 2, 3}) {
    for (int k : {1, 5, 9}) {
      for (int rank = 0; rank < world; ++rank) {
        CAPTURE(world, k, rank);
        PackedLoader straight(options(manifest, T, G, rank, world));
        const auto expected = take(straight, n);

        nlohmann::json saved;
        std::vector<Batch> got;
        {
          PackedLoader first(options(manifest, T, G, rank, world, /*prefetch=*/3));
          got = take(first, k);
          saved = nlohmann::json::parse(first.cursor().to_json().dump());
        }
        auto o = options(manifest, T, G, rank, world, /*prefetch=*/0);
        o.seed = 555;  // the cursor's seed wins
        PackedLoader resumed(o);
        resumed.restore(LoaderCursor::from_json(saved));
        for (auto& b : take(resumed, n - k)) got.push_back(std::move(b));
        REQUIRE(resumed.cursor() == straight.cursor());
        for (int i = 0; i < n; ++i) require_same(got[i], expected[i]);
      }
    }
  }
}

TEST_CASE("loader: the union over ranks of their rows is the 1-rank batch", "[loader]") {
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), default_lengths());
  PackedLoader one(options(manifest, 9, 6));
  const auto expected = take(one, 8);
  for (int world : {2, 3, 6}) {
    std::vector<std::unique_ptr<PackedLoader>> ranks;
    for (int r = 0; r < world; ++r) {
      ranks.push_back(std::make_unique<PackedLoader>(options(manifest, 9, 6, r, world)));
      REQUIRE(ranks.back()->local_batch() == 6 / world);
    }
    for (int i = 0; i < 8; ++i) {
      std::vector<Batch> parts;
      for (auto& l : ranks) parts.push_back(l->next());
      require_same(stack(parts), expected[i]);
    }
    for (auto& l : ranks) REQUIRE(l->cursor() == one.cursor());
  }
}

TEST_CASE("loader resume across a change from 2 ranks to 3", "[loader]") {
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), default_lengths());
  const int64_t T = 10, G = 6;
  PackedLoader one(options(manifest, T, G));
  const auto expected = take(one, 12);
  const int k = 7;
  LoaderCursor saved;
  {
    std::vector<std::unique_ptr<PackedLoader>> two;
    for (int r = 0; r < 2; ++r)
      two.push_back(std::make_unique<PackedLoader>(options(manifest, T, G, r, 2)));
    for (int i = 0; i < k; ++i) {
      std::vector<Batch> parts{two[0]->next(), two[1]->next()};
      require_same(stack(parts), expected[i]);
    }
    REQUIRE(two[0]->cursor() == two[1]->cursor());
    saved = two[0]->cursor();
  }
  std::vector<std::unique_ptr<PackedLoader>> three;
  for (int r = 0; r < 3; ++r) {
    three.push_back(std::make_unique<PackedLoader>(options(manifest, T, G, r, 3)));
    three.back()->restore(saved);
  }
  for (int i = k; i < 12; ++i) {
    std::vector<Batch> parts;
    for (auto& l : three) parts.push_back(l->next());
    require_same(stack(parts), expected[i]);
  }
}

TEST_CASE("length curriculum: shapes per step, validation, and the loader's stream continues",
          "[loader][curriculum]") {
  LengthCurriculum c(96, {{0, 8}, {3, 16}, {6, 32}}, /*world_size=*/3);
  REQUIRE(c.shape_at(0) == BatchShape{8, 12});
  REQUIRE(c.shape_at(2) == BatchShape{8, 12});
  REQUIRE(c.shape_at(3) == BatchShape{16, 6});
  REQUIRE(c.shape_at(100) == BatchShape{32, 3});
  REQUIRE(c.to_string() == "0:8,3:16,6:32 (96 tokens/step)");
  REQUIRE(LengthCurriculum::constant(64, 4).shape_at(9) == BatchShape{64, 4});
  REQUIRE_THROWS_WITH(LengthCurriculum(96, {{0, 8}, {3, 64}}, 1),
                      Catch::Contains("point 1") && Catch::Contains("not divisible"));
  REQUIRE_THROWS_WITH(LengthCurriculum(96, {{0, 8}, {3, 16}}, 4),
                      Catch::Contains("world_size (4) x seq_len (16)"));
  REQUIRE_THROWS_WITH(LengthCurriculum(96, {{1, 8}}), Catch::Contains("step 0"));
  REQUIRE_THROWS_WITH(LengthCurriculum(96, {{0, 8}, {0, 16}}), Catch::Contains("increasing"));
  REQUIRE_THROWS_WITH(LengthCurriculum(96, {}), Catch::Contains("at least one"));

  // A loader following the schedule consumes the same stream as a fixed-shape one.
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), default_lengths());
  PackedLoader fixed(options(manifest, 96, 1));
  std::vector<int64_t> reference;
  for (int i = 0; i < 10; ++i) {
    Batch b = fixed.next();
    auto flat = b.input_ids.reshape({-1});
    reference.insert(reference.end(), flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + 96);
  }
  LengthCurriculum one_rank(96, {{0, 8}, {3, 16}, {6, 32}});
  PackedLoader staged(options(manifest, 8, 12));
  std::vector<int64_t> got;
  LoaderCursor mid;
  for (int step = 0; step < 10; ++step) {
    const BatchShape s = one_rank.shape_at(step);
    staged.set_shape(s.seq_len, s.global_batch);
    Batch b = staged.next();
    REQUIRE(b.step == step);
    REQUIRE(b.input_ids.sizes() == at::IntArrayRef({s.global_batch, s.seq_len}));
    auto flat = b.input_ids.reshape({-1});
    got.insert(got.end(), flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + 96);
    if (step == 4) mid = staged.cursor();
  }
  REQUIRE(got == reference);
  // Resume in the middle of the schedule with another shape: still the same stream.
  PackedLoader resumed(options(manifest, 32, 3));
  resumed.restore(mid);
  Batch b = resumed.next();
  REQUIRE(b.step == 5);
  auto flat = b.input_ids.reshape({-1});
  REQUIRE(std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + 96) ==
          std::vector<int64_t>(reference.begin() + 5 * 96, reference.begin() + 6 * 96));
  REQUIRE_THROWS_WITH(staged.set_shape(7, 0), Catch::Contains("global_batch"));
  REQUIRE_THROWS_WITH(staged.set_shape(0, 4), Catch::Contains("seq_len"));
}

TEST_CASE("loader errors: corrupt shard, bad options, foreign cursor", "[loader]") {
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), default_lengths());
  REQUIRE_THROWS_WITH(PackedLoader(options(manifest, 8, 5, 0, 2)),
                      Catch::Contains("global_batch") && Catch::Contains("divisible"));
  REQUIRE_THROWS_WITH(PackedLoader(options(manifest, 8, 4, 2, 2)), Catch::Contains("rank"));
  auto bad_split = options(manifest, 8, 4);
  bad_split.split = "validation";
  REQUIRE_THROWS_WITH(PackedLoader(bad_split), Catch::Contains("no documents"));

  PackedLoader loader(options(manifest, 8, 4));
  loader.next();
  LoaderCursor c = loader.cursor();
  c.dataset_id = "0123456789abcdef";
  REQUIRE_THROWS_WITH(loader.restore(c), Catch::Contains("shard set"));
  c = loader.cursor();
  c.token_offset = loader.epoch_tokens();
  REQUIRE_THROWS_WITH(loader.restore(c), Catch::Contains("token_offset"));
  auto j = loader.cursor().to_json();
  j.erase("epoch");
  REQUIRE_THROWS_WITH(LoaderCursor::from_json(j), Catch::Contains("'epoch' is missing"));

  // Flip one byte of the second shard's token data: the open stops and names that shard.
  const auto shard = dir.path() / "train-1.h5";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(f.tellg());
    f.seekg(size - 9);
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5a);
    f.seekp(size - 9);
    f.write(&byte, 1);
  }
  REQUIRE_THROWS_WITH(PackedLoader(options(manifest, 8, 4)),
                      Catch::Contains("train-1.h5") && Catch::Contains("corrupt"));
  std::filesystem::remove(shard);
  REQUIRE_THROWS_WITH(PackedLoader(options(manifest, 8, 4)), Catch::Contains("train-1.h5"));
}

TEST_CASE("loader refuses a token id outside the manifest's vocabulary, naming it", "[loader]") {
  // The models do not range-check ids (no host read-back per forward): the loader is the
  // boundary. Documents 0 and 1 hold ids 1..3 and 1001..1004; a manifest that says vocab_size
  // 1000 makes 1001 the first id out of range, whether batches are built ahead or on demand.
  test::TempDir dir("halo-loader");
  const auto manifest = write_set(dir.path(), {3, 4});
  for (int prefetch : {0, 2}) {
    CAPTURE(prefetch);
    auto o = options(manifest, 4, 2, 0, 1, prefetch);
    o.shuffle = false;
    PackedLoader fits(o);  // vocab_size 4000: every id fits
    CHECK(fits.next().input_ids.max().item<int64_t>() == 1004);
  }
  auto m = Manifest::read(manifest);
  m.vocab_size = 1000;
  m.write(manifest);
  for (int prefetch : {0, 2}) {
    CAPTURE(prefetch);
    auto o = options(manifest, 4, 2, 0, 1, prefetch);
    o.shuffle = false;
    PackedLoader loader(o);
    REQUIRE_THROWS_WITH(loader.next(), Catch::Contains("token id 1001 at token 4 of epoch 0") &&
                                           Catch::Contains("vocabulary [0, 1000)") &&
                                           Catch::Contains(manifest.string()));
  }
}

}  // namespace halo::data
