#include "sampling/stop.h"

#include <algorithm>

namespace quarrel::sampling {

std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::kNone: return "none";
    case StopReason::kStopToken: return "stop_token";
    case StopReason::kStopString: return "stop_string";
    case StopReason::kLength: return "length";
    case StopReason::kContextFull: return "context_full";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kTimeout: return "timeout";
    case StopReason::kError: return "error";
  }
  return "unknown";
}

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

StopStringMatcher::Result StopStringMatcher::feed(std::string_view piece) {
  Result r;
  if (stopped_) {
    r.stopped = true;
    r.stop_index = stop_index_;
    return r;
  }
  std::string buf = std::move(pending_);
  pending_.clear();
  const size_t old = buf.size();  // held text holds no complete stop string
  buf.append(piece);

  // The stop string that completes first (earliest end; then the longest, i.e. earliest start;
  // then the first listed). Whatever the cuts between pieces, that is the same one.
  size_t best_pos = std::string::npos, best_end = std::string::npos;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const std::string& s = stops_[i];
    if (s.empty() || s.size() > buf.size()) continue;
    const size_t from = old >= s.size() ? old - s.size() + 1 : 0;  // it must end in the new piece
    const size_t pos = buf.find(s, from);
    if (pos == std::string::npos) continue;
    const size_t end = pos + s.size();
    if (best_end == std::string::npos || end < best_end || (end == best_end && pos < best_pos)) {
      best_pos = pos;
      best_end = end;
      stop_index_ = static_cast<int>(i);
    }
  }
  if (best_pos != std::string::npos) {
    stopped_ = true;
    buf.resize(best_pos);
    r.text = std::move(buf);
    r.stopped = true;
    r.stop_index = stop_index_;
    return r;
  }

  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  const std::string_view view(buf);
  for (const std::string& s : stops_) {
    for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), buf.size()); len > hold; --len) {
      if (view.substr(buf.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  pending_.assign(buf, buf.size() - hold, hold);
  buf.resize(buf.size() - hold);
  r.text = std::move(buf);
  return r;
}

std::string StopStringMatcher::flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  return out;
}

StopChecker::StopChecker(StopConditions conditions)
    : cond_(std::move(conditions)),
      stop_tokens_(cond_.stop_tokens.begin(), cond_.stop_tokens.end()),
      matcher_(cond_.stop_strings) {
  if (cond_.max_tokens == 0) reason_ = StopReason::kLength;
}

StopChecker::Step StopChecker::on_token(TokenId token, std::string_view piece) {
  Step st;
  if (done()) {
    st.reason = reason_;
    return st;
  }
  ++n_generated_;
  if (stop_tokens_.count(token) != 0) {
    reason_ = StopReason::kStopToken;
    st.text = matcher_.flush();
  } else {
    StopStringMatcher::Result m = matcher_.feed(piece);
    st.text = std::move(m.text);
    if (m.stopped) {
      reason_ = StopReason::kStopString;
      st.stop_string = m.stop_index;
    } else if (cond_.max_tokens > 0 && n_generated_ >= cond_.max_tokens) {
      reason_ = StopReason::kLength;
      st.text += matcher_.flush();
    }
  }
  st.reason = reason_;
  return st;
}

std::string StopChecker::finish(StopReason reason) {
  if (!done()) reason_ = reason;
  return matcher_.flush();
}

}  // namespace quarrel::sampling
