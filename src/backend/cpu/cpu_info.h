#pragma once
// CPU feature detection (CPUID / XGETBV) and the kernel level chosen at run time.
//
// Levels: scalar (baseline x86-64), avx2 (AVX2 + FMA + F16C), avx512 (AVX-512 F/BW/VL/DQ/VNNI
// on top of avx2). The active level is the best one the CPU and the OS support, lowered by the
// environment variable QUARREL_CPU=scalar|avx2|avx512; asking for a level the machine lacks (or
// an unknown name) is an Error naming the missing features.
#include <optional>
#include <string>
#include <string_view>

namespace quarrel::cpu {

enum class CpuLevel : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  std::string brand;  // "AMD EPYC 9B45", from CPUID leaves 0x80000002..4
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx512bf16 = false, avx_vnni = false;
  bool os_ymm = false;  // XCR0 enables the YMM state (the OS saves AVX registers)
  bool os_zmm = false;  // XCR0 enables the opmask and ZMM states
};

// Detected once; cheap afterwards.
const CpuFeatures& cpu_features();

std::string_view level_name(CpuLevel level);
std::optional<CpuLevel> parse_level(std::string_view name);  // "scalar" | "avx2" | "avx512"

// Whether this CPU (and OS) can run the kernels of that level; if not and why_not is given,
// it receives the missing features ("avx512bw avx512vnni").
bool level_supported(CpuLevel level, std::string* why_not = nullptr);
CpuLevel best_level();
// The same for a given feature set (tests: a CPU without AVX-512).
bool level_supported_by(const CpuFeatures& f, CpuLevel level, std::string* why_not = nullptr);
CpuLevel best_level_of(const CpuFeatures& f);

// The level QUARREL_CPU asks for (value: its text; null or empty: best_level()). Throws
// Error(kInvalidArgument) for an unknown name, Error(kUnsupported) for a level this CPU lacks.
CpuLevel level_from_env(const char* value);
CpuLevel level_from_env(const char* value, const CpuFeatures& f);

// The level the kernels run at (QUARREL_CPU applied; throws Error on a bad value).
CpuLevel active_level();
// Forces a level (tests, benchmarks); throws Error(kUnsupported) if the CPU lacks it.
void set_active_level(CpuLevel level);

// One line for `quarrel bench` / logs: brand, features, chosen level.
// "AMD EPYC; features: avx2 fma f16c avx512f avx512bw avx512vl avx512dq avx512vnni; kernels: avx512"
std::string cpu_info_summary();

}  // namespace quarrel::cpu
