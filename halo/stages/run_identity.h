// What ties a run folder to the configuration that resumes it. The stage hashes cover what the
// inputs are, not where they are: the runner sets data.dataset_id from the manifest, so a run
// folder copied elsewhere with its data resumes there. Every record of a stage in the run
// folder (done.json, a checkpoint's meta.json) keeps the resolved config beside its hash; a
// run whose config hashes otherwise is refused before it writes anything (RUN/pipeline.json
// included), and the refusal names the keys that changed.
#pragma once

#include "halo/config/pipeline_config.h"

#include <cstddef>

namespace halo::stages {

// `p` with data.dataset_id read from its manifest (an error names the manifest when it is
// missing or invalid).
config::PipelineConfig with_data_identity(const config::PipelineConfig& p);

// Before a run writes anything: every stage in [first, last) whose done.json or newest complete
// checkpoint is in the run folder was written by this configuration (stage_hash_matches), else
// the same refusal the stage would give when it reached it (read_done, the trainer's resume),
// now, with the changed keys.
void check_run_folder(const config::PipelineConfig& p, size_t first, size_t last);

}  // namespace halo::stages
