#include "reference/hf_fixture.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/test_data.h"
#include "convert/safetensors_writer.h"

namespace quarrel::test {
namespace fs = std::filesystem;
using json = nlohmann::json;

ReferenceFixture ReferenceFixture::load(const fs::path& path) {
  const json j = json::parse(read_file(path));
  ReferenceFixture f;
  try {
    f.arch = j.at("arch").get<std::string>();
    f.hf_architecture = j.at("hf_architecture").get<std::string>();
    f.config = j.at("config");
    f.tokenizer_package = j.at("tokenizer_package").get<std::string>();
    f.salt = j.at("generator").value("salt", uint64_t{0});
    for (const json& t : j.at("tensors"))
      f.tensors.push_back({t.at("name").get<std::string>(), t.at("shape").get<std::vector<int64_t>>(),
                           t.at("scale").get<double>(), t.at("offset").get<double>()});
    f.prompt = j.at("prompt_ids").get<std::vector<int32_t>>();
    f.top_ids = j.at("top_ids").get<std::vector<std::vector<int32_t>>>();
    f.top_logits = j.at("top_logits").get<std::vector<std::vector<double>>>();
    f.fixed_ids = j.at("fixed_ids").get<std::vector<int32_t>>();
    f.fixed_logits = j.at("fixed_logits").get<std::vector<std::vector<double>>>();
    f.greedy = j.at("greedy").get<std::vector<int32_t>>();
  } catch (const json::exception& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
  if (f.top_ids.size() != f.prompt.size() || f.fixed_logits.size() != f.prompt.size())
    throw std::runtime_error(path.string() + ": per-position arrays do not match the prompt length");
  return f;
}

fs::path npm_tokenizer_models(const std::string& package) {
  return source_dir() / "tests/js/node_modules" / package / "models";
}

void write_checkpoint(const ReferenceFixture& f, const fs::path& dir, const fs::path& tokenizer_models) {
  fs::create_directories(dir);
  {
    std::ofstream out(dir / "config.json");
    out << f.config.dump(2);
  }
  convert::SafetensorsWriter w;
  w.set_metadata("format", "pt");
  for (const auto& t : f.tensors) {
    const std::string name = t.name;
    const double scale = t.scale, offset = t.offset;
    const uint64_t salt = f.salt;
    w.add(t.name, convert::StDtype::kF32, t.shape, [name, scale, offset, salt](int64_t first, int64_t n, float* dst) {
      refweights::fill(name, scale, offset, salt, static_cast<uint64_t>(first), static_cast<uint64_t>(n), dst);
    });
  }
  w.write((dir / "model.safetensors").string());
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    const fs::path src = tokenizer_models / file;
    if (!fs::exists(src))
      throw std::runtime_error(src.string() + " is missing: run `npm ci` in tests/js (scripts/setup does)");
    fs::copy_file(src, dir / file, fs::copy_options::overwrite_existing);
  }
}

}  // namespace quarrel::test
