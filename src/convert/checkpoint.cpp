#include "convert/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"

namespace quarrel::convert {
namespace fs = std::filesystem;
using json = nlohmann::json;

json HfCheckpoint::read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::kNotFound, "{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) fail(ErrorCode::kInvalidFile, "{}: not valid JSON", path);
  return j;
}

std::string HfCheckpoint::optional_file(const char* name) const {
  const fs::path p = fs::path(dir_) / name;
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : std::string();
}

HfCheckpoint HfCheckpoint::open(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(ErrorCode::kNotFound, "{}: no such directory", dir);
  if (!fs::is_directory(dir, ec))
    fail(ErrorCode::kInvalidArgument, "{}: not a directory (convert takes a Hugging Face checkpoint directory)", dir);
  HfCheckpoint c;
  c.dir_ = dir;
  const fs::path root(dir);
  const fs::path config = root / "config.json";
  if (!fs::is_regular_file(config, ec)) fail(ErrorCode::kNotFound, "{}: missing config.json", dir);
  c.config_ = std::make_unique<HfConfig>(read_json(config.string()), config.string());

  // Which files hold the weights.
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;  // tensor -> shard (from the index)
  const fs::path index = root / "model.safetensors.index.json";
  if (fs::is_regular_file(index, ec)) {
    const json j = read_json(index.string());
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      fail(ErrorCode::kInvalidFile, "{}: no 'weight_map' object", index.string());
    std::set<std::string> seen;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail(ErrorCode::kInvalidFile, "{}: weight_map['{}'] is not a file name", index.string(), it.key());
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard == "..")
        fail(ErrorCode::kInvalidFile, "{}: shard name '{}' is not a plain file name", index.string(), shard);
      weight_map[it.key()] = shard;
      if (seen.insert(shard).second) shard_names.push_back(shard);
    }
    std::sort(shard_names.begin(), shard_names.end());
  } else if (fs::is_regular_file(root / "model.safetensors", ec)) {
    shard_names.push_back("model.safetensors");
  } else if (fs::is_regular_file(root / "pytorch_model.bin", ec) ||
             fs::is_regular_file(root / "pytorch_model.bin.index.json", ec)) {
    fail(ErrorCode::kUnsupported, "{}: only PyTorch pickle weights (pytorch_model.bin); convert reads safetensors", dir);
  } else {
    fail(ErrorCode::kNotFound, "{}: missing model.safetensors (or model.safetensors.index.json for a sharded model)", dir);
  }

  for (const auto& name : shard_names) {
    const fs::path p = root / name;
    if (!fs::is_regular_file(p, ec)) fail(ErrorCode::kNotFound, "{}: missing weight shard {} (listed in the index)", dir, name);
    c.shards_.push_back(SafetensorsFile::open(p.string()));
  }
  for (const auto& shard : c.shards_) {
    for (const auto& t : shard.tensors()) {
      if (!c.by_name_.emplace(t.name, &t).second)
        fail(ErrorCode::kInvalidFile, "{}: tensor '{}' appears in more than one shard", dir, t.name);
      c.order_.push_back(&t);
    }
  }
  for (const auto& [name, shard] : weight_map) {
    const auto* t = c.find(name);
    if (!t) fail(ErrorCode::kInvalidFile, "{}: the index lists tensor '{}' in {}, which does not hold it", dir, name, shard);
    if (fs::path(*t->file).filename() != shard)
      fail(ErrorCode::kInvalidFile, "{}: the index lists tensor '{}' in {}, but it is in {}", dir, name, shard,
           fs::path(*t->file).filename().string());
  }
  if (!weight_map.empty() && weight_map.size() != c.order_.size())
    fail(ErrorCode::kInvalidFile, "{}: the shards hold {} tensors but the index lists {}", dir, c.order_.size(),
         weight_map.size());
  return c;
}

const SafetensorsTensor* HfCheckpoint::find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

const SafetensorsTensor& HfCheckpoint::get(std::string_view name) const {
  const auto* t = find(name);
  if (!t) fail(ErrorCode::kNotFound, "{}: no tensor '{}' in the checkpoint", dir_, name);
  return *t;
}

}  // namespace quarrel::convert
