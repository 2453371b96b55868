// Chat templates against an independent reference: every template in ../shared/data/templates
// (and every built-in format, and a set of snippets covering the interpreter's constructs) is
// rendered by Quarrel and by @huggingface/jinja (node tests/js/template_render.mjs, one node
// run per test), for the conversations in cases.json, with and without add_generation_prompt.
// Outputs must be byte-identical; where the reference fails, Quarrel must fail too (and give
// the same message when the template itself raised it). The few deliberate differences (where
// the reference lacks a Jinja feature or ignores an argument) are listed in cases.json with
// their reason, and checked to be exactly those. Missing node or node_modules fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/named_templates.h"
#include "common/test_data.h"

namespace quarrel::chat {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr long long kFixedTime = 1741338300;  // 2025-03-07 09:05:00 UTC

const ojson& cases() {
  static const ojson c = ojson::parse(test::read_file(test::source_dir() / "tests/golden/chat/cases.json"));
  return c;
}

struct Job {
  std::string id;
  std::string template_name;
  std::string case_name;
  std::string source;
  ojson messages;
  ChatOptions options;
  ojson variables;  // for snippets: rendered with exactly these variables
  bool snippet = false;
};

struct Outcome {
  bool ok = false;
  std::string text;   // output or error message
  bool raised = false;  // Quarrel: the template called raise_exception
};

// Runs the reference on all jobs in one node process.
std::map<std::string, Outcome> reference(const std::vector<Job>& jobs) {
  ojson spec = {{"fixed_time", kFixedTime}, {"jobs", ojson::array()}};
  for (const Job& j : jobs) {
    ojson o = {{"id", j.id}, {"template", j.source}};
    if (j.snippet) {
      o["messages"] = j.variables.contains("messages") ? j.variables["messages"] : ojson::array();
      o["extra"] = j.variables;
      o["extra"].erase("messages");
      o["tools"] = nullptr;
    } else {
      o["messages"] = j.messages;
      o["tools"] = j.options.tools;
      o["add_generation_prompt"] = j.options.add_generation_prompt;
      o["bos_token"] = j.options.bos_token;
      o["eos_token"] = j.options.eos_token;
      o["extra"] = j.options.extra.is_null() ? ojson::object() : j.options.extra;
    }
    spec["jobs"].push_back(std::move(o));
  }
  const fs::path dir = test::temp_dir("qchat");
  const fs::path job_file = dir / "jobs.json";
  const fs::path err_file = dir / "stderr";
  std::ofstream(job_file) << spec.dump();
  const fs::path script = test::source_dir() / "tests/js/template_render.mjs";
  const std::string cmd = "TZ=UTC LC_ALL=C.UTF-8 node '" + script.string() + "' '" + job_file.string() + "' 2>'" + err_file.string() + "'";
  std::string out;
  const int rc = test::run_command(cmd, &out);
  const std::string err = fs::exists(err_file) ? test::read_file(err_file) : "";
  fs::remove_all(dir);
  if (rc != 0) {
    throw std::runtime_error("the reference renderer failed (exit " + std::to_string(rc) + "): " + cmd + "\n" + err +
                             "\nIs node installed and tests/js/node_modules present? Run scripts/setup (npm ci in tests/js).");
  }
  std::map<std::string, Outcome> results;
  const auto parsed = nlohmann::json::parse(out);
  for (const auto& r : parsed) {
    Outcome o;
    o.ok = r.at("ok").get<bool>();
    o.text = o.ok ? r.at("text").get<std::string>() : r.at("error").get<std::string>();
    results[r.at("id").get<std::string>()] = std::move(o);
  }
  if (results.size() != jobs.size()) throw std::runtime_error("the reference renderer returned " + std::to_string(results.size()) + " results for " + std::to_string(jobs.size()) + " jobs");
  return results;
}

Outcome quarrel_render(const Job& j, std::map<std::string, std::shared_ptr<ChatTemplate>>& cache) {
  Outcome o;
  try {
    auto& t = cache[j.source];
    if (!t) t = std::make_shared<ChatTemplate>(j.source);
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(kFixedTime));
    o.text = j.snippet ? t->render_variables(j.variables, now) : t->render(j.messages, j.options);
    o.ok = true;
  } catch (const TemplateError& e) {
    o.text = e.kind() == TemplateErrorKind::kRaised ? e.detail() : e.what();
    o.raised = e.kind() == TemplateErrorKind::kRaised;
  } catch (const std::exception& e) {
    o.text = e.what();
  }
  return o;
}

std::string show_difference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const size_t from = i > 60 ? i - 60 : 0;
  return "first difference at byte " + std::to_string(i) + "\n  quarrel:   " + ojson(a.substr(from, 160)).dump() +
         "\n  reference: " + ojson(b.substr(from, 160)).dump();
}

struct Tally {
  int both_ok = 0, both_failed = 0, divergences = 0;
};

