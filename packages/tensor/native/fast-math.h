// Vectorisable float32 math used by the element-wise kernels. FastExp follows Cephes expf (range
// reduction by ln 2, degree-5 polynomial, about 1 ulp); tanh and erf follow tfjs-backend-cpu's
// formulas (Cephes tanhf; Abramowitz–Stegun 7.1.26 for erf) so both backends agree closely.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace llm2clip {

inline float FastExp(float x) {
  const float kMax = 88.72283905206835f;
  const float kMin = -87.33654475055310f;
  const float clamped = x > kMax ? kMax : (x < kMin ? kMin : x);
  // Round to nearest with the 1.5 * 2^23 trick: floor() is a library call on baseline x86-64
  // (no SSE4.1) and would stop the loops from vectorising.
  const float kRound = 12582912.0f;
  const float n = (clamped * 1.44269504088896341f + kRound) - kRound;
  float r = clamped - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r2 + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  float result = p * scale;
  result = x > kMax ? std::numeric_limits<float>::infinity() : result;
  result = x < -103.0f ? 0.0f : result;
  return x != x ? x : result;
}

inline float FastSigmoid(float x) { return 1.0f / (1.0f + FastExp(-x)); }

inline float FastTanh(float x) {
  const float z = std::fabs(x);
  float result;
  if (z < 0.625f) {
    const float s = x * x;
    result = ((((-5.70498872745E-3f * s + 2.06390887954E-2f) * s - 5.37397155531E-2f) * s +
               1.33314422036E-1f) * s - 3.33332819422E-1f) * s * x + x;
  } else {
    const float e = FastExp(2.0f * z);
    const float t = 1.0f - 2.0f / (e + 1.0f);
    result = x < 0.0f ? -t : t;
  }
  return result;
}

inline float FastErf(float x) {
  const float p = 0.3275911f;
  const float a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f,
              a5 = 1.061405429f;
  const float v = std::fabs(x);
  const float t = 1.0f / (1.0f + p * v);
  const float y = 1.0f - (((((a5 * t + a4) * t) + a3) * t + a2) * t + a1) * t * FastExp(-v * v);
  return x < 0.0f ? -y : y;
}

}  // namespace llm2clip
