// A hand-made run folder for the report tests, in the layout `halo-distill run` writes
// (halo/report/run_folder.h): pipeline.json, two training stages with metrics.jsonl and
// done.json (the second with a sequence-length change), a selection stage whose importance
// scores all tie, report.json with a teacher and a student entry, and eval/results.json in the
// "halo-eval/1" contract with every task family plus a task the report does not know.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace halo::test {

// A fresh folder under the temp dir, removed at the end of the scope (files first, then folders:
// no std::filesystem::remove_all, see tests/scripts/check_no_remove_all.sh).
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag) {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("halo-report-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::vector<std::filesystem::path> all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
      all.push_back(e.path());
    }
    std::sort(all.rbegin(), all.rend());  // children before their folder
    for (const auto& p : all) std::filesystem::remove(p, ec);
    std::filesystem::remove(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

inline const char* sample_results_json() {
  return R"({"format": "halo-eval/1", "seed": 0, "created": "2026-12-07T05:00:00Z",
 "models": [{"name": "teacher", "path": "/abs/teacher"}, {"name": "student", "path": "/abs/s"}],
 "tasks": {
  "niah": {"lengths": [2048, 8192, 32768], "depths": [0.0, 0.5, 1.0], "trials": 4,
           "accuracy": {"teacher": [[1, 1, 1], [1, 0.75, 1], [0.25, 0, 0.5]],
                        "student": [[1, 1, 1], [1, 1, 1], [1, 0.75, null]]}},
  "niah-multikey": {"lengths": [2048], "depths": [0.0, 1.0], "trials": 2,
                    "accuracy": {"teacher": [[0.5, 1]], "student": [[1, 1]]}},
  "passkey": {"lengths": [2048, 8192, 32768], "trials": 8,
              "accuracy": {"teacher": [1, 0.875, 0.125], "student": [1, 1, 0.875]}},
  "kv": {"lengths": [2048], "trials": 8, "accuracy": {"teacher": [0.5], "student": [0.625]}},
  "ppl-by-position": {"bucket_edges": [0, 256, 512, 1024, 2048], "train_length": 512,
                      "loss": {"teacher": [3.1, 2.9, 4.5, 6.0], "student": [3.2, 3.0, 3.1, 3.3]},
                      "tokens": {"teacher": [256, 256, 512, 1024],
                                 "student": [256, 256, 512, 1024]}},
  "mc:tiny-arc": {"file": "/abs/tiny-arc.jsonl", "items": 20,
                  "acc": {"teacher": 0.3, "student": 0.25},
                  "acc_norm": {"teacher": 0.35, "student": 0.3}},
  "future-task <x>": {"score": {"teacher": 0.5}, "note": "made by a newer eval"},
  "niah-multivalue": {"lengths": "not a list"}
 }})";
}

// Writes the run folder at `dir` (which must not exist yet).
inline void write_sample_run(const std::filesystem::path& dir, bool with_eval = true) {
  write_file(dir / "pipeline.json", R"({
  "run": {"out_dir": "/somewhere/run", "seed": 0, "device": "cpu"},
  "quality_gate": {"enabled": true, "passkey_lengths": [128, 512],
                   "thresholds": {"max_loss_ratio": 1.5, "stage": "stage2"}},
  "stages": [
    {"name": "pretrain", "kind": "pretrain", "loss": "ce", "steps": 6,
     "optimizer": {"lr": 0.003, "betas": [0.9, 0.95]}},
    {"name": "select", "kind": "selection", "method": "halo"},
    {"name": "stage2", "kind": "stage2", "loss": "kl", "steps": 4}
  ]
})");
  std::string m;
  for (int s = 1; s <= 6; ++s) {
    m += "{\"step\":" + std::to_string(s) + ",\"loss\":" + std::to_string(8.0 - s * 0.5) +
         ",\"lr\":" + std::to_string(0.0005 * s) + ",\"grad_norm\":" + std::to_string(1.0 / s) +
         ",\"tokens\":2048,\"seq_len\":" + (s <= 3 ? "128" : "256") +
         ",\"tokens_per_s\":" + std::to_string(2000 + 10 * s) + "}\n";
    if (s % 3 == 0)
      m += "{\"step\":" + std::to_string(s) + ",\"val_loss\":" + std::to_string(7.9 - s * 0.5) +
           "}\n";
  }
  write_file(dir / "pretrain" / "metrics.jsonl", m);
  write_file(dir / "pretrain" / "done.json",
             R"({"kind": "pretrain", "steps": 6, "last_loss": 5.0, "val_loss": 4.9,
                 "tokens_per_s": 2035})");
  // Stage 2: a KL loss falling 100x (log scale), one line without grad_norm.
  write_file(dir / "stage2" / "metrics.jsonl",
             "{\"step\":1,\"loss\":0.1,\"lr\":0.001,\"grad_norm\":2.0,\"seq_len\":128,"
             "\"tokens_per_s\":1500}\n"
             "{\"step\":2,\"loss\":0.01,\"lr\":0.001,\"seq_len\":128,\"tokens_per_s\":1600}\n"
             "\n"
             "{\"step\":3,\"loss\":0.002,\"lr\":0.0005,\"grad_norm\":0.02,\"seq_len\":128,"
             "\"tokens_per_s\":1650}\n"
             "{\"step\":4,\"loss\":0.001,\"lr\":0.0001,\"grad_norm\":0.01,\"seq_len\":128,"
             "\"tokens_per_s\":1640}\n");
  write_file(dir / "select" / "selection_report.json", R"({
  "method": "halo", "num_layers": 4, "attention_layers": [2],
  "mixer_types": ["lightning-attn", "lightning-attn", "attn", "lightning-attn"],
  "layers": [
    {"layer": 0, "entropy": 4.0, "entropy_per_head": [4.1, 3.9], "importance": 0.0, "kl": 0.0007,
     "mixer": "lightning-attn"},
    {"layer": 1, "entropy": 3.6, "entropy_per_head": [4.0, 3.2], "importance": 0.0, "kl": 0.0006,
     "mixer": "lightning-attn"},
    {"layer": 2, "entropy": 4.4, "entropy_per_head": [4.3, 4.5], "importance": 0.0, "kl": 0.0009,
     "mixer": "attn"},
    {"layer": 3, "entropy": 4.3, "entropy_per_head": [4.2, 4.4], "importance": 0.0, "kl": null,
     "mixer": "lightning-attn"}
  ]})");
  write_file(dir / "select" / "done.json", R"({"kind": "selection"})");
  write_file(dir / "report.json", R"({"entries": [
  {"label": "pretrain", "validation": {"loss": 4.0, "perplexity": 54.6, "accuracy": 0.2},
   "passkey": [{"task": "passkey", "context_length": 128, "samples": 8, "correct": 6,
                "accuracy": 0.75}]},
  {"label": "stage2", "validation": {"loss": 4.4, "perplexity": 81.5, "accuracy": 0.18},
   "passkey": [{"task": "passkey", "context_length": 128, "samples": 8, "correct": 8,
                "accuracy": 1.0},
               {"task": "passkey", "context_length": 512, "samples": 8, "correct": 2,
                "accuracy": 0.25}]}
]})");
  if (with_eval) write_file(dir / "eval" / "results.json", sample_results_json());
}

}  // namespace halo::test
