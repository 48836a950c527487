// Layout kernels: strided copies (transpose, slice, tile, concat), gather, segment sums.
#include <algorithm>
#include <cstring>

#include "kernels.h"
#include "strided.h"
#include "thread-pool.h"

namespace llm2clip {

static const std::initializer_list<napi_typedarray_type> kCopyTypes = {
    napi_float32_array, napi_int32_array, napi_uint32_array, napi_uint8_array, napi_int8_array,
    napi_uint8_clamped_array};

template <class T>
static void CopyRows(const StridedSpace& space, const T* src, T* dst) {
  ForEachRow(space, [&](const int64_t* off, int64_t n, const int64_t* last) {
    const T* s = src + off[0];
    T* d = dst + off[1];
    if (last[0] == 1 && last[1] == 1) {
      std::memcpy(d, s, static_cast<size_t>(n) * sizeof(T));
    } else if (last[0] == 0 && last[1] == 1) {
      std::fill(d, d + n, s[0]);
    } else {
      for (int64_t i = 0; i < n; ++i) d[i * last[1]] = s[i * last[0]];
    }
  });
}

Napi::Value CopyStrided(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 7) ThrowType(env, "copyStrided: expected 7 arguments");
  const ArrayArg src = GetArray(env, info[0], "copyStrided: src", kCopyTypes);
  const int64_t srcStart = GetIndex(env, info[1], "copyStrided: srcStart");
  const std::vector<int64_t> srcStrides = GetIndexArray(env, info[2], "copyStrided: srcStrides");
  const ArrayArg dst = GetArray(env, info[3], "copyStrided: dst", kCopyTypes);
  const int64_t dstStart = GetIndex(env, info[4], "copyStrided: dstStart");
  const std::vector<int64_t> dstStrides = GetIndexArray(env, info[5], "copyStrided: dstStrides");
  const std::vector<int64_t> shape = GetIndexArray(env, info[6], "copyStrided: shape");
  if (src.elementSize != dst.elementSize) ThrowType(env, "copyStrided: src and dst element sizes differ");
  const StridedSpace space = MakeSpace(env, shape, {srcStrides, dstStrides}, {srcStart, dstStart},
                                       {src.length, dst.length}, {"copyStrided: src", "copyStrided: dst"});
  if (src.elementSize == 4) {
    CopyRows(space, reinterpret_cast<const uint32_t*>(src.data), reinterpret_cast<uint32_t*>(dst.data));
  } else {
    CopyRows(space, reinterpret_cast<const uint8_t*>(src.data), reinterpret_cast<uint8_t*>(dst.data));
  }
  return env.Undefined();
}

Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6) ThrowType(env, "gather: expected 6 arguments");
  const ArrayArg x = GetArray(env, info[0], "gather: x", {napi_float32_array, napi_int32_array});
  const int64_t outer = GetIndex(env, info[1], "gather: outer");
  const int64_t dim = GetIndex(env, info[2], "gather: dim");
  const int64_t inner = GetIndex(env, info[3], "gather: inner");
  const ArrayArg indices = GetArray(env, info[4], "gather: indices", {napi_int32_array});
  const ArrayArg out = GetArray(env, info[5], "gather: out", {napi_float32_array, napi_int32_array});
  if (x.type != out.type) ThrowType(env, "gather: x and out differ in type");
  int64_t xCount, outCount;
  if (__builtin_mul_overflow(outer * inner, dim, &xCount) ||
      __builtin_mul_overflow(outer * inner, indices.length, &outCount) || xCount != x.length ||
      outCount != out.length) {
    ThrowRange(env, "gather: x or out has the wrong length");
  }
  const int32_t* ids = reinterpret_cast<const int32_t*>(indices.data);
  for (int64_t i = 0; i < indices.length; ++i) {
    if (ids[i] < 0 || ids[i] >= dim) {
      ThrowRange(env, "gather: index " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                          " is not in [0, " + std::to_string(dim) + ")");
    }
  }
  const uint32_t* px = reinterpret_cast<const uint32_t*>(x.data);
  uint32_t* po = reinterpret_cast<uint32_t*>(out.data);
  const int64_t count = indices.length;
  ParallelFor(outer * count, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, inner)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t o = r / count;
      const int64_t i = r % count;
      std::memcpy(po + r * inner, px + (o * dim + ids[i]) * inner, static_cast<size_t>(inner) * 4);
    }
  });
  return env.Undefined();
}

Napi::Value SegmentSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5) ThrowType(env, "segmentSum: expected 5 arguments");
  const ArrayArg x = GetArray(env, info[0], "segmentSum: x", {napi_float32_array});
  const ArrayArg ids = GetArray(env, info[1], "segmentSum: ids", {napi_int32_array});
  const int64_t segments = GetIndex(env, info[2], "segmentSum: numSegments");
  const int64_t inner = GetIndex(env, info[3], "segmentSum: inner");
  const ArrayArg out = GetArray(env, info[4], "segmentSum: out", {napi_float32_array});
  int64_t xCount, outCount;
  if (__builtin_mul_overflow(ids.length, inner, &xCount) || __builtin_mul_overflow(segments, inner, &outCount) ||
      xCount != x.length || outCount != out.length) {
    ThrowRange(env, "segmentSum: x or out has the wrong length");
  }
  const float* px = reinterpret_cast<const float*>(x.data);
  const int32_t* pi = reinterpret_cast<const int32_t*>(ids.data);
  float* po = reinterpret_cast<float*>(out.data);
  std::fill(po, po + outCount, 0.0f);
  ParallelFor(inner, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = 0; i < ids.length; ++i) {
      const int64_t s = pi[i];
      if (s < 0 || s >= segments) continue;
      const float* src = px + i * inner;
      float* dst = po + s * inner;
      for (int64_t j = begin; j < end; ++j) dst[j] += src[j];
    }
  });
  return env.Undefined();
}

}  // namespace llm2clip
