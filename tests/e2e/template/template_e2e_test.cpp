// `quarrel template` as a user runs it: the real binary, real files, exact output.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "common/test_data.h"

namespace quarrel {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status;
  std::string out;
  std::string err;
};

class TemplateE2E : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::temp_dir("qtemplate"); }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  Result run(const std::string& args, const std::string& env = "") {
    const fs::path err = dir_ / "stderr";
    Result r;
    r.status = test::run_command(env + " " + test::quarrel_binary().string() + " template " + args + " 2>" + err.string(), &r.out);
    r.err = test::read_file(err);
    return r;
  }

  fs::path dir_;
};

const char* kMessages = R"([
  {"role": "system", "content": "Be brief."},
  {"role": "user", "content": "Hi there"},
  {"role": "assistant", "content": "Hello!"},
  {"role": "user", "content": "Bye"}
])";

TEST_F(TemplateE2E, PrintsTheRenderedPromptExactly) {
  const std::string t = write("t.jinja",
                              "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>\n"
                              "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}\n");
  const std::string m = write("m.json", kMessages);
  Result r = run("--file " + t + " --messages " + m + " --add-generation-prompt --bos '<s>'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "<s><system>Be brief.</system>\n<user>Hi there</user>\n<assistant>Hello!</assistant>\n<user>Bye</user>\n<assistant>");
  EXPECT_TRUE(r.err.empty()) << r.err;

  r = run("--file " + t + " --messages " + m);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<system>Be brief.</system>\n<user>Hi there</user>\n<assistant>Hello!</assistant>\n<user>Bye</user>\n");
}

TEST_F(TemplateE2E, RealTemplateWithToolsAndVariables) {
  const std::string t = test::data_path("templates/meta-llama-Llama-3.2-3B-Instruct.jinja").string();
  const std::string m = write("m.json", R"({"messages": [{"role": "user", "content": "Weather in Oslo?"}]})");
  const char* tools = R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";
  const std::string tf = write("tools.json", tools);
  const std::string x = write("extra.json", R"({"tools_in_user_message": false})");
  const Result r = run("--file " + t + " --messages " + m + " --tools " + tf + " --extra " + x +
                           " -g --bos '<|begin_of_text|>'",
                       "QUARREL_FIXED_TIME=1741338300 TZ=UTC");
  ASSERT_EQ(r.status, 0) << r.err;
  // The same render through the library.
  setenv("TZ", "UTC", 1);
  chat::ChatOptions o;
  o.tools = nlohmann::ordered_json::parse(tools);
  o.extra = nlohmann::ordered_json::parse(R"({"tools_in_user_message": false})");
  o.add_generation_prompt = true;
  o.bos_token = "<|begin_of_text|>";
  o.now = std::chrono::system_clock::time_point(std::chrono::seconds(1741338300));
  const std::string expected = chat::ChatTemplate(test::read_file(t)).render(
      nlohmann::ordered_json::parse(R"([{"role": "user", "content": "Weather in Oslo?"}])"), o);
  EXPECT_EQ(r.out, expected);
  EXPECT_NE(r.out.find("Today Date: 07 Mar 2025"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"name\": \"get_weather\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.substr(r.out.size() - 2), "\n\n");  // ends with the assistant header, nothing added
}

TEST_F(TemplateE2E, ModelTemplateAndBuiltinFormats) {
  const std::string m = write("m.json", R"([{"role": "user", "content": "Hi"}])");
  // The Phi-3 vocabulary GGUF carries a chat template and BOS/EOS tokens.
  Result r = run(test::data_path("vocab/ggml-vocab-phi-3.gguf").string() + " --messages " + m);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("<|user|>"), std::string::npos) << r.out;

  r = run("--name chatml --messages " + m + " -g");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

  // stories260K has no template: the llama2 format, with the model's own BOS text.
  r = run(test::data_path("models/stories260K.gguf").string() + " --messages " + m);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "<s>[INST] Hi [/INST]");
}

TEST_F(TemplateE2E, HelpAndClearErrors) {
  Result r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--messages"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--add-generation-prompt"), std::string::npos) << r.out;

  const std::string m = write("m.json", kMessages);
  auto expect_error = [&](const std::string& args, const std::string& part) {
    const Result e = run(args);
    EXPECT_NE(e.status, 0) << args;
    EXPECT_TRUE(e.out.empty()) << args << ": " << e.out;
    EXPECT_NE(e.err.find(part), std::string::npos) << args << ": " << e.err;
    EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << "one line expected: " << e.err;
  };
  expect_error("--file " + write("bad.jinja", "ok\n{% for x in y %}\n{{ x }}") + " --messages " + m, "line 2");
  expect_error("--file " + write("inc.jinja", "{% include 'x' %}") + " --messages " + m, "include");
  expect_error("--file " + write("flt.jinja", "\n{{ 'x'|nosuchfilter }}") + " --messages " + m, "unknown filter 'nosuchfilter'");
  expect_error("--file " + test::data_path("templates/google-gemma-2-2b-it.jinja").string() + " --messages " + m,
               "System role not supported");
  expect_error("--file /nonexistent.jinja --messages " + m, "/nonexistent.jinja");
  expect_error("--name chatml --messages /nonexistent.json", "/nonexistent.json");
  expect_error("--name chatml --messages " + write("bad.json", "[{"), "not valid JSON");
  expect_error("--name chatml --messages " + write("obj.json", "{\"a\": 1}"), "JSON array");
  expect_error("--name nosuchformat --messages " + m, "nosuchformat");
  expect_error("--messages " + m, "MODEL");
  expect_error("--file x.jinja " + test::data_path("models/stories260K.gguf").string() + " --messages " + m, "not both");
}

}  // namespace
}  // namespace quarrel
