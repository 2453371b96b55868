#include "sampling/stop.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/random.h"

namespace quarrel::sampling {
namespace {

struct Fed {
  std::string emitted;
  bool stopped = false;
  int index = -1;
};

// Feeds text cut at the given positions, then flushes if no stop string completed.
Fed feed_split(const std::vector<std::string>& stops, const std::string& text, const std::vector<size_t>& cuts) {
  StopStringMatcher m(stops);
  Fed f;
  size_t prev = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(text.size());
  for (size_t end : ends) {
    const auto r = m.feed(std::string_view(text).substr(prev, end - prev));
    if (f.stopped) {
      EXPECT_TRUE(r.text.empty()) << "text after the stop";
    }
    f.emitted += r.text;
    if (r.stopped && !f.stopped) {
      f.stopped = true;
      f.index = r.stop_index;
    }
    if (!r.stopped) {
      // Emitted plus held back is everything fed so far: nothing lost, nothing invented.
      EXPECT_EQ(f.emitted.size() + m.held(), end);
    }
    prev = end;
  }
  if (!f.stopped) f.emitted += m.flush();
  return f;
}

// The reference, on the whole text: the stop string that completes first (earliest end, then
// earliest start, then the first listed).
Fed reference(const std::vector<std::string>& stops, const std::string& text) {
  Fed f;
  size_t best = std::string::npos, best_end = std::string::npos;
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) continue;
    const size_t pos = text.find(stops[i]);
    if (pos == std::string::npos) continue;
    const size_t end = pos + stops[i].size();
    if (best_end == std::string::npos || end < best_end || (end == best_end && pos < best)) {
      best = pos;
      best_end = end;
      f.index = static_cast<int>(i);
    }
  }
  f.stopped = best != std::string::npos;
  f.emitted = f.stopped ? text.substr(0, best) : text;
  return f;
}

TEST(StopStringMatcher, HoldsBackAPossibleStartAndReleasesIt) {
  StopStringMatcher m({"<|end|>"});
  auto r = m.feed("Hello <|e");
  EXPECT_EQ(r.text, "Hello ");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(m.held(), 3u);
  r = m.feed("nd");
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(m.held(), 5u);
  r = m.feed("x");  // not the stop string after all
  EXPECT_EQ(r.text, "<|endx");
  EXPECT_EQ(m.held(), 0u);
  r = m.feed(" <|end|> more");
  EXPECT_EQ(r.text, " ");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_index, 0);
  r = m.feed("ignored");
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.stopped);
}

TEST(StopStringMatcher, FlushReleasesHeldText) {
  StopStringMatcher m({"###"});
  EXPECT_EQ(m.feed("a#").text, "a");
  EXPECT_EQ(m.feed("#").text, "");
  EXPECT_EQ(m.flush(), "##");
  EXPECT_EQ(m.held(), 0u);
}

TEST(StopStringMatcher, NoStopsPassesEverythingThrough) {
  StopStringMatcher m({"", ""});
  EXPECT_EQ(m.feed("abc").text, "abc");
  EXPECT_EQ(m.held(), 0u);
  StopStringMatcher none;
  EXPECT_EQ(none.feed("x").text, "x");
}

TEST(StopStringMatcher, TheFirstStopToCompleteWinsAndItsIndexIsReported) {
  const Fed f = feed_split({"world", "lo w", ""}, "hello world", {2, 7});
  EXPECT_TRUE(f.stopped);
  EXPECT_EQ(f.emitted, "hel");
  EXPECT_EQ(f.index, 1);
  // "bc" completes before "xbcd" does, whether or not "d" arrives in the same piece.
  for (size_t cut : {0u, 2u, 3u, 4u}) {
    const Fed g = feed_split({"xbcd", "bc"}, "axbcd", {cut});
    EXPECT_EQ(g.emitted, "ax") << cut;
    EXPECT_EQ(g.index, 1);
  }
  // Same end: the longer one (earlier start).
  const Fed h = feed_split({"c", "abc"}, "xabc", {});
  EXPECT_EQ(h.emitted, "x");
  EXPECT_EQ(h.index, 1);
}

TEST(StopStringMatcher, OverlappingFalseStarts) {
  for (const auto& [stops, text] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"abab"}, "aabababx"}, {{"aab"}, "aaaab"}, {{"ab", "b"}, "xxb"}, {{"\n\nUser:"}, "Hi\n\n\nUser: x"}}) {
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      const Fed want = reference(stops, text);
      const Fed got = feed_split(stops, text, {cut});
      EXPECT_EQ(got.emitted, want.emitted) << text << " cut " << cut;
      EXPECT_EQ(got.stopped, want.stopped);
      EXPECT_EQ(got.index, want.index);
    }
  }
}

TEST(StopStringMatcher, EverySplitOfTheTextGivesTheSameResult) {
  // Every way of cutting the text into pieces (2^13 of them), including empty pieces at the ends.
  const std::vector<std::string> stops = {"</s>", "STOP"};
  for (const std::string text : {"ab</s>cdSTOPef", "a</sSTOP</s>xx", "abc</s", "no stop here"}) {
    const Fed want = reference(stops, text);
    const size_t n = text.size();
    for (uint32_t mask = 0; mask < (1u << (n - 1)); ++mask) {
      std::vector<size_t> cuts = {0};
      for (size_t i = 1; i < n; ++i)
        if (mask & (1u << (i - 1))) cuts.push_back(i);
      const Fed got = feed_split(stops, text, cuts);
      ASSERT_EQ(got.emitted, want.emitted) << text << " mask " << mask;
      ASSERT_EQ(got.stopped, want.stopped);
      ASSERT_EQ(got.index, want.index);
    }
  }
}

