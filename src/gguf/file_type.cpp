#include "gguf/file_type.h"

#include <array>
#include <cctype>
#include <string>

namespace quarrel::gguf {
namespace {

struct FileType {
  uint32_t id;
  std::string_view name;
};

// llama.cpp's enum llama_ftype (removed numbers are left out).
constexpr std::array kFileTypes = {
    FileType{0, "ALL_F32"},          FileType{1, "MOSTLY_F16"},       FileType{2, "MOSTLY_Q4_0"},
    FileType{3, "MOSTLY_Q4_1"},      FileType{7, "MOSTLY_Q8_0"},      FileType{8, "MOSTLY_Q5_0"},
    FileType{9, "MOSTLY_Q5_1"},      FileType{10, "MOSTLY_Q2_K"},     FileType{11, "MOSTLY_Q3_K_S"},
    FileType{12, "MOSTLY_Q3_K_M"},   FileType{13, "MOSTLY_Q3_K_L"},   FileType{14, "MOSTLY_Q4_K_S"},
    FileType{15, "MOSTLY_Q4_K_M"},   FileType{16, "MOSTLY_Q5_K_S"},   FileType{17, "MOSTLY_Q5_K_M"},
    FileType{18, "MOSTLY_Q6_K"},     FileType{19, "MOSTLY_IQ2_XXS"},  FileType{20, "MOSTLY_IQ2_XS"},
    FileType{21, "MOSTLY_Q2_K_S"},   FileType{22, "MOSTLY_IQ3_XS"},   FileType{23, "MOSTLY_IQ3_XXS"},
    FileType{24, "MOSTLY_IQ1_S"},    FileType{25, "MOSTLY_IQ4_NL"},   FileType{26, "MOSTLY_IQ3_S"},
    FileType{27, "MOSTLY_IQ3_M"},    FileType{28, "MOSTLY_IQ2_S"},    FileType{29, "MOSTLY_IQ2_M"},
    FileType{30, "MOSTLY_IQ4_XS"},   FileType{31, "MOSTLY_IQ1_M"},    FileType{32, "MOSTLY_BF16"},
    FileType{36, "MOSTLY_TQ1_0"},    FileType{37, "MOSTLY_TQ2_0"},    FileType{38, "MOSTLY_MXFP4_MOE"},
    FileType{1024, "GUESSED"},
};

}  // namespace

std::optional<std::string_view> file_type_name(uint32_t ftype) {
  for (const auto& f : kFileTypes)
    if (f.id == ftype) return f.name;
  return std::nullopt;
}

std::optional<uint32_t> file_type_from_name(std::string_view name) {
  std::string up(name);
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& f : kFileTypes) {
    if (f.name == up) return f.id;
    for (std::string_view prefix : {"MOSTLY_", "ALL_"})
      if (f.name.starts_with(prefix) && f.name.substr(prefix.size()) == up) return f.id;
  }
  return std::nullopt;
}

}  // namespace quarrel::gguf
