#pragma once
// Streaming detokenization: tokens go in one at a time, text comes out as soon as it is whole.
// push() never returns part of a UTF-8 character: bytes that start a character the next tokens
// may finish are held back. Everything push() returned, followed by flush(), is byte for byte
// what Tokenizer::decode() gives for the same tokens (with replace_invalid, what
// sanitize_utf8(decode()) gives: ill-formed bytes become U+FFFD, so every chunk is valid UTF-8).
#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace quarrel::tokenizer {

class IncrementalDetokenizer {
 public:
  struct Options {
    bool skip_special = true;      // as decode(ids, skip_special)
    bool replace_invalid = false;  // ill-formed UTF-8 -> U+FFFD
  };

  explicit IncrementalDetokenizer(Tokenizer tok) : IncrementalDetokenizer(std::move(tok), Options{}) {}
  IncrementalDetokenizer(Tokenizer tok, Options opt);

  // Adds a token; returns the text that is ready (possibly empty).
  std::string push(int32_t id);
  // Ends the stream: returns what was held back (an unfinished character).
  std::string flush();
  // Starts a new stream.
  void reset();

  // Bytes held back so far.
  size_t pending() const { return pending_.size(); }

 private:
  Tokenizer tok_;
  Options opt_;
  std::string pending_;
  bool strip_ = false;
};

}  // namespace quarrel::tokenizer
