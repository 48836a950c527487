// Element-wise kernels: broadcasting binary ops, unary ops, select.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "fast-math.h"
#include "strided.h"
#include "thread-pool.h"

namespace llm2clip {
namespace {

// Binary op codes (BINARY_OPS in src/backend/native-ops.ts).
enum BinaryOp {
  kAdd = 0, kSub, kMul, kDiv, kMaximum, kMinimum, kSquaredDifference, kPow,
  kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual, kBinaryOpCount
};
constexpr int kFirstComparison = kGreater;

// Unary op codes (UNARY_OPS in src/backend/native-ops.ts).
enum UnaryOp {
  kNeg = 0, kExp, kLog, kSqrt, kRsqrt, kSquare, kTanh, kSigmoid, kErf, kAbs, kRelu, kReciprocal,
  kSin, kCos, kLog1p, kExpm1, kElu, kRelu6, kStep, kLeakyRelu, kClip, kFloor, kCeil, kUnaryOpCount
};

template <class Out, class F>
inline void BinaryRow(const float* a, int64_t sa, const float* b, int64_t sb, Out* o, int64_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class Out, class F>
void RunBinary(const StridedSpace& space, const float* a, const float* b, Out* out, F f) {
  ForEachRow(space, [&](const int64_t* off, int64_t n, const int64_t* last) {
    BinaryRow(a + off[0], last[0], b + off[1], last[1], out + off[2], n, f);
  });
}

inline float NanMax(float x, float y) {
  if (x != x || y != y) return std::numeric_limits<float>::quiet_NaN();
  return x > y ? x : y;
}

inline float NanMin(float x, float y) {
  if (x != x || y != y) return std::numeric_limits<float>::quiet_NaN();
  return x < y ? x : y;
}

template <class F>
void UnaryLoop(const float* x, float* out, int64_t n, F f) {
  ParallelFor(n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = f(x[i]);
  });
}

}  // namespace

Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 9) ThrowType(env, "binary: expected 9 arguments");
  const int64_t op = GetIndex(env, info[0], "binary: op");
  if (op >= kBinaryOpCount) ThrowRange(env, "binary: unknown op " + std::to_string(op));
  const bool comparison = op >= kFirstComparison;
  const ArrayArg a = GetArray(env, info[1], "binary: a", {napi_float32_array});
  const int64_t aStart = GetIndex(env, info[2], "binary: aStart");
  const std::vector<int64_t> aStrides = GetIndexArray(env, info[3], "binary: aStrides");
  const ArrayArg b = GetArray(env, info[4], "binary: b", {napi_float32_array});
  const int64_t bStart = GetIndex(env, info[5], "binary: bStart");
  const std::vector<int64_t> bStrides = GetIndexArray(env, info[6], "binary: bStrides");
  const ArrayArg out = comparison ? GetArray(env, info[7], "binary: out", {napi_uint8_array})
                                  : GetArray(env, info[7], "binary: out", {napi_float32_array});
  const std::vector<int64_t> shape = GetIndexArray(env, info[8], "binary: outShape");
  std::vector<int64_t> outStrides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    outStrides[d] = stride;
    stride *= shape[d];
  }
  const StridedSpace space = MakeSpace(env, shape, {aStrides, bStrides, outStrides}, {aStart, bStart, 0},
                                       {a.length, b.length, out.length}, {"binary: a", "binary: b", "binary: out"});
  const float* pa = reinterpret_cast<const float*>(a.data);
  const float* pb = reinterpret_cast<const float*>(b.data);
  float* po = reinterpret_cast<float*>(out.data);
  uint8_t* pc = reinterpret_cast<uint8_t*>(out.data);
  switch (op) {
    case kAdd: RunBinary(space, pa, pb, po, [](float x, float y) { return x + y; }); break;
    case kSub: RunBinary(space, pa, pb, po, [](float x, float y) { return x - y; }); break;
    case kMul: RunBinary(space, pa, pb, po, [](float x, float y) { return x * y; }); break;
    case kDiv: RunBinary(space, pa, pb, po, [](float x, float y) { return x / y; }); break;
    case kMaximum: RunBinary(space, pa, pb, po, [](float x, float y) { return NanMax(x, y); }); break;
    case kMinimum: RunBinary(space, pa, pb, po, [](float x, float y) { return NanMin(x, y); }); break;
    case kSquaredDifference:
      RunBinary(space, pa, pb, po, [](float x, float y) { return (x - y) * (x - y); });
      break;
    case kPow: RunBinary(space, pa, pb, po, [](float x, float y) { return std::pow(x, y); }); break;
    case kGreater: RunBinary(space, pa, pb, pc, [](float x, float y) -> uint8_t { return x > y; }); break;
    case kGreaterEqual: RunBinary(space, pa, pb, pc, [](float x, float y) -> uint8_t { return x >= y; }); break;
    case kLess: RunBinary(space, pa, pb, pc, [](float x, float y) -> uint8_t { return x < y; }); break;
    case kLessEqual: RunBinary(space, pa, pb, pc, [](float x, float y) -> uint8_t { return x <= y; }); break;
    case kEqual: RunBinary(space, pa, pb, pc, [](float x, float y) -> uint8_t { return x == y; }); break;
    case kNotEqual: RunBinary(space, pa, pb, pc, [](float x, float y) -> uint8_t { return x != y; }); break;
  }
  return env.Undefined();
}

Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5) ThrowType(env, "unary: expected 5 arguments");
  const int64_t op = GetIndex(env, info[0], "unary: op");
  if (op >= kUnaryOpCount) ThrowRange(env, "unary: unknown op " + std::to_string(op));
  const ArrayArg x = GetArray(env, info[1], "unary: x", {napi_float32_array});
  const ArrayArg out = GetArray(env, info[2], "unary: out", {napi_float32_array});
  const float alpha = static_cast<float>(GetNumber(env, info[3], "unary: alpha"));
  const float beta = static_cast<float>(GetNumber(env, info[4], "unary: beta"));
  if (x.length != out.length) ThrowRange(env, "unary: x and out differ in length");
  const float* px = reinterpret_cast<const float*>(x.data);
  float* po = reinterpret_cast<float*>(out.data);
  const int64_t n = x.length;
  switch (op) {
    case kNeg: UnaryLoop(px, po, n, [](float v) { return -v; }); break;
    case kExp: UnaryLoop(px, po, n, [](float v) { return FastExp(v); }); break;
    case kLog: UnaryLoop(px, po, n, [](float v) { return std::log(v); }); break;
    case kSqrt: UnaryLoop(px, po, n, [](float v) { return std::sqrt(v); }); break;
    case kRsqrt: UnaryLoop(px, po, n, [](float v) { return 1.0f / std::sqrt(v); }); break;
    case kSquare: UnaryLoop(px, po, n, [](float v) { return v * v; }); break;
    case kTanh: UnaryLoop(px, po, n, [](float v) { return FastTanh(v); }); break;
    case kSigmoid: UnaryLoop(px, po, n, [](float v) { return FastSigmoid(v); }); break;
    case kErf: UnaryLoop(px, po, n, [](float v) { return FastErf(v); }); break;
    case kAbs: UnaryLoop(px, po, n, [](float v) { return std::fabs(v); }); break;
    case kRelu: UnaryLoop(px, po, n, [](float v) { return v < 0.0f ? 0.0f : v; }); break;
    case kReciprocal: UnaryLoop(px, po, n, [](float v) { return 1.0f / v; }); break;
    case kSin: UnaryLoop(px, po, n, [](float v) { return std::sin(v); }); break;
    case kCos: UnaryLoop(px, po, n, [](float v) { return std::cos(v); }); break;
    case kLog1p: UnaryLoop(px, po, n, [](float v) { return std::log1p(v); }); break;
    case kExpm1: UnaryLoop(px, po, n, [](float v) { return std::expm1(v); }); break;
    case kElu: UnaryLoop(px, po, n, [](float v) { return v >= 0.0f ? v : std::expm1(v); }); break;
    case kRelu6:
      UnaryLoop(px, po, n, [](float v) { return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v); });
      break;
    case kStep:
      UnaryLoop(px, po, n, [alpha](float v) { return v != v ? v : (v > 0.0f ? 1.0f : alpha); });
      break;
    case kLeakyRelu: UnaryLoop(px, po, n, [alpha](float v) { return v < 0.0f ? alpha * v : v; }); break;
    case kClip:
      UnaryLoop(px, po, n, [alpha, beta](float v) { return v > beta ? beta : (v < alpha ? alpha : v); });
      break;
    case kFloor: UnaryLoop(px, po, n, [](float v) { return std::floor(v); }); break;
    case kCeil: UnaryLoop(px, po, n, [](float v) { return std::ceil(v); }); break;
  }
  return env.Undefined();
}

Napi::Value Select(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) ThrowType(env, "select: expected 4 arguments");
  const ArrayArg cond = GetArray(env, info[0], "select: condition", {napi_uint8_array});
  const ArrayArg t = GetArray(env, info[1], "select: t", {napi_float32_array});
  const ArrayArg e = GetArray(env, info[2], "select: e", {napi_float32_array});
  const ArrayArg out = GetArray(env, info[3], "select: out", {napi_float32_array});
  if (cond.length != out.length || t.length != out.length || e.length != out.length) {
    ThrowRange(env, "select: operands differ in length");
  }
  const uint8_t* pc = reinterpret_cast<const uint8_t*>(cond.data);
  const float* pt = reinterpret_cast<const float*>(t.data);
  const float* pe = reinterpret_cast<const float*>(e.data);
  float* po = reinterpret_cast<float*>(out.data);
  ParallelFor(out.length, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) po[i] = pc[i] != 0 ? pt[i] : pe[i];
  });
  return env.Undefined();
}

}  // namespace llm2clip
