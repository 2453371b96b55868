#pragma once
// When generation stops, and what text reaches the client.
//
// StopStringMatcher takes the generated text piece by piece (as the incremental detokenizer
// produces it) and returns what is safe to emit now: a suffix that could still be the start of a
// stop string is held back; when a stop string completes (even across pieces) the text before
// it is emitted and the stop string itself never is. Matching is on bytes; with valid UTF-8
// text and stop strings a match always starts on a character boundary.
//
// StopChecker adds stop tokens (eos / eot) and max_tokens, and says why generation ended.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "sampling/sampling_params.h"

namespace quarrel::sampling {

enum class StopReason {
  kNone,         // still generating
  kStopToken,    // an end-of-generation token (eos, eot): OpenAI finish_reason "stop"
  kStopString,   // a stop string: "stop"
  kLength,       // max_tokens reached: "length"
  kContextFull,  // the context window is full: "length"
  kCancelled,    // the client went away or asked to stop
  kTimeout,      // the request ran past its deadline
  kError,        // inference failed
};

// "none", "stop_token", "stop_string", "length", "context_full", "cancelled", "timeout", "error".
std::string_view to_string(StopReason reason);

class StopStringMatcher {
 public:
  // Empty stop strings are ignored.
  explicit StopStringMatcher(std::vector<std::string> stops = {});

  struct Result {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string completed: emit text, then end the generation
    int stop_index = -1;   // which one (index into the constructor's list)
  };
  // After a stop, further pieces are ignored (empty text, stopped stays true).
  Result feed(std::string_view piece);
  // The held-back text, released: call it when generation ends for another reason.
  std::string flush();

  bool stopped() const { return stopped_; }
  size_t held() const { return pending_.size(); }
  const std::vector<std::string>& stops() const { return stops_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  int stop_index_ = -1;
};

struct StopConditions {
  std::vector<std::string> stop_strings;
  std::vector<TokenId> stop_tokens;  // eos, eot, ...
  int32_t max_tokens = -1;           // < 0: no limit (the context still bounds it); 0: none at all
};

class StopChecker {
 public:
  explicit StopChecker(StopConditions conditions);

  struct Step {
    std::string text;                       // to emit for this token (may be empty)
    StopReason reason = StopReason::kNone;  // kNone: keep generating
    int stop_string = -1;                   // for kStopString: index into stop_strings
  };
  // One generated token and its text piece. A stop token's own text is never emitted; text held
  // back for a stop string that did not complete is released when generation ends here.
  Step on_token(TokenId token, std::string_view piece);
  // Ends generation for an outside reason (cancelled, context full, timeout, error) unless it
  // already ended; returns the held-back text (the caller may emit it or drop it).
  std::string finish(StopReason reason);

  bool done() const { return reason_ != StopReason::kNone; }
  StopReason reason() const { return reason_; }
  int32_t n_generated() const { return n_generated_; }

 private:
  StopConditions cond_;
  std::unordered_set<TokenId> stop_tokens_;
  StopStringMatcher matcher_;
  StopReason reason_ = StopReason::kNone;
  int32_t n_generated_ = 0;
};

}  // namespace quarrel::sampling
