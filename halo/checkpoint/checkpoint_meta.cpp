// Implementation of checkpoint_meta.h: every key read with its type checked, so a hostile
// meta.json gives a HaloError naming the file and key (nlohmann's value() would throw its own
// type_error on a key of the wrong type).
#include "halo/checkpoint/checkpoint_meta.h"

#include "common/error.h"
#include "common/json_limits.h"

#include <fstream>
#include <iterator>

namespace halo::checkpoint {

namespace {

using json = nlohmann::json;

// The value of `key` when present and not null, checked with `is_type`; nullptr when absent.
const json* typed(const json& j, const char* key, bool (json::*is_type)() const noexcept,
                  const char* type_name, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  HALO_CHECK(((*it).*is_type)(), path, ": \"", key, "\" must be ", type_name, ", found ",
             it->type_name());
  return &*it;
}

}  // namespace

CheckpointMeta parse_checkpoint_meta(const std::string& text, const std::string& path) {
  check_json_depth(text.data(), text.data() + text.size(), path);
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  HALO_CHECK(!j.is_discarded() && j.is_object(), path, ": not valid JSON");
  const json* magic = typed(j, "magic", &json::is_string, "a string", path);
  HALO_CHECK(magic != nullptr && magic->get<std::string>() == kCheckpointMagic, path,
             ": \"magic\" is not \"", kCheckpointMagic, "\"");
  const json* version = typed(j, "version", &json::is_number_integer, "an integer", path);
  const int64_t v = version ? version->get<int64_t>() : 0;
  HALO_CHECK(v == kCheckpointVersion, path, ": format version ", v, ", this build reads version ",
             kCheckpointVersion);

  CheckpointMeta m;
  if (const json* s = typed(j, "stage", &json::is_string, "a string", path)) {
    m.stage = s->get<std::string>();
  }
  const json* step = typed(j, "step", &json::is_number_integer, "an integer", path);
  m.step = step ? step->get<int64_t>() : -1;
  HALO_CHECK(m.step >= 0, path, ": \"step\" missing or negative");
  if (const json* w = typed(j, "world_size", &json::is_number_integer, "an integer", path)) {
    const int64_t ws = w->get<int64_t>();  // beyond int64 reads negative
    HALO_CHECK(ws >= 1 && ws <= kMaxCheckpointWorldSize, path, ": \"world_size\" ", ws,
               " is outside [1, ", kMaxCheckpointWorldSize, "]");
    m.world_size = static_cast<int>(ws);
  }
  if (const json* h = typed(j, "config_hash", &json::is_string, "a string", path)) {
    m.config_hash = h->get<std::string>();
  }
  m.loader_cursor = j.value("loader_cursor", json());
  m.config = j.value("config", json());
  const json* extra = typed(j, "extra", &json::is_object, "an object", path);
  m.extra = extra ? *extra : json::object();
  return m;
}

CheckpointMeta read_checkpoint_meta(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "meta.json";
  std::ifstream in(path, std::ios::binary);
  HALO_CHECK(in.good(), path.string(), ": missing (not a halo-distill checkpoint)");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_checkpoint_meta(text, path.string());
}

}  // namespace halo::checkpoint