// Compares every job; returns the tally per template.
std::map<std::string, Tally> compare(const std::vector<Job>& jobs) {
  const auto ref = reference(jobs);
  std::map<std::string, std::shared_ptr<ChatTemplate>> cache;
  std::map<std::string, Tally> tally;
  for (const Job& j : jobs) {
    const Outcome& r = ref.at(j.id);
    const Outcome q = quarrel_render(j, cache);
    Tally& t = tally[j.template_name];
    const ojson* divergence = nullptr;
    for (const auto& d : cases()["divergences"])
      if (d["template"] == j.template_name && d["case"] == j.case_name) divergence = &d;
    if (divergence) {
      ++t.divergences;
      if ((*divergence)["kind"] == "reference_fails") {  // the reference lacks a feature
        EXPECT_FALSE(r.ok) << j.id << ": expected the reference to fail (" << (*divergence)["reason"] << ")";
        EXPECT_NE(r.text.find((*divergence)["reference_error"].get<std::string>()), std::string::npos) << j.id << ": " << r.text;
        EXPECT_TRUE(q.ok) << j.id << ": " << q.text;
      } else {  // "differs": both render, deliberately differently
        EXPECT_TRUE(r.ok && q.ok) << j.id << ": " << r.text << " / " << q.text;
        EXPECT_NE(q.text, r.text) << j.id << ": expected a difference (" << (*divergence)["reason"] << ")";
        EXPECT_NE(q.text.find((*divergence)["quarrel_contains"].get<std::string>()), std::string::npos)
            << j.id << ": " << ojson(q.text).dump();
      }
      continue;
    }
    if (r.ok && q.ok) {
      ++t.both_ok;
      EXPECT_EQ(q.text, r.text) << j.id << "\n" << show_difference(q.text, r.text);
    } else if (!r.ok && !q.ok) {
      ++t.both_failed;
      if (q.raised) {
        EXPECT_EQ(q.text, r.text) << j.id << ": raise_exception messages differ";
      }
      if (std::getenv("QUARREL_CHAT_GOLDEN_VERBOSE"))
        std::printf("both failed: %s\n  quarrel:   %s\n  reference: %s\n", j.id.c_str(), q.text.c_str(), r.text.c_str());
    } else if (r.ok) {
      ADD_FAILURE() << j.id << ": Quarrel failed where the reference rendered\n  quarrel error: " << q.text
                    << "\n  reference: " << ojson(r.text.substr(0, 300)).dump();
    } else {
      ADD_FAILURE() << j.id << ": the reference failed (" << r.text << ") where Quarrel rendered\n  "
                    << ojson(q.text.substr(0, 300)).dump();
    }
  }
  return tally;
}

std::vector<Job> conversation_jobs(const std::string& template_name, const std::string& source) {
  std::vector<Job> jobs;
  const ojson& c = cases();
  for (const auto& cs : c["cases"]) {
    for (bool agp : {false, true}) {
      Job j;
      j.template_name = template_name;
      j.case_name = cs["name"].get<std::string>();
      j.id = template_name + " | " + j.case_name + (agp ? " | add_generation_prompt" : "");
      j.source = source;
      j.messages = cs["messages"];
      j.options.add_generation_prompt = agp;
      j.options.bos_token = c["bos_token"].get<std::string>();
      j.options.eos_token = c["eos_token"].get<std::string>();
      if (cs.contains("tools")) j.options.tools = c["tool_sets"][cs["tools"].get<std::string>()];
      if (cs.contains("extra")) j.options.extra = cs["extra"];
      j.options.now = std::chrono::system_clock::time_point(std::chrono::seconds(kFixedTime));
      jobs.push_back(std::move(j));
    }
  }
  return jobs;
}

class ChatTemplateGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(ChatTemplateGolden, ShippedTemplatesMatchHuggingFaceJinja) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(test::data_dir() / "templates"))
    if (e.path().extension() == ".jinja") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 12u) << "templates missing in " << (test::data_dir() / "templates");
  std::vector<Job> jobs;
  for (const auto& f : files) {
    auto js = conversation_jobs(f.filename().string(), test::read_file(f));
    jobs.insert(jobs.end(), js.begin(), js.end());
  }
  const auto tally = compare(jobs);
  for (const auto& f : files) {
    const Tally& t = tally.at(f.filename().string());
    // Every template must render most conversations: a run where everything fails on both
    // sides would prove nothing.
    EXPECT_GE(t.both_ok, 10) << f.filename() << ": only " << t.both_ok << " conversations rendered on both sides";
    std::printf("%-55s rendered %3d, both failed %3d, known divergences %d\n", f.filename().c_str(), t.both_ok,
                t.both_failed, t.divergences);
  }
}

TEST_F(ChatTemplateGolden, BuiltinFormatsMatchHuggingFaceJinja) {
  std::vector<Job> jobs;
  for (const auto& t : builtin_templates()) {
    auto js = conversation_jobs("builtin:" + std::string(t.name), std::string(t.source));
    jobs.insert(jobs.end(), js.begin(), js.end());
  }
  const auto tally = compare(jobs);
  for (const auto& t : builtin_templates()) EXPECT_GE(tally.at("builtin:" + std::string(t.name)).both_ok, 20) << t.name;
}

TEST_F(ChatTemplateGolden, InterpreterConstructsMatchHuggingFaceJinja) {
  std::vector<Job> jobs;
  int i = 0;
  for (const auto& s : cases()["snippets"]) {
    Job j;
    j.template_name = "snippet";
    j.case_name = "snippet " + std::to_string(i);
    j.id = "snippet " + std::to_string(i++) + ": " + s.get<std::string>().substr(0, 80);
    j.source = s.get<std::string>();
    j.variables = cases()["snippet_vars"];
    j.snippet = true;
    jobs.push_back(std::move(j));
  }
  const auto tally = compare(jobs);
  // Every snippet is meant to render on both sides.
  EXPECT_EQ(tally.at("snippet").both_ok, static_cast<int>(jobs.size()));
}

}  // namespace
}  // namespace quarrel::chat
