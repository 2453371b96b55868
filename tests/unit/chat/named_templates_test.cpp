// Built-in chat formats (expected prompts written out by hand from each model family's
// published format) and the choice of template for a GGUF.
#include "chat/named_templates.h"

#include <gtest/gtest.h>

#include "chat/chat_template.h"
#include "common/test_data.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace quarrel::chat {
namespace {

nlohmann::ordered_json conversation() {
  return nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": [{"type": "text", "text": "2+2"}, {"type": "image"}, {"type": "text", "text": "?"}]}
  ])");
}

std::string render_builtin(const std::string& name, bool generation_prompt) {
  const NamedTemplate* t = find_builtin_template(name);
  EXPECT_NE(t, nullptr) << name;
  if (!t) return {};
  ChatOptions o;
  o.add_generation_prompt = generation_prompt;
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  return ChatTemplate(std::string(t->source)).render(conversation(), o);
}

TEST(ChatBuiltinTemplates, Chatml) {
  EXPECT_EQ(render_builtin("chatml", true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_builtin("chatml", false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
            "<|im_start|>user\n2+2?<|im_end|>\n");
}

TEST(ChatBuiltinTemplates, Llama2) {
  EXPECT_EQ(render_builtin("llama2", true),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] 2+2? [/INST]");
}

TEST(ChatBuiltinTemplates, Llama3) {
  EXPECT_EQ(render_builtin("llama3", true),
            "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatBuiltinTemplates, Mistral) {
  EXPECT_EQ(render_builtin("mistral", true),
            "<s>[SYSTEM_PROMPT] Be brief.[/SYSTEM_PROMPT][INST] Hi[/INST] Hello!</s>[INST] 2+2?[/INST]");
}

TEST(ChatBuiltinTemplates, Gemma) {
  EXPECT_EQ(render_builtin("gemma", true),
            "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\n2+2?<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatBuiltinTemplates, Phi3) {
  EXPECT_EQ(render_builtin("phi3", true),
            "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\n2+2?<|end|>\n"
            "<|assistant|>\n");
  EXPECT_EQ(render_builtin("phi3", false).substr(render_builtin("phi3", false).size() - 4), "</s>");
}

TEST(ChatBuiltinTemplates, ZephyrAndDeepseek) {
  EXPECT_EQ(render_builtin("zephyr", true),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n<|user|>\n2+2?</s>\n<|assistant|>\n");
  EXPECT_EQ(render_builtin("deepseek", true),
            "<s>Be brief.<｜User｜>Hi<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜>");
}

TEST(ChatBuiltinTemplates, AllHaveNamesAndRenderAnEmptyConversation) {
  EXPECT_GE(builtin_templates().size(), 6u);
  for (const auto& t : builtin_templates()) {
    EXPECT_FALSE(t.description.empty());
    EXPECT_NO_THROW(ChatTemplate(std::string(t.source)).render(nlohmann::ordered_json::array())) << t.name;
  }
  EXPECT_EQ(find_builtin_template("nope"), nullptr);
}

// ---- select_template ----------------------------------------------------------------------

struct InMemoryGguf {
  std::vector<uint8_t> bytes;
  gguf::GgufFile file;
};

InMemoryGguf make_gguf(const std::vector<std::pair<std::string, std::string>>& strings) {
  gguf::GgufWriter w;
  for (const auto& [k, v] : strings) w.set(k, gguf::Value::string(v));
  auto bytes = w.to_bytes();
  auto file = gguf::GgufFile::parse(bytes, "test.gguf");
  return InMemoryGguf{std::move(bytes), std::move(file)};
}

TEST(ChatSelectTemplate, PrefersTheModelsTemplates) {
  // The span inside GgufFile points into `bytes`; keep both alive together.
  auto g = std::make_unique<InMemoryGguf>(make_gguf({{"general.architecture", "llama"},
                                                     {"tokenizer.chat_template", "DEFAULT"},
                                                     {"tokenizer.chat_template.tool_use", "TOOLS"}}));
  g->file = gguf::GgufFile::parse(g->bytes, "test.gguf");
  EXPECT_EQ(select_template(g->file, std::nullopt).source, "DEFAULT");
  EXPECT_EQ(select_template(g->file, std::nullopt).origin, "tokenizer.chat_template");
  EXPECT_EQ(select_template(g->file, "tool_use").source, "TOOLS");
  EXPECT_EQ(select_template(g->file, "tool_use").origin, "tokenizer.chat_template.tool_use");
  EXPECT_EQ(select_template(g->file, "default").source, "DEFAULT");
  EXPECT_EQ(select_template(g->file, "chatml").origin, "builtin:chatml");
  try {
    select_template(g->file, "nonexistent");
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("nonexistent"), std::string::npos) << m;
    EXPECT_NE(m.find("tool_use"), std::string::npos) << m;
    EXPECT_NE(m.find("chatml"), std::string::npos) << m;
  }
}

TEST(ChatSelectTemplate, FallsBackByArchitectureThenChatml) {
  struct Case {
    const char* arch;
    const char* tokenizer;
    const char* expect;
  };
  for (const Case& c : std::initializer_list<Case>{{"gemma2", "llama", "builtin:gemma"},
                                                   {"gemma3", "llama", "builtin:gemma"},
                                                   {"llama", "gpt2", "builtin:llama3"},
                                                   {"llama", "llama", "builtin:llama2"},
                                                   {"phi3", "llama", "builtin:phi3"},
                                                   {"qwen2", "gpt2", "builtin:chatml"},
                                                   {"deepseek2", "gpt2", "builtin:deepseek"},
                                                   {"mpt", "gpt2", "builtin:chatml"}}) {
    auto g = std::make_unique<InMemoryGguf>(make_gguf({{"general.architecture", c.arch}, {"tokenizer.ggml.model", c.tokenizer}}));
    g->file = gguf::GgufFile::parse(g->bytes, "test.gguf");
    EXPECT_EQ(select_template(g->file, std::nullopt).origin, c.expect) << c.arch;
  }
  auto g = std::make_unique<InMemoryGguf>(make_gguf({{"general.architecture", "llama"}}));
  g->file = gguf::GgufFile::parse(g->bytes, "test.gguf");
  EXPECT_THROW(select_template(g->file, "default"), Error);
}

TEST(ChatSelectTemplate, RealFiles) {
  // The Phi-3 vocabulary from llama.cpp carries its template; stories260K has none (llama, SPM).
  const auto phi3 = gguf::GgufFile::open(test::data_path("vocab/ggml-vocab-phi-3.gguf").string());
  const SelectedTemplate s = select_template(phi3, std::nullopt);
  EXPECT_EQ(s.origin, "tokenizer.chat_template");
  EXPECT_NE(s.source.find("<|assistant|>"), std::string::npos);
  const std::string out = ChatTemplate(s.source).render(nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Hi"}])"),
                                                        ChatOptions{.add_generation_prompt = true});
  EXPECT_NE(out.find("<|user|>"), std::string::npos) << out;
  const auto stories = gguf::GgufFile::open(test::data_path("models/stories260K.gguf").string());
  EXPECT_EQ(select_template(stories, std::nullopt).origin, "builtin:llama2");
}

}  // namespace
}  // namespace quarrel::chat
