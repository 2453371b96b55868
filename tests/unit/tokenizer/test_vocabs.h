#pragma once
// Small in-memory vocabularies for the tokenizer unit tests.
#include "tokenizer/vocab.h"

namespace quarrel::tokenizer::testing {

// SentencePiece BPE: <unk> <s> </s>, the 256 byte tokens, pieces for "hello world" and "é",
// a control token "<|ctl|>" and a user-defined token "<tag>".
Vocab tiny_spm();
// Byte-level BPE ("gpt-2" rules): the 256 byte characters, merges that build "Ġhello",
// "Ġworld", "hello" and "world", a control token "<|endoftext|>" and a user-defined "<think>".
Vocab tiny_bpe();
// WordPiece: [PAD] [UNK] [CLS] [SEP] [MASK], "▁hello", "▁world", "▁un", "aff", "able", ...
Vocab tiny_wpm();

}  // namespace quarrel::tokenizer::testing