TEST(StopStringMatcher, RandomTextsStopsAndSplitsMatchTheReference) {
  std::mt19937_64 rng(test::test_seed());
  auto rand_str = [&](size_t max_len) {
    std::string s(std::uniform_int_distribution<size_t>(0, max_len)(rng), 'a');
    for (char& c : s) c = "abc"[std::uniform_int_distribution<int>(0, 2)(rng)];
    return s;
  };
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<std::string> stops;
    const int n_stops = std::uniform_int_distribution<int>(0, 3)(rng);
    for (int i = 0; i < n_stops; ++i) stops.push_back(rand_str(4));
    const std::string text = rand_str(24);
    std::vector<size_t> cuts;
    for (size_t i = 0; i <= text.size(); ++i)
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) cuts.push_back(i);
    const Fed want = reference(stops, text);
    const Fed got = feed_split(stops, text, cuts);
    ASSERT_EQ(got.emitted, want.emitted) << "text " << text << " trial " << trial;
    ASSERT_EQ(got.stopped, want.stopped);
    ASSERT_EQ(got.index, want.index);
  }
}

TEST(StopStringMatcher, Utf8StopStrings) {
  const std::string text = "naïve ünïcödé 終わり more";
  const Fed want = reference({"終わり"}, text);
  EXPECT_EQ(want.emitted, "naïve ünïcödé ");
  for (size_t cut = 0; cut <= text.size(); ++cut) EXPECT_EQ(feed_split({"終わり"}, text, {cut}).emitted, want.emitted);
}

TEST(StopChecker, StopTokenEndsAndReleasesHeldText) {
  StopChecker c({{"\n\n"}, {2, 32000}, -1});
  auto s = c.on_token(10, "Hi\n");
  EXPECT_EQ(s.text, "Hi");
  EXPECT_EQ(s.reason, StopReason::kNone);
  s = c.on_token(2, "</s>");
  EXPECT_EQ(s.text, "\n");  // held for "\n\n", which never came; the eos text is not emitted
  EXPECT_EQ(s.reason, StopReason::kStopToken);
  EXPECT_TRUE(c.done());
  EXPECT_EQ(c.n_generated(), 2);
  s = c.on_token(11, "late");
  EXPECT_EQ(s.text, "");
  EXPECT_EQ(s.reason, StopReason::kStopToken);
  EXPECT_EQ(c.n_generated(), 2);
}

TEST(StopChecker, StopString) {
  StopChecker c({{"User:", "###"}, {2}, 100});
  EXPECT_EQ(c.on_token(1, "Answer.\n").text, "Answer.\n");
  auto s = c.on_token(1, "##");
  EXPECT_EQ(s.text, "");
  s = c.on_token(1, "# tail");
  EXPECT_EQ(s.text, "");
  EXPECT_EQ(s.reason, StopReason::kStopString);
  EXPECT_EQ(s.stop_string, 1);
}

TEST(StopChecker, MaxTokens) {
  StopChecker c({{"xyz"}, {}, 3});
  EXPECT_EQ(c.on_token(5, "a").reason, StopReason::kNone);
  EXPECT_EQ(c.on_token(5, "b").reason, StopReason::kNone);
  auto s = c.on_token(5, "xy");  // the third token: length, and the held "xy" is released
  EXPECT_EQ(s.reason, StopReason::kLength);
  EXPECT_EQ(s.text, "xy");
  StopChecker zero({{}, {}, 0});
  EXPECT_TRUE(zero.done());
  EXPECT_EQ(zero.reason(), StopReason::kLength);
  StopChecker unlimited({{}, {}, -1});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(unlimited.on_token(1, "a").reason, StopReason::kNone);
}

TEST(StopChecker, FinishForAnOutsideReason) {
  StopChecker c({{"END"}, {}, -1});
  EXPECT_EQ(c.on_token(1, "abcE").text, "abc");
  EXPECT_EQ(c.finish(StopReason::kCancelled), "E");
  EXPECT_EQ(c.reason(), StopReason::kCancelled);
  EXPECT_EQ(c.finish(StopReason::kTimeout), "");
  EXPECT_EQ(c.reason(), StopReason::kCancelled);  // the first reason stays
}

TEST(StopReason, Names) {
  EXPECT_EQ(to_string(StopReason::kStopToken), "stop_token");
  EXPECT_EQ(to_string(StopReason::kStopString), "stop_string");
  EXPECT_EQ(to_string(StopReason::kLength), "length");
  EXPECT_EQ(to_string(StopReason::kContextFull), "context_full");
  EXPECT_EQ(to_string(StopReason::kCancelled), "cancelled");
  EXPECT_EQ(to_string(StopReason::kTimeout), "timeout");
  EXPECT_EQ(to_string(StopReason::kError), "error");
  EXPECT_EQ(to_string(StopReason::kNone), "none");
}

}  // namespace
}  // namespace quarrel::sampling
