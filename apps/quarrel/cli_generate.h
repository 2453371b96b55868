#pragma once
// What `quarrel run` is made of: its options, loading the engine, streaming one answer to
// stdout with Ctrl-C cancelling it, the chat prompt (template + tokenizer) and the chat loop.
#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "runtime/engine.h"
#include "sampling/sampling_params.h"

namespace quarrel::cli {

struct RunArgs {
  std::string model, prompt, file, system, chat_template;
  bool chat = false, echo = false, ignore_eos = false;
  int32_t n_predict = -1;
  std::vector<std::string> stop;
  // sampling (llama.cpp's defaults)
  float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, typical_p = 1.0f;
  int32_t top_k = 40;
  float repeat_penalty = 1.0f, presence_penalty = 0.0f, frequency_penalty = 0.0f;
  int32_t repeat_last_n = 64;
  int64_t seed = -1;
  // engine
  int64_t ctx = 4096;
  int threads = 0;
  int32_t batch = 512;
  std::string kv_type = "f16";
  std::string backend = "cpu";  // cpu or cuda
};

void add_sampling_options(CLI::App& sub, RunArgs& a);
void add_engine_options(CLI::App& sub, RunArgs& a);
sampling::SamplingParams sampling_params(const RunArgs& a);
// One sequence at a time, no request timeout.
std::unique_ptr<runtime::Engine> load_engine(const RunArgs& a);

struct Answer {
  std::string text;
  runtime::StopReason reason = runtime::StopReason::kNone;
  std::string error;
  runtime::Usage usage;
  runtime::Timings timings;
};

// Submits, prints the text to stdout as it comes and the timing line to stderr. SIGINT cancels
// the request (a second one ends the program unless keep_running_on_sigint).
Answer stream_answer(runtime::Engine& engine, runtime::Request request, bool keep_running_on_sigint = false);

// The model's chat template with its tokenizer: messages -> prompt token ids.
class ChatPrompt {
 public:
  // template_name: "" for the model's own (or the built-in format for its architecture).
  ChatPrompt(const runtime::Engine& engine, const std::string& template_name);
  // Renders with add_generation_prompt and tokenizes (special-token text becomes the token;
  // one BOS in front when the model wants it, even if the template already wrote one).
  std::vector<int32_t> tokens(const nlohmann::ordered_json& messages) const;
  const std::string& origin() const { return origin_; }

 private:
  const tokenizer::Tokenizer& tok_;
  std::string origin_;
  chat::ChatTemplate tmpl_;
  chat::ChatOptions opts_;
};

int run_chat(runtime::Engine& engine, const RunArgs& a, const sampling::SamplingParams& sp);

}  // namespace quarrel::cli
