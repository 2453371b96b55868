#pragma once
// Names of well-known GGUF metadata keys, as llama.cpp writes them. Architecture keys are
// suffixes: use GgufFile::arch_key(kContextLength) -> "llama.context_length".
#include <string_view>

namespace quarrel::gguf::keys {

// ---- general.* ----
inline constexpr std::string_view kGeneralArchitecture = "general.architecture";
inline constexpr std::string_view kGeneralQuantizationVersion = "general.quantization_version";
inline constexpr std::string_view kGeneralAlignment = "general.alignment";
inline constexpr std::string_view kGeneralFileType = "general.file_type";
inline constexpr std::string_view kGeneralName = "general.name";
inline constexpr std::string_view kGeneralBasename = "general.basename";
inline constexpr std::string_view kGeneralFinetune = "general.finetune";
inline constexpr std::string_view kGeneralSizeLabel = "general.size_label";
inline constexpr std::string_view kGeneralAuthor = "general.author";
inline constexpr std::string_view kGeneralVersion = "general.version";
inline constexpr std::string_view kGeneralOrganization = "general.organization";
inline constexpr std::string_view kGeneralDescription = "general.description";
inline constexpr std::string_view kGeneralLicense = "general.license";
inline constexpr std::string_view kGeneralUrl = "general.url";
inline constexpr std::string_view kGeneralSourceUrl = "general.source.url";
inline constexpr std::string_view kGeneralSourceHfRepo = "general.source.huggingface.repository";
inline constexpr std::string_view kGeneralTags = "general.tags";
inline constexpr std::string_view kGeneralLanguages = "general.languages";

// ---- tokenizer.* ----
inline constexpr std::string_view kTokenizerModel = "tokenizer.ggml.model";  // "llama", "gpt2", "bert", ...
inline constexpr std::string_view kTokenizerPre = "tokenizer.ggml.pre";
inline constexpr std::string_view kTokenizerTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kTokenizerScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kTokenizerTokenType = "tokenizer.ggml.token_type";
inline constexpr std::string_view kTokenizerTokenTypeCount = "tokenizer.ggml.token_type_count";
inline constexpr std::string_view kTokenizerMerges = "tokenizer.ggml.merges";
inline constexpr std::string_view kTokenizerBosId = "tokenizer.ggml.bos_token_id";
inline constexpr std::string_view kTokenizerEosId = "tokenizer.ggml.eos_token_id";
inline constexpr std::string_view kTokenizerEotId = "tokenizer.ggml.eot_token_id";
inline constexpr std::string_view kTokenizerEomId = "tokenizer.ggml.eom_token_id";
inline constexpr std::string_view kTokenizerUnknownId = "tokenizer.ggml.unknown_token_id";
inline constexpr std::string_view kTokenizerSeparatorId = "tokenizer.ggml.seperator_token_id";  // llama.cpp's spelling
inline constexpr std::string_view kTokenizerPaddingId = "tokenizer.ggml.padding_token_id";
inline constexpr std::string_view kTokenizerMaskId = "tokenizer.ggml.mask_token_id";
inline constexpr std::string_view kTokenizerClsId = "tokenizer.ggml.cls_token_id";
inline constexpr std::string_view kTokenizerAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr std::string_view kTokenizerAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr std::string_view kTokenizerAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
inline constexpr std::string_view kTokenizerRemoveExtraWhitespaces = "tokenizer.ggml.remove_extra_whitespaces";
inline constexpr std::string_view kTokenizerPrecompiledCharsmap = "tokenizer.ggml.precompiled_charsmap";
inline constexpr std::string_view kTokenizerFimPreId = "tokenizer.ggml.fim_pre_token_id";
inline constexpr std::string_view kTokenizerFimSufId = "tokenizer.ggml.fim_suf_token_id";
inline constexpr std::string_view kTokenizerFimMidId = "tokenizer.ggml.fim_mid_token_id";
inline constexpr std::string_view kTokenizerChatTemplate = "tokenizer.chat_template";
inline constexpr std::string_view kTokenizerHfJson = "tokenizer.huggingface.json";

// ---- <arch>.* suffixes (use with GgufFile::arch_key) ----
inline constexpr std::string_view kVocabSize = "vocab_size";
inline constexpr std::string_view kContextLength = "context_length";
inline constexpr std::string_view kEmbeddingLength = "embedding_length";
inline constexpr std::string_view kBlockCount = "block_count";
inline constexpr std::string_view kFeedForwardLength = "feed_forward_length";
inline constexpr std::string_view kExpertFeedForwardLength = "expert_feed_forward_length";
inline constexpr std::string_view kExpertSharedFeedForwardLength = "expert_shared_feed_forward_length";
inline constexpr std::string_view kUseParallelResidual = "use_parallel_residual";
inline constexpr std::string_view kTensorDataLayout = "tensor_data_layout";
inline constexpr std::string_view kExpertCount = "expert_count";
inline constexpr std::string_view kExpertUsedCount = "expert_used_count";
inline constexpr std::string_view kExpertSharedCount = "expert_shared_count";
inline constexpr std::string_view kExpertWeightsScale = "expert_weights_scale";
inline constexpr std::string_view kExpertWeightsNorm = "expert_weights_norm";
inline constexpr std::string_view kExpertGatingFunc = "expert_gating_func";
inline constexpr std::string_view kLeadingDenseBlockCount = "leading_dense_block_count";
inline constexpr std::string_view kPoolingType = "pooling_type";
inline constexpr std::string_view kLogitScale = "logit_scale";
inline constexpr std::string_view kFinalLogitSoftcapping = "final_logit_softcapping";
inline constexpr std::string_view kEmbeddingScale = "embedding_scale";
inline constexpr std::string_view kResidualScale = "residual_scale";

inline constexpr std::string_view kAttentionHeadCount = "attention.head_count";
inline constexpr std::string_view kAttentionHeadCountKv = "attention.head_count_kv";
inline constexpr std::string_view kAttentionMaxAlibiBias = "attention.max_alibi_bias";
inline constexpr std::string_view kAttentionClampKqv = "attention.clamp_kqv";
inline constexpr std::string_view kAttentionKeyLength = "attention.key_length";
inline constexpr std::string_view kAttentionValueLength = "attention.value_length";
inline constexpr std::string_view kAttentionLayerNormEpsilon = "attention.layer_norm_epsilon";
inline constexpr std::string_view kAttentionLayerNormRmsEpsilon = "attention.layer_norm_rms_epsilon";
inline constexpr std::string_view kAttentionCausal = "attention.causal";
inline constexpr std::string_view kAttentionQLoraRank = "attention.q_lora_rank";
inline constexpr std::string_view kAttentionKvLoraRank = "attention.kv_lora_rank";
inline constexpr std::string_view kAttentionSlidingWindow = "attention.sliding_window";
inline constexpr std::string_view kAttentionSlidingWindowPattern = "attention.sliding_window_pattern";
inline constexpr std::string_view kAttentionScale = "attention.scale";
inline constexpr std::string_view kAttentionLogitSoftcapping = "attention.attn_logit_softcapping";

inline constexpr std::string_view kRopeDimensionCount = "rope.dimension_count";
inline constexpr std::string_view kRopeDimensionSections = "rope.dimension_sections";
inline constexpr std::string_view kRopeFreqBase = "rope.freq_base";
inline constexpr std::string_view kRopeScaleLinear = "rope.scale_linear";
inline constexpr std::string_view kRopeScalingType = "rope.scaling.type";
inline constexpr std::string_view kRopeScalingFactor = "rope.scaling.factor";
inline constexpr std::string_view kRopeScalingAttnFactor = "rope.scaling.attn_factor";
inline constexpr std::string_view kRopeScalingOrigCtxLen = "rope.scaling.original_context_length";
inline constexpr std::string_view kRopeScalingFinetuned = "rope.scaling.finetuned";
inline constexpr std::string_view kRopeScalingYarnLogMul = "rope.scaling.yarn_log_multiplier";

inline constexpr std::string_view kSsmConvKernel = "ssm.conv_kernel";
inline constexpr std::string_view kSsmInnerSize = "ssm.inner_size";
inline constexpr std::string_view kSsmStateSize = "ssm.state_size";
inline constexpr std::string_view kSsmTimeStepRank = "ssm.time_step_rank";

}  // namespace quarrel::gguf::keys
