// dist_options.h: validation of the distributed options.
#include "halo/config/dist_options.h"

#include "common/error.h"

namespace halo::config {

void DistOptions::validate() const {
  HALO_CHECK(backend == "auto" || backend == "gloo" || backend == "nccl", "dist.backend is \"",
             backend, "\"; expected auto, gloo or nccl");
  HALO_CHECK(timeout_s > 0, "dist.timeout_s is ", timeout_s, "; expected > 0 seconds");
  HALO_CHECK(init_timeout_s > 0, "dist.init_timeout_s is ", init_timeout_s,
             "; expected > 0 seconds");
  HALO_CHECK(heartbeat_s > 0 && heartbeat_s * 3 < timeout_s, "dist.heartbeat_s is ", heartbeat_s,
             "; expected > 0 and less than a third of dist.timeout_s=", timeout_s,
             " (a dead rank is recognised after 3 missed heartbeats)");
  HALO_CHECK(bucket_mb > 0, "dist.bucket_mb is ", bucket_mb, "; expected > 0 MiB");
  HALO_CHECK(first_bucket_mb > 0 && first_bucket_mb <= bucket_mb, "dist.first_bucket_mb is ",
             first_bucket_mb, "; expected > 0 and at most dist.bucket_mb=", bucket_mb);
}

}  // namespace halo::config
