// Implementation of length_curriculum.h.
#include "data/length_curriculum.h"

#include "common/error.h"

namespace halo::data {

LengthCurriculum::LengthCurriculum(int64_t tokens_per_step, std::vector<CurriculumPoint> points,
                                   int world_size)
    : tokens_per_step_(tokens_per_step), points_(std::move(points)) {
  HALO_CHECK(tokens_per_step_ > 0, "length curriculum: tokens_per_step must be > 0, got ",
             tokens_per_step_);
  HALO_CHECK(world_size >= 1, "length curriculum: world_size must be >= 1, got ", world_size);
  HALO_CHECK(!points_.empty(), "length curriculum: needs at least one (from_step, seq_len) point");
  HALO_CHECK(points_.front().from_step == 0,
             "length curriculum: the first point must start at "
             "step 0, got from_step ",
             points_.front().from_step);
  for (size_t i = 0; i < points_.size(); ++i) {
    const auto& p = points_[i];
    HALO_CHECK(i == 0 || p.from_step > points_[i - 1].from_step, "length curriculum: point ", i,
               " (from_step ", p.from_step, ") must come after point ", i - 1, " (from_step ",
               points_[i - 1].from_step, "); list the points by increasing step");
    HALO_CHECK(p.seq_len > 0, "length curriculum: point ", i, ": seq_len must be > 0, got ",
               p.seq_len);
    HALO_CHECK(tokens_per_step_ % (world_size * p.seq_len) == 0, "length curriculum: point ", i,
               ": tokens_per_step ", tokens_per_step_, " is not divisible by world_size (",
               world_size, ") x seq_len (", p.seq_len,
               "). HINT: use a tokens_per_step that is a "
               "multiple of ",
               world_size * p.seq_len);
  }
}

LengthCurriculum LengthCurriculum::constant(int64_t seq_len, int64_t global_batch, int world_size) {
  return LengthCurriculum(seq_len * global_batch, {{0, seq_len}}, world_size);
}

BatchShape LengthCurriculum::shape_at(int64_t step) const {
  HALO_CHECK(step >= 0, "length curriculum: step must be >= 0, got ", step);
  const CurriculumPoint* current = &points_.front();
  for (const auto& p : points_) {
    if (p.from_step <= step) current = &p;
  }
  return {current->seq_len, tokens_per_step_ / current->seq_len};
}

std::string LengthCurriculum::to_string() const {
  std::string out;
  for (const auto& p : points_) {
    if (!out.empty()) out += ",";
    out += str_cat(p.from_step, ":", p.seq_len);
  }
  return str_cat(out, " (", tokens_per_step_, " tokens/step)");
}

}  // namespace halo::data
