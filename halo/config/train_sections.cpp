// Parsing and validation of the optimizer, schedule, checkpoint and eval sections.
#include "halo/config/train_sections.h"

#include "common/error.h"

namespace halo::config {

OptimizerConfig OptimizerConfig::from_yaml(MapReader r) {
  OptimizerConfig c;
  c.lr = r.get_double("lr", c.lr);
  r.check(c.lr > 0, "lr", "must be > 0");
  auto betas = r.get_double_list("betas", {c.beta1, c.beta2});
  r.check(betas.size() == 2, "betas", "expected two numbers [beta1, beta2]");
  c.beta1 = betas[0], c.beta2 = betas[1];
  r.check(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, "betas",
          "each beta must be in [0, 1)");
  c.eps = r.get_double("eps", c.eps);
  r.check(c.eps > 0, "eps", "must be > 0");
  c.weight_decay = r.get_double("weight_decay", c.weight_decay);
  r.check(c.weight_decay >= 0, "weight_decay", "must be >= 0");
  r.finish();
  return c;
}

nlohmann::json OptimizerConfig::to_json() const {
  return {{"lr", lr}, {"betas", {beta1, beta2}}, {"eps", eps}, {"weight_decay", weight_decay}};
}

ScheduleConfig ScheduleConfig::from_yaml(MapReader r) {
  ScheduleConfig c;
  c.kind = r.get_choice("kind", c.kind, {"cosine", "wsd", "constant"});
  c.warmup_steps = r.get_int("warmup_steps", c.warmup_steps);
  r.check(c.warmup_steps >= 0, "warmup_steps", "must be >= 0");
  c.min_lr = r.get_double("min_lr", c.min_lr);
  r.check(c.min_lr >= 0, "min_lr", "must be >= 0");
  c.decay_fraction = r.get_double("decay_fraction", c.decay_fraction);
  r.check(c.decay_fraction > 0 && c.decay_fraction <= 1, "decay_fraction", "must be in (0, 1]");
  r.finish();
  return c;
}

nlohmann::json ScheduleConfig::to_json() const {
  return {{"kind", kind},
          {"warmup_steps", warmup_steps},
          {"min_lr", min_lr},
          {"decay_fraction", decay_fraction}};
}

CheckpointConfig CheckpointConfig::from_yaml(MapReader r) {
  CheckpointConfig c;
  c.every = r.get_int("every", c.every);
  r.check(c.every >= 1, "every", "must be >= 1 (steps between checkpoints)");
  c.keep_last = r.get_int("keep_last", c.keep_last);
  r.check(c.keep_last >= 1, "keep_last", "must be >= 1");
  r.finish();
  return c;
}

nlohmann::json CheckpointConfig::to_json() const {
  return {{"every", every}, {"keep_last", keep_last}};
}

EvalConfig EvalConfig::from_yaml(MapReader r) {
  EvalConfig c;
  c.every = r.get_int("every", c.every);
  r.check(c.every >= 0, "every", "must be >= 0 (0: only at the end of the stage)");
  c.batches = r.get_int("batches", c.batches);
  r.check(c.batches >= 1, "batches", "must be >= 1");
  r.finish();
  return c;
}

nlohmann::json EvalConfig::to_json() const {
  return {{"every", every}, {"batches", batches}};
}

}  // namespace halo::config
