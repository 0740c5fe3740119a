// LengthCurriculum: a schedule of sequence lengths for one training stage (short to long) that
// keeps the tokens per optimizer step constant by changing the global batch size. The trainer
// asks shape_at(step) each step and passes a changed shape to PackedLoader::set_shape; the
// loader's cursor is a token offset, so the data stream continues unchanged across a change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace halo::data {

// From optimizer step `from_step` on (until the next point), sequences have `seq_len` tokens.
struct CurriculumPoint {
  int64_t from_step = 0;
  int64_t seq_len = 0;
};

struct BatchShape {
  int64_t seq_len = 0;       // T
  int64_t global_batch = 0;  // G = tokens_per_step / T, summed over ranks
  bool operator==(const BatchShape& o) const {
    return seq_len == o.seq_len && global_batch == o.global_batch;
  }
};

class LengthCurriculum {
 public:
  // Validates: at least one point, the first at step 0, from_step strictly increasing,
  // seq_len > 0, and tokens_per_step divisible by world_size * seq_len for every point (so
  // each rank gets a whole number of sequences). Errors name the point and the fix.
  LengthCurriculum(int64_t tokens_per_step, std::vector<CurriculumPoint> points,
                   int world_size = 1);
  // A one-point schedule: seq_len throughout, tokens_per_step = seq_len * global_batch.
  static LengthCurriculum constant(int64_t seq_len, int64_t global_batch, int world_size = 1);

  // The shape of step `step` (>= 0).
  BatchShape shape_at(int64_t step) const;
  int64_t tokens_per_step() const { return tokens_per_step_; }
  const std::vector<CurriculumPoint>& points() const { return points_; }
  // "0:512,1000:2048 (65536 tokens/step)" for logs.
  std::string to_string() const;

 private:
  int64_t tokens_per_step_;
  std::vector<CurriculumPoint> points_;
};

}  // namespace halo::data
