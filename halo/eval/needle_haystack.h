// The haystack prompt shared by every recall task (passkey, key-value, the NIAH variants):
// an instruction, validation-text filler taken cyclically from an offset with the needles
// inserted at their depths, and the question, exactly `context_length` token ids long.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace halo::eval {

// Instruction prepended to every recall prompt.
extern const char* const kRecallInstruction;

struct Needle {
  std::vector<int64_t> ids;  // the needle's tokens
  double depth = 0.0;        // relative position in the filler, 0 (start) .. 1 (end)
};

// Tokens besides the filler: instruction, needles and question.
int64_t haystack_overhead(const std::vector<int64_t>& intro, const std::vector<Needle>& needles,
                          const std::vector<int64_t>& question);

// intro, then context_length - overhead filler tokens (filler[offset], filler[offset + 1], ...,
// cyclically) with each needle inserted before filler token round(depth * filler tokens)
// (needles in depth order; equal depths keep their given order), then the question.
// `task` names the caller in errors; context_length must exceed the overhead (the message gives
// the overhead and a length that fits).
std::vector<int64_t> build_haystack_prompt(const std::string& task,
                                           const std::vector<int64_t>& intro,
                                           const std::vector<Needle>& needles,
                                           const std::vector<int64_t>& question,
                                           const std::vector<int64_t>& filler, uint64_t offset,
                                           int64_t context_length);

}  // namespace halo::eval
