// checkpointed(): a torch::autograd::Function that saves only the block input.
#include "halo/train/activation_checkpoint.h"

#include <ATen/core/ivalue.h>
#include <torch/autograd.h>

namespace halo::train {

namespace {

struct BlockHolder : torch::CustomClassHolder {
  explicit BlockHolder(BlockFn f) : fn(std::move(f)) {}
  BlockFn fn;
};

struct CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            c10::intrusive_ptr<BlockHolder> holder) {
    ctx->save_for_backward({x});
    at::Tensor y;
    {
      torch::NoGradGuard no_grad;
      y = holder->fn(x);
    }
    ctx->saved_data["block"] = c10::IValue::make_capsule(holder);
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto holder =
        c10::static_intrusive_pointer_cast<BlockHolder>(ctx->saved_data["block"].toCapsule());
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor y;
    {
      torch::AutoGradMode enable(true);
      y = holder->fn(x);
    }
    torch::autograd::backward({y}, {grad_out[0]});
    return {x.grad(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpointed(const BlockFn& fn, const at::Tensor& x) {
  if (!at::GradMode::is_enabled()) return fn(x);
  return CheckpointFunction::apply(x, c10::make_intrusive<BlockHolder>(fn));
}

}  // namespace halo::train
