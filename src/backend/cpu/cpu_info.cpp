#include "backend/cpu/cpu_info.h"

#include <cpuid.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace quarrel::cpu {
namespace {

uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 1) {
    __cpuid(1, a, b, c, d);
    f.sse42 = (c >> 20) & 1;
    f.fma = (c >> 12) & 1;
    f.f16c = (c >> 29) & 1;
    const bool osxsave = (c >> 27) & 1;
    f.avx = (c >> 28) & 1;
    if (osxsave) {
      const uint64_t xcr0 = read_xcr0();
      f.os_ymm = (xcr0 & 0x6) == 0x6;             // SSE + AVX state
      f.os_zmm = f.os_ymm && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
    }
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = (b >> 5) & 1;
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512vnni = (c >> 11) & 1;
    __cpuid_count(7, 1, a, b, c, d);
    f.avx_vnni = (a >> 4) & 1;
    f.avx512bf16 = (a >> 5) & 1;
  }
  if (__get_cpuid_max(0x80000000u, nullptr) >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      unsigned r[4];
      __cpuid(0x80000002u + leaf, r[0], r[1], r[2], r[3]);
      std::memcpy(brand + 16 * leaf, r, 16);
    }
    std::string s(brand);
    const auto first = s.find_first_not_of(' ');
    const auto last = s.find_last_not_of(' ');
    f.brand = first == std::string::npos ? "" : s.substr(first, last - first + 1);
  }
  return f;
}

std::atomic<int> g_level{-1};
std::mutex g_level_mu;

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

std::string_view level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::kScalar: return "scalar";
    case CpuLevel::kAvx2: return "avx2";
    case CpuLevel::kAvx512: return "avx512";
  }
  return "?";
}

std::optional<CpuLevel> parse_level(std::string_view name) {
  if (name == "scalar") return CpuLevel::kScalar;
  if (name == "avx2") return CpuLevel::kAvx2;
  if (name == "avx512") return CpuLevel::kAvx512;
  return std::nullopt;
}

bool level_supported(CpuLevel level, std::string* why_not) {
  return level_supported_by(cpu_features(), level, why_not);
}

bool level_supported_by(const CpuFeatures& f, CpuLevel level, std::string* why_not) {
  std::string missing;
  auto need = [&](bool have, const char* name) {
    if (!have) missing += missing.empty() ? name : std::string(" ") + name;
  };
  if (level >= CpuLevel::kAvx2) {
    need(f.avx2, "avx2");
    need(f.fma, "fma");
    need(f.f16c, "f16c");
    need(f.os_ymm, "os-ymm-state");
  }
  if (level >= CpuLevel::kAvx512) {
    need(f.avx512f, "avx512f");
    need(f.avx512bw, "avx512bw");
    need(f.avx512vl, "avx512vl");
    need(f.avx512dq, "avx512dq");
    need(f.avx512vnni, "avx512vnni");
    need(f.os_zmm, "os-zmm-state");
  }
  if (why_not) *why_not = missing;
  return missing.empty();
}

CpuLevel best_level() { return best_level_of(cpu_features()); }

CpuLevel best_level_of(const CpuFeatures& f) {
  if (level_supported_by(f, CpuLevel::kAvx512)) return CpuLevel::kAvx512;
  if (level_supported_by(f, CpuLevel::kAvx2)) return CpuLevel::kAvx2;
  return CpuLevel::kScalar;
}

void set_active_level(CpuLevel level) {
  std::string why;
  if (!level_supported(level, &why)) {
    fail(ErrorCode::kUnsupported, "CPU kernel level '{}' needs {}, which this CPU does not have",
         level_name(level), why);
  }
  g_level.store(static_cast<int>(level));
}

CpuLevel level_from_env(const char* value) { return level_from_env(value, cpu_features()); }

CpuLevel level_from_env(const char* value, const CpuFeatures& f) {
  const CpuLevel best = best_level_of(f);
  if (!value || !*value) return best;
  const auto want = parse_level(value);
  if (!want) {
    fail(ErrorCode::kInvalidArgument, "QUARREL_CPU='{}' is not a kernel level (scalar, avx2, avx512)", value);
  }
  std::string why;
  if (!level_supported_by(f, *want, &why)) {
    fail(ErrorCode::kUnsupported, "QUARREL_CPU={} needs {}, which this CPU does not have (best level: {})", value, why,
         level_name(best));
  }
  return *want;
}

CpuLevel active_level() {
  const int l = g_level.load(std::memory_order_relaxed);
  if (l >= 0) return static_cast<CpuLevel>(l);
  std::lock_guard lk(g_level_mu);
  if (g_level.load() >= 0) return static_cast<CpuLevel>(g_level.load());
  const CpuLevel level = level_from_env(std::getenv("QUARREL_CPU"));
  g_level.store(static_cast<int>(level));
  return level;
}

std::string cpu_info_summary() {
  const auto& f = cpu_features();
  std::string feats;
  auto add = [&](bool have, const char* name) {
    if (have) feats += feats.empty() ? name : std::string(" ") + name;
  };
  add(f.avx2 && f.os_ymm, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx_vnni, "avx_vnni");
  add(f.avx512f && f.os_zmm, "avx512f");
  add(f.avx512bw && f.os_zmm, "avx512bw");
  add(f.avx512vl && f.os_zmm, "avx512vl");
  add(f.avx512dq && f.os_zmm, "avx512dq");
  add(f.avx512vnni && f.os_zmm, "avx512vnni");
  add(f.avx512bf16 && f.os_zmm, "avx512bf16");
  return fmt::format("{}; features: {}; kernels: {}", f.brand.empty() ? "unknown CPU" : f.brand,
                     feats.empty() ? "baseline" : feats, level_name(active_level()));
}

}  // namespace quarrel::cpu
