// The fused epilogue of _FusedMatMul: bias add, then activation, applied to one m x n output
// matrix in place. Formulas follow tfjs-backend-cpu so both backends agree.
#pragma once

#include <cmath>
#include <cstdint>

namespace llm2clip {

// Same numbering as tfjs-backend-wasm's FusableActivation enum (kernels/types.ts).
enum class Activation : int {
  kLinear = 0,
  kRelu = 1,
  kRelu6 = 2,
  kPrelu = 3,
  kLeakyRelu = 4,
  kSigmoid = 5,
  kElu = 6,
};

constexpr int kActivationCount = 7;

// A broadcast operand restricted to one output matrix: element (i, j) is at
// data[i * rowStride + j * colStride]; data == nullptr means absent.
struct MatrixView {
  const float* data = nullptr;
  int64_t rowStride = 0;
  int64_t colStride = 0;
};

inline void AddBias(float* out, int64_t m, int64_t n, const MatrixView& bias) {
  if (bias.data == nullptr) return;
  if (bias.colStride == 1) {
    for (int64_t i = 0; i < m; ++i) {
      const float* row = bias.data + i * bias.rowStride;
      float* o = out + i * n;
      for (int64_t j = 0; j < n; ++j) o[j] += row[j];
    }
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      out[i * n + j] += bias.data[i * bias.rowStride + j * bias.colStride];
    }
  }
}

inline void ApplyActivation(float* out, int64_t m, int64_t n, Activation activation, float alpha,
                            const MatrixView& prelu) {
  const int64_t size = m * n;
  switch (activation) {
    case Activation::kLinear:
      return;
    case Activation::kRelu:
      // `x < 0 ? 0 : x` keeps NaN, as tfjs does.
      for (int64_t i = 0; i < size; ++i) out[i] = out[i] < 0.0f ? 0.0f : out[i];
      return;
    case Activation::kRelu6:
      for (int64_t i = 0; i < size; ++i) {
        const float v = out[i] < 0.0f ? 0.0f : out[i];
        out[i] = v > 6.0f ? 6.0f : v;
      }
      return;
    case Activation::kLeakyRelu:
      for (int64_t i = 0; i < size; ++i) out[i] = out[i] < 0.0f ? alpha * out[i] : out[i];
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < size; ++i) out[i] = 1.0f / (1.0f + std::exp(-out[i]));
      return;
    case Activation::kElu:
      for (int64_t i = 0; i < size; ++i) out[i] = out[i] >= 0.0f ? out[i] : std::expm1(out[i]);
      return;
    case Activation::kPrelu:
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          float& v = out[i * n + j];
          if (v < 0.0f) v *= prelu.data[i * prelu.rowStride + j * prelu.colStride];
        }
      }
      return;
  }
}

}  // namespace llm2clip
