// Implementation of loss_inputs.h.
#include "halo/losses/loss_inputs.h"

#include "common/error.h"

#include <ATen/autocast_mode.h>

#include <cmath>

namespace halo::losses {

at::ScalarType autocast_operand_dtype(const at::Tensor& t) {
  const auto device = t.device().type();
  if (t.scalar_type() != at::kFloat || !at::autocast::is_autocast_enabled(device)) {
    return t.scalar_type();
  }
  return at::autocast::get_autocast_dtype(device);
}

at::Tensor autocast_operand(const at::Tensor& t) {
  const auto dt = autocast_operand_dtype(t);
  return dt == t.scalar_type() ? t : t.to(dt);
}

at::ScalarType loss_compute_dtype(at::ScalarType input) {
  return input == at::kDouble ? at::kDouble : at::kFloat;
}

void check_hidden_and_head(const char* op, const char* what, const at::Tensor& hidden,
                           const at::Tensor& head) {
  HALO_CHECK(hidden.defined() && head.defined(), op, ": ", what, "hidden and ", what,
             "head are required");
  HALO_CHECK(hidden.dim() == 2, op, ": ", what, "hidden must be [N, D], got ", hidden.sizes(),
             ". HINT: flatten [B, T, D] with .reshape({-1, D})");
  HALO_CHECK(head.dim() == 2, op, ": ", what, "head must be [V, D], got ", head.sizes());
  HALO_CHECK(at::isFloatingType(hidden.scalar_type()), op, ": ", what,
             "hidden must be a floating dtype, got ", hidden.scalar_type());
  // Compared as the losses will see them: under autocast a float32 head meets a 16-bit hidden
  // state (a float32 model's final norm leaves autocast in its dtype) and both become 16-bit.
  HALO_CHECK(autocast_operand_dtype(head) == autocast_operand_dtype(hidden), op, ": ", what,
             "head must have ", what, "hidden's dtype ", hidden.scalar_type(), ", got ",
             head.scalar_type());
  HALO_CHECK(head.size(1) == hidden.size(1), op, ": ", what,
             "head [V, D] must have D = ", hidden.size(1), " like ", what, "hidden, got ",
             head.sizes());
  HALO_CHECK(head.size(0) >= 1, op, ": ", what, "head needs V >= 1, got ", head.sizes());
  HALO_CHECK(head.device() == hidden.device(), op, ": ", what, "head must be on ", what,
             "hidden's device ", hidden.device(), ", got ", head.device());
}

void check_mask_chunk_normalizer(const char* op, const at::Tensor& hidden, const at::Tensor& mask,
                                 int64_t chunk_tokens, double normalizer) {
  const int64_t N = hidden.size(0);
  HALO_CHECK(mask.defined() && mask.dim() == 1 && mask.size(0) == N, op, ": mask must be [N] = [",
             N, "] (true where the token counts), got ",
             mask.defined() ? mask.sizes() : at::IntArrayRef{});
  HALO_CHECK(mask.scalar_type() == at::kBool, op, ": mask must be bool, got ", mask.scalar_type());
  HALO_CHECK(mask.device() == hidden.device(), op, ": mask must be on ", hidden.device(), ", got ",
             mask.device());
  HALO_CHECK(chunk_tokens >= 1, op, ": chunk_tokens must be >= 1, got ", chunk_tokens);
  HALO_CHECK(std::isfinite(normalizer) && normalizer > 0, op,
             ": normalizer must be a finite number > 0 (the global count of counted tokens), got ",
             normalizer, ". HINT: with no counted token anywhere, skip the loss");
}

at::Tensor chunk_matmul_logits(const at::Tensor& hidden, const at::Tensor& head, int64_t begin,
                               int64_t len) {
  return at::mm(hidden.narrow(0, begin, len), head.t());  // [len, V]
}

at::Tensor chunk_logits(const at::Tensor& hidden, const at::Tensor& head, int64_t begin,
                        int64_t len, at::ScalarType dtype) {
  return chunk_matmul_logits(hidden, head, begin, len).to(dtype);  // [len, V]
}

}  // namespace halo::losses
