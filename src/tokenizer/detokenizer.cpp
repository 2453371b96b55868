#include "tokenizer/detokenizer.h"

#include "tokenizer/unicode.h"

namespace quarrel::tokenizer {

IncrementalDetokenizer::IncrementalDetokenizer(Tokenizer tok, Options opt)
    : tok_(std::move(tok)), opt_(opt), strip_(tok_.decode_strips_leading_space()) {}

void IncrementalDetokenizer::reset() {
  pending_.clear();
  strip_ = tok_.decode_strips_leading_space();
}

std::string IncrementalDetokenizer::push(int32_t id) {
  std::string piece = tok_.token_to_piece(id, !opt_.skip_special);
  if (strip_ && !piece.empty()) {  // decode()'s leading-space rule
    strip_ = false;
    if (piece[0] == ' ') piece.erase(0, 1);
  }
  pending_ += piece;
  const size_t hold = incomplete_utf8_tail(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return opt_.replace_invalid ? sanitize_utf8(ready) : ready;
}

std::string IncrementalDetokenizer::flush() {
  std::string rest = std::move(pending_);
  pending_.clear();
  return opt_.replace_invalid ? sanitize_utf8(rest) : rest;
}

}  // namespace quarrel::tokenizer
