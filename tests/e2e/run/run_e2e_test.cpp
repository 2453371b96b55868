// `quarrel run` as a user runs it: the real binary on stories260K (a real trained model).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "e2e/run/cli.h"

namespace quarrel {
namespace {

using test::run_cli;
using test::shell_quote;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }

// The reference continuation of "Once upon a time" (40 greedy tokens), without the prompt.
std::string reference_continuation() {
  const auto j = nlohmann::json::parse(test::read_file(test::data_path("models/reference_greedy.json")));
  const std::string text = j.at("greedy_text").get<std::string>();
  const std::string prompt = " " + j.at("prompt").get<std::string>();
  EXPECT_EQ(text.rfind(prompt, 0), 0u) << text;
  EXPECT_EQ(j.at("steps").size(), 40u);
  return text.substr(prompt.size());
}

std::string run_args(const std::string& extra) {
  return "run " + model() + " 'Once upon a time' --temp 0 -n 40 -t 1 " + extra;
}

TEST(RunE2E, GreedyStoriesPrintsExactlyTheReferenceContinuation) {
  const auto r = run_cli(run_args(""));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, reference_continuation());
  // One timing line on stderr, with both rates.
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("prompt: 5 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("generation: 40 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("| length]"), std::string::npos) << r.err;
}

TEST(RunE2E, DefaultThreadsGiveTheSameText) {
  const auto r = run_cli("run " + model() + " 'Once upon a time' --temp 0 -n 40");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, reference_continuation());
}

TEST(RunE2E, EchoPrintsThePromptFirst) {
  const auto r = run_cli(run_args("--echo"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time" + reference_continuation());
}

TEST(RunE2E, PromptFromStdin) {
  const std::string prompt = "Once upon a time";
  const auto r = run_cli("run " + model() + " --temp 0 -n 40 -t 1", &prompt);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, reference_continuation());
}

TEST(RunE2E, MaxTokensIsRespected) {
  const auto r = run_cli("run " + model() + " 'Once upon a time' --temp 0 -n 3 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ", there was");
  EXPECT_NE(r.err.find("generation: 3 tokens"), std::string::npos) << r.err;
}

TEST(RunE2E, StopStringEndsTheTextAndIsNeverPrinted) {
  const auto r = run_cli(run_args("--stop 'little girl'"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, ", there was a ");
  EXPECT_NE(r.err.find("stop_string"), std::string::npos) << r.err;
}

TEST(RunE2E, SameSeedSameText) {
  const std::string args = "run " + model() + " 'Once upon a time' --temp 1.0 --seed 1234 -n 30 -t 1";
  const auto a = run_cli(args);
  const auto b = run_cli(args);
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_FALSE(a.out.empty());
  EXPECT_EQ(a.out, b.out);
}

TEST(RunE2E, SamplingFlagsAreAccepted) {
  const auto r = run_cli("run " + model() +
                         " 'Once upon a time' -n 10 -t 1 --temp 0.7 --top-k 20 --top-p 0.9 --min-p 0.1 --typical-p 0.95"
                         " --repeat-penalty 1.1 --repeat-last-n 32 --presence-penalty 0.5 --frequency-penalty 0.5"
                         " --seed 7 --ctx 256 --kv-type f32");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("generation: 10 tokens"), std::string::npos) << r.err;
}

TEST(RunE2E, ChatThroughAPipe) {
  const std::string input = "Hello there\n/reset\nTell me a story\n/exit\nnot read\n";
  const auto r = run_cli("run " + model() + " --chat --temp 0 -n 8 -t 1 --system 'You tell stories.'", &input);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("(conversation reset)"), std::string::npos) << r.err;
  // Two answers, each with its timing line.
  size_t n_timing = 0;
  for (size_t p = r.err.find("[prompt:"); p != std::string::npos; p = r.err.find("[prompt:", p + 1)) ++n_timing;
  EXPECT_EQ(n_timing, 2u) << r.err;
}

TEST(RunE2E, BadModelPathIsOneLineError) {
  const auto r = run_cli("run /nonexistent/model.gguf 'hi'");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
}

TEST(RunE2E, NotAModelIsOneLineError) {
  const auto r = run_cli("run " + test::data_path("README.md").string() + " 'hi'");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
}

TEST(RunE2E, BadOptionsAreOneLineErrors) {
  for (const std::string extra : {"--kv-type q4_0", "-n -5", "--temp nan", "--ctx -1", "--repeat-penalty 0"}) {
    const auto r = run_cli("run " + model() + " 'hi' -t 1 " + extra);
    EXPECT_NE(r.status, 0) << extra;
    EXPECT_EQ(test::count_lines(r.err), 1u) << extra << ": " << r.err;
  }
}

// fp8 is a KV type of the cuda backend only: on the cpu, every spelling is one clear line.
TEST(RunE2E, Fp8KvCacheOnTheCpuIsOneLineError) {
  for (const std::string spelling : {"fp8", "fp8_e4m3", "F8_E4M3"}) {
    const auto r = run_cli("run " + model() + " 'hi' -t 1 --kv-type " + spelling);
    EXPECT_NE(r.status, 0) << spelling;
    EXPECT_LT(r.status, 128) << spelling << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(test::count_lines(r.err), 1u) << spelling << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("--kv-type f8_e4m3: the cpu backend keeps the KV cache in f16, f32 or q8_0"),
              std::string::npos)
        << r.err;
  }
  // A name no KV type has lists the valid ones.
  const auto r = run_cli("run " + model() + " 'hi' -t 1 --kv-type fp16x");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("--kv-type must be f16, f32, q8_0 or f8_e4m3 (also fp8, fp8_e4m3), got 'fp16x'"),
            std::string::npos)
      << r.err;
}

TEST(RunE2E, PromptLongerThanTheContextIsAnError) {
  const auto r = run_cli("run " + model() + " " + shell_quote(std::string(200, 'a') + " b c d e f g h") + " --ctx 16 -t 1");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("context"), std::string::npos) << r.err;
}

TEST(RunE2E, NoPromptIsAnError) {
  const std::string empty;
  const auto r = run_cli("run " + model() + " -t 1", &empty);
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
}

TEST(RunE2E, Help) {
  const auto r = run_cli("run --help");
  EXPECT_EQ(r.status, 0);
  for (const char* want : {"--chat", "--temp", "--top-k", "--seed", "--stop", "--echo", "--system", "--ctx", "--threads"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want;
}

}  // namespace
}  // namespace quarrel
