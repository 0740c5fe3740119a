// The report's evaluation section from RUN/eval/results.json (`halo-distill eval`, format
// "halo-eval/1", docs/eval.md): a NIAH heatmap (depth x length) per task and model, retrieval
// accuracy against length (passkey, kv) and loss by position (ppl-by-position, the training
// length marked) with every model on one chart, multiple-choice accuracy as a table. A task it
// does not know, or a known task of an unexpected shape, is shown as a generic table with a note,
// never an error: the file comes from another command and may be newer than this reader.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace halo::report {

// The section's HTML (headings h3 and below; the caller writes the h2).
std::string eval_section_html(const nlohmann::json& results);

}  // namespace halo::report
