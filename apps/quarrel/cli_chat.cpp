// `quarrel run --chat`: the conversation loop. Each turn re-renders the whole conversation with
// the chat template; the engine's prefix cache finds the KV of the earlier turns again, so only
// the new part of the prompt is computed.
#include <cstdio>

#include "apps/quarrel/cli_generate.h"
#include "apps/quarrel/cli_line_editor.h"
#include "core/error.h"
#include "model/model.h"

namespace quarrel::cli {

int run_chat(runtime::Engine& engine, const RunArgs& a, const sampling::SamplingParams& sp) {
  const ChatPrompt chat(engine, a.chat_template);
  LineEditor editor;
  nlohmann::ordered_json start = nlohmann::ordered_json::array();
  if (!a.system.empty()) start.push_back({{"role", "system"}, {"content", a.system}});
  nlohmann::ordered_json messages = start;
  if (editor.interactive()) {
    std::fprintf(stderr,
                 "Chatting with %s (template %s). /reset forgets the conversation, /exit or Ctrl-D ends, Ctrl-C stops "
                 "an answer.\n",
                 engine.model().path().c_str(), chat.origin().c_str());
  }
  for (;;) {
    const std::optional<std::string> line = editor.read_line("> ");
    if (!line) break;
    if (line->empty()) continue;
    if (*line == "/exit" || *line == "/quit") break;
    if (*line == "/reset") {
      messages = start;
      std::fprintf(stderr, "(conversation reset)\n");
      continue;
    }
    if (*line == "/help" || *line == "/?") {
      std::fprintf(stderr, "/reset  forget the conversation\n/exit   end (or Ctrl-D)\nCtrl-C  stop the answer\n");
      continue;
    }
    editor.add_history(*line);
    messages.push_back({{"role", "user"}, {"content", *line}});
    runtime::Request req;
    req.prompt = chat.tokens(messages);
    req.sampling = sp;
    req.max_tokens = a.n_predict;
    req.stop = a.stop;
    req.ignore_eos = a.ignore_eos;
    Answer ans;
    try {
      ans = stream_answer(engine, std::move(req), /*keep_running_on_sigint=*/true);
    } catch (const runtime::ContextOverflowError& e) {
      std::fprintf(stderr, "error: %s; /reset starts over\n", e.what());
      messages.erase(messages.end() - 1);
      continue;
    }
    if (ans.reason == runtime::StopReason::kError) std::fprintf(stderr, "error: %s\n", ans.error.c_str());
    messages.push_back({{"role", "assistant"}, {"content", ans.text}});
  }
  return 0;
}

}  // namespace quarrel::cli
