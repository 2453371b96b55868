// quarrel run [MODEL] [PROMPT]: generate text from a prompt (streamed to stdout as it comes), or
// with --chat hold a conversation in the model's chat template. A timing line (prompt and
// generation tokens per second) goes to stderr. Without MODEL (a lone argument that is not a
// .gguf or an existing file is the prompt) it runs the bundled demo model (default_model.h).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "apps/quarrel/cli_generate.h"
#include "apps/quarrel/command.h"
#include "apps/quarrel/default_model.h"
#include "core/error.h"
#include "runtime/engine.h"

namespace quarrel::cli {
namespace {

int run(RunArgs& a) {
  if (!a.model.empty() && a.prompt.empty() && !looks_like_model_path(a.model)) {
    a.prompt = std::move(a.model);  // `quarrel run "PROMPT"`: the demo model
    a.model.clear();
  }
  if (a.model.empty()) a.model = default_model();
  if (!a.chat && a.prompt.empty() && a.file.empty()) {
    if (::isatty(STDIN_FILENO) == 1) fail(ErrorCode::kInvalidArgument, "give a PROMPT (or --file, or --chat)");
    a.prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (!a.file.empty()) {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) fail(ErrorCode::kNotFound, "cannot read the prompt file '{}'", a.file);
    a.prompt.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  sampling::SamplingParams sp = sampling_params(a);
  std::unique_ptr<runtime::Engine> engine = load_engine(a);
  engine->start();
  if (a.chat) return run_chat(*engine, a, sp);

  runtime::Request req;
  req.sampling = sp;
  req.max_tokens = a.n_predict;
  req.stop = a.stop;
  req.ignore_eos = a.ignore_eos;
  if (!a.system.empty() || !a.chat_template.empty()) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
    messages.push_back({{"role", "user"}, {"content", a.prompt}});
    const ChatPrompt chat(*engine, a.chat_template);
    req.prompt = chat.tokens(messages);
  } else {
    req.prompt_text = a.prompt;
  }
  if (a.echo) {
    std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
    std::fflush(stdout);
  }
  const Answer ans = stream_answer(*engine, std::move(req));
  if (ans.reason == runtime::StopReason::kError) fail(ErrorCode::kInternal, "generation failed: {}", ans.error);
  return ans.reason == runtime::StopReason::kCancelled ? 130 : 0;
}

const RegisterCommand kRun{Command{
    "run", "Generate text from a prompt, or chat (--chat), streaming to stdout", [](CLI::App& sub) {
      auto a = std::make_shared<RunArgs>();
      sub.add_option("MODEL", a->model,
                     std::string("Model file (GGUF); default: $QUARREL_MODEL, else the bundled demo model ") + kDemoModel);
      sub.add_option("PROMPT", a->prompt, "Prompt text (default: --file, or stdin when it is not a terminal)");
      sub.add_option("-f,--file", a->file, "Read the prompt from this file");
      sub.add_flag("--chat", a->chat, "Interactive conversation in the model's chat template (/reset, /exit)");
      sub.add_option("--system", a->system, "System message (renders the prompt with the chat template)");
      sub.add_option("--template", a->chat_template,
                     "Chat template: a name (chatml, llama3, ...) or 'default' for the model's own");
      sub.add_flag("--echo", a->echo, "Print the prompt before the generated text");
      sub.add_option("-n,--n-predict", a->n_predict, "Most tokens to generate (-1: until the end of text or the context)");
      sub.add_option("--stop", a->stop, "Stop string (repeatable); never printed");
      sub.add_flag("--ignore-eos", a->ignore_eos, "Do not stop at the model's end-of-text token");
      add_sampling_options(sub, *a);
      add_engine_options(sub, *a);
      sub.footer(
          "Sampling runs in llama.cpp's order: penalties, top-k, top-p, min-p, typical-p, temperature; --temp 0 is "
          "greedy.\nThe timing line on stderr gives prompt and generation tokens per second. In --chat, Ctrl-C stops "
          "the answer being written (not the program), Ctrl-D or /exit ends, /reset forgets the conversation; "
          "line editing is Quarrel's own (arrows, Home/End, Ctrl-A/E/K/U/W, history).");
      return [a] { return run(*a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
