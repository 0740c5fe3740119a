// Implementation of position_loss.h.
#include "halo/eval/position_loss.h"

#include "common/error.h"
#include "halo/eval/seeded_draw.h"

namespace halo::eval {

std::vector<int64_t> position_bucket_edges(int64_t length, int64_t num_buckets) {
  std::vector<int64_t> edges;
  for (int64_t i = 0; i <= num_buckets; ++i) edges.push_back(i * length / num_buckets);
  return edges;
}

void check_position_loss_options(const PositionLossOptions& o) {
  HALO_CHECK(o.length >= 2, "ppl-by-position: the length must be >= 2 tokens, got ", o.length);
  HALO_CHECK(o.sequences >= 1, "ppl-by-position: sequences must be >= 1, got ", o.sequences);
  HALO_CHECK(o.num_buckets >= 1 && o.num_buckets <= o.length - 1,
             "ppl-by-position: buckets must be in [1, length - 1 = ", o.length - 1, "], got ",
             o.num_buckets);
}

std::vector<std::vector<int64_t>> position_loss_windows(const std::vector<int64_t>& filler,
                                                        const PositionLossOptions& o) {
  HALO_CHECK(!filler.empty(), "ppl-by-position: the validation text has no tokens");
  std::vector<std::vector<int64_t>> out;
  for (int64_t k = 0; k < o.sequences; ++k) {
    SeededDraw draw(splitmix64(splitmix64(o.seed ^ 0x5050ull) ^ static_cast<uint64_t>(k)));
    uint64_t at = draw.below(filler.size());
    std::vector<int64_t> seq;
    seq.reserve(o.length);
    for (int64_t i = 0; i < o.length; ++i) {
      seq.push_back(filler[at]);
      at = (at + 1) % filler.size();
    }
    out.push_back(std::move(seq));
  }
  return out;
}

PositionLoss evaluate_position_loss(TaskModel& model, const std::vector<int64_t>& filler,
                                    const PositionLossOptions& o) {
  check_position_loss_options(o);
  PositionLoss r;
  r.bucket_edges = position_bucket_edges(o.length, o.num_buckets);
  std::vector<double> sum(o.num_buckets, 0.0);
  r.tokens.assign(o.num_buckets, 0.0);
  for (const auto& seq : position_loss_windows(filler, o)) {
    auto logp = model.next_token_log_probs(seq).contiguous();  // [length - 1] float64
    const double* p = logp.data_ptr<double>();
    int64_t bucket = 0;
    for (int64_t t = 0; t < logp.numel(); ++t) {
      while (t >= r.bucket_edges[bucket + 1]) ++bucket;
      sum[bucket] -= p[t];
      r.tokens[bucket] += 1.0;
    }
  }
  for (int64_t b = 0; b < o.num_buckets; ++b) {
    r.loss.push_back(r.tokens[b] > 0 ? sum[b] / r.tokens[b] : 0.0);
  }
  return r;
}

}  // namespace halo::eval
