// Reductions over the middle dim of [outer, size, inner], and softmax over the last dim.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "fast-math.h"
#include "strided.h"
#include "thread-pool.h"

namespace llm2clip {
namespace {

// Reduction op codes (REDUCE_OPS in src/backend/native-ops.ts).
enum ReduceOp { kSum = 0, kMean, kMax, kMin, kProd, kReduceOpCount };

constexpr int64_t kColumnBlock = 512;

// One output row: out = reduce_s x[s * inner] (inner == 1 case), a strided row sum.
double SumRow(const float* x, int64_t size) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t s = 0;
  for (; s + 8 <= size; s += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += x[s + l];
  }
  double total = 0;
  for (; s < size; ++s) total += x[s];
  for (int l = 0; l < 8; ++l) total += acc[l];
  return total;
}

float ExtremeRow(const float* x, int64_t size, bool max) {
  if (size == 0) return std::numeric_limits<float>::quiet_NaN();
  float m = x[0];
  if (max) {
    for (int64_t s = 0; s < size; ++s) m = (x[s] != x[s] || x[s] > m) ? x[s] : m;
  } else {
    for (int64_t s = 0; s < size; ++s) m = (x[s] != x[s] || x[s] < m) ? x[s] : m;
  }
  return m;
}

}  // namespace

Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6) ThrowType(env, "reduce: expected 6 arguments");
  const int64_t op = GetIndex(env, info[0], "reduce: op");
  if (op >= kReduceOpCount) ThrowRange(env, "reduce: unknown op " + std::to_string(op));
  const ArrayArg x = GetArray(env, info[1], "reduce: x", {napi_float32_array});
  const ArrayArg out = GetArray(env, info[2], "reduce: out", {napi_float32_array});
  const int64_t outer = GetIndex(env, info[3], "reduce: outer");
  const int64_t size = GetIndex(env, info[4], "reduce: size");
  const int64_t inner = GetIndex(env, info[5], "reduce: inner");
  int64_t xCount, outCount;
  if (__builtin_mul_overflow(outer, inner, &outCount) || __builtin_mul_overflow(outCount, size, &xCount)) {
    ThrowRange(env, "reduce: size computation overflows int64");
  }
  if (xCount != x.length || outCount != out.length) {
    ThrowRange(env, "reduce: x holds " + std::to_string(x.length) + " elements and out " +
                        std::to_string(out.length) + ", expected " + std::to_string(xCount) + " and " +
                        std::to_string(outCount));
  }
  const float* px = reinterpret_cast<const float*>(x.data);
  float* po = reinterpret_cast<float*>(out.data);
  if (outCount == 0) return env.Undefined();
  if (inner == 1) {
    ParallelFor(outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, size)), [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        const float* row = px + o * size;
        switch (op) {
          case kSum: po[o] = static_cast<float>(SumRow(row, size)); break;
          case kMean: po[o] = static_cast<float>(SumRow(row, size) / static_cast<double>(size)); break;
          case kMax: po[o] = ExtremeRow(row, size, true); break;
          case kMin: po[o] = ExtremeRow(row, size, false); break;
          case kProd: {
            double p = 1;
            for (int64_t s = 0; s < size; ++s) p *= row[s];
            po[o] = static_cast<float>(p);
            break;
          }
        }
      }
    });
    return env.Undefined();
  }
  // Column reductions: work items are (outer, block of kColumnBlock inner columns).
  const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, size * std::min(inner, kColumnBlock)));
  ParallelFor(outer * blocks, grain, [&](int64_t begin, int64_t end) {
    double acc[kColumnBlock];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t o = item / blocks;
      const int64_t j0 = (item % blocks) * kColumnBlock;
      const int64_t width = std::min(kColumnBlock, inner - j0);
      const float* base = px + o * size * inner + j0;
      float* dst = po + o * inner + j0;
      if (op == kMax || op == kMin) {
        if (size == 0) {
          for (int64_t j = 0; j < width; ++j) dst[j] = std::numeric_limits<float>::quiet_NaN();
          continue;
        }
        for (int64_t j = 0; j < width; ++j) dst[j] = base[j];
        const bool max = op == kMax;
        for (int64_t s = 1; s < size; ++s) {
          const float* row = base + s * inner;
          for (int64_t j = 0; j < width; ++j) {
            const float v = row[j];
            dst[j] = (v != v || (max ? v > dst[j] : v < dst[j])) ? v : dst[j];
          }
        }
        continue;
      }
      const double init = op == kProd ? 1.0 : 0.0;
      for (int64_t j = 0; j < width; ++j) acc[j] = init;
      for (int64_t s = 0; s < size; ++s) {
        const float* row = base + s * inner;
        if (op == kProd) {
          for (int64_t j = 0; j < width; ++j) acc[j] *= row[j];
        } else {
          for (int64_t j = 0; j < width; ++j) acc[j] += row[j];
        }
      }
      const double scale = op == kMean ? 1.0 / static_cast<double>(size) : 1.0;
      for (int64_t j = 0; j < width; ++j) dst[j] = static_cast<float>(op == kMean ? acc[j] * scale : acc[j]);
    }
  });
  return env.Undefined();
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) ThrowType(env, "softmax: expected 4 arguments");
  const ArrayArg x = GetArray(env, info[0], "softmax: x", {napi_float32_array});
  const ArrayArg out = GetArray(env, info[1], "softmax: out", {napi_float32_array});
  const int64_t rows = GetIndex(env, info[2], "softmax: rows");
  const int64_t cols = GetIndex(env, info[3], "softmax: cols");
  int64_t count;
  if (__builtin_mul_overflow(rows, cols, &count) || count != x.length || count != out.length) {
    ThrowRange(env, "softmax: x and out must hold rows * cols elements");
  }
  const float* px = reinterpret_cast<const float*>(x.data);
  float* po = reinterpret_cast<float*>(out.data);
  ParallelFor(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* row = px + r * cols;
      float* dst = po + r * cols;
      const float m = ExtremeRow(row, cols, true);
      for (int64_t j = 0; j < cols; ++j) dst[j] = FastExp(row[j] - m);
      const double total = SumRow(dst, cols);
      const float inv = static_cast<float>(1.0 / total);
      for (int64_t j = 0; j < cols; ++j) dst[j] *= inv;
    }
  });
  return env.Undefined();
}

}  // namespace llm2clip
