#pragma once
// The bundled demo model (models/quarrel-demo-kjv-q8_0.gguf, see models/MODEL_CARD.md): the
// model `quarrel run` and `quarrel serve` use when none is given.
#include <string>

namespace quarrel::cli {

inline constexpr const char* kDemoModel = "models/quarrel-demo-kjv-q8_0.gguf";

// QUARREL_MODEL when set; else the demo model looked up in the current directory first, then
// in each directory above the quarrel binary (so build/release/apps/quarrel/quarrel finds the
// source tree's models/ folder wherever it is started from). Error(kNotFound) naming the places
// searched when it is nowhere.
std::string default_model();

// True when a positional argument names a model file rather than a prompt: it ends in .gguf
// or is an existing regular file.
bool looks_like_model_path(const std::string& arg);

}  // namespace quarrel::cli
