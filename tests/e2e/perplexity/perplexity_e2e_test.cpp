// `quarrel perplexity` through the real binary on stories260K (trained on TinyStories): a
// finite perplexity with a standard error on a short story, lower on story text than on
// random characters; the progress bar; errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/run/cli.h"

namespace quarrel {
namespace {
using test::run_cli;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }

const char* kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
    "a big, red ball. She wanted to play with it, so she ran to get it. The ball was very bouncy and Lily laughed. "
    "Then her friend Tom came to the park. Tom said, \"Can I play with the ball too?\" Lily said, \"Yes, let's play "
    "together!\" They played with the ball all day. When the sun went down, they went home. Lily was happy because "
    "she had a good friend. The next day, Lily and Tom went to the park again. They saw a little dog. The dog was "
    "sad because it was lost. Lily and Tom helped the dog find its mom. The mom was very happy and said thank you. "
    "Lily and Tom felt proud. They knew that helping others is a good thing to do.\n";

struct TextFile {
  std::filesystem::path dir = test::temp_dir("qppl");
  std::string path = (dir / "text.txt").string();
  explicit TextFile(const std::string& text) { std::ofstream(path, std::ios::binary) << text; }
  ~TextFile() { std::filesystem::remove_all(dir); }
};

nlohmann::json ppl_json(const std::string& file, const std::string& extra) {
  const auto r = run_cli("perplexity " + model() + " --file " + file + " -t 1 --json " + extra);
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(PerplexityE2E, FinitePerplexityWithAStandardErrorOnAStory) {
  TextFile story(std::string(kStory) + kStory);
  const auto j = ppl_json(story.path, "--ctx 64");
  const double ppl = j["perplexity"].get<double>();
  EXPECT_TRUE(std::isfinite(ppl));
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 60.0);  // a trained story model on a story; uniform guessing would be 512
  EXPECT_GT(j["perplexity_stderr"].get<double>(), 0.0);
  EXPECT_EQ(j["ctx"], 64);
  EXPECT_GE(j["windows"].get<int>(), 4);
  EXPECT_EQ(j["scoring"], "second_half");
  // Second half of each window: tokens 33..63 predicted, 31 per window.
  EXPECT_EQ(j["scored_tokens"].get<int>(), 31 * j["windows"].get<int>());
}

TEST(PerplexityE2E, StoryTextScoresBetterThanNoise) {
  TextFile story(std::string(kStory) + kStory);
  TextFile noise("qzx vbn wqp lkj rtz mnb yxc plo iuz tre wqa sdf ghj klq zxv bnm qwe rty uio pas dfg hjk lzx cvb "
                 "nmq wer tyu iop asd fgh jkl zxc vbn mqw ert yui opa sdf ghj klz xcv bnm qwe rty uio pas dfg hjk");
  const double p_story = ppl_json(story.path, "--ctx 32 --all")["perplexity"].get<double>();
  const double p_noise = ppl_json(noise.path, "--ctx 32 --all")["perplexity"].get<double>();
  EXPECT_LT(p_story * 3, p_noise) << p_story << " vs " << p_noise;
}

TEST(PerplexityE2E, TextLine) {
  TextFile story(kStory);
  const auto r = run_cli("perplexity " + model() + " --file " + story.path + " --ctx 64 -t 1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("PPL = ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" +/- "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("perplexity: 100%"), std::string::npos) << r.err;  // the progress bar (not a terminal)
}

TEST(PerplexityE2E, ShortTextIsOneWindow) {
  TextFile story("Once upon a time, there was a little girl named Lily.");
  const auto j = ppl_json(story.path, "");
  EXPECT_EQ(j["windows"], 1);
  EXPECT_TRUE(std::isfinite(j["perplexity"].get<double>()));
}

TEST(PerplexityE2E, ErrorsAreOneLine) {
  TextFile story(kStory);
  TextFile tiny("a");
  for (const std::string args : {"perplexity " + model() + " --file /nonexistent.txt",
                                 "perplexity /nonexistent.gguf --file " + story.path,
                                 "perplexity " + model() + " --file " + story.path + " --ctx 2",
                                 "perplexity " + model() + " --file " + tiny.path}) {
    const auto r = run_cli(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(test::count_lines(r.err), 1u) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << args << ": " << r.err;
  }
}

TEST(PerplexityE2E, Help) {
  const auto r = run_cli("perplexity --help");
  EXPECT_EQ(r.status, 0);
  for (const char* want : {"--file", "--ctx", "--all", "second half"}) EXPECT_NE(r.out.find(want), std::string::npos) << want;
}

}  // namespace
}  // namespace quarrel
