// MetricsLog: JSON lines, truncated to the resumed step.
#include "halo/train/metrics_log.h"

#include "common/error.h"

#include <sstream>
#include <string>

namespace halo::train {

MetricsLog::MetricsLog(std::filesystem::path path, int64_t keep_up_to_step)
    : path_(std::move(path)) {
  std::string kept;
  if (std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) break;  // a line cut short by a kill: everything after it is stale
      if (j.value("step", int64_t{0}) <= keep_up_to_step) kept += line + "\n";
    }
  }
  {
    std::ofstream rewrite(path_, std::ios::trunc);
    HALO_CHECK(rewrite.good(), path_.string(), ": cannot write the metrics log");
    rewrite << kept;
  }
  out_.open(path_, std::ios::app);
  HALO_CHECK(out_.good(), path_.string(), ": cannot append to the metrics log");
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
}

}  // namespace halo::train
