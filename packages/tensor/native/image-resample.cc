// Pillow's 8-bit separable resample pass (Resample.c, `ImagingResampleHorizontal_8bpc` /
// `ImagingResampleVertical_8bpc`): fixed-point taps computed by the caller (so the JS fallback and
// this kernel share one tap table), int32 accumulation from 1 << 21, clip8 by >> 22 with clamping.
#include <napi.h>

#include <cstdint>
#include <algorithm>
#include <string>
#include <vector>

#include "kernels.h"

namespace llm2clip {
namespace {

constexpr int kPrecisionBits = 22;

inline uint8_t Clip8(int32_t sum) {
  if (sum <= 0) return 0;
  if (sum >= (1 << (kPrecisionBits + 8))) return 255;
  return static_cast<uint8_t>(sum >> kPrecisionBits);
}

void Horizontal(const uint8_t* src, int width, int height, int channels, int outWidth, const int32_t* start,
                const int32_t* count, const int32_t* weight, int ksize, uint8_t* out) {
  for (int y = 0; y < height; ++y) {
    const uint8_t* row = src + static_cast<int64_t>(y) * width * channels;
    uint8_t* o = out + static_cast<int64_t>(y) * outWidth * channels;
    for (int x = 0; x < outWidth; ++x) {
      const int32_t* w = weight + static_cast<int64_t>(x) * ksize;
      const uint8_t* p = row + static_cast<int64_t>(start[x]) * channels;
      const int n = count[x];
      if (channels == 3) {
        int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int j = 0; j < n; ++j, p += 3) {
          s0 += p[0] * w[j];
          s1 += p[1] * w[j];
          s2 += p[2] * w[j];
        }
        o[0] = Clip8(s0);
        o[1] = Clip8(s1);
        o[2] = Clip8(s2);
        o += 3;
      } else {
        for (int c = 0; c < channels; ++c) {
          int32_t s = 1 << (kPrecisionBits - 1);
          for (int j = 0; j < n; ++j) s += p[j * channels + c] * w[j];
          *o++ = Clip8(s);
        }
      }
    }
  }
}

void Vertical(const uint8_t* src, int width, int channels, int outHeight, const int32_t* start, const int32_t* count,
              const int32_t* weight, int ksize, uint8_t* out) {
  const int64_t stride = static_cast<int64_t>(width) * channels;
  // row-wise accumulation: each tap adds one whole input row (contiguous, vectorisable)
  std::vector<int32_t> acc(static_cast<size_t>(stride));
  for (int y = 0; y < outHeight; ++y) {
    const int32_t* w = weight + static_cast<int64_t>(y) * ksize;
    const int n = count[y];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    int32_t* a = acc.data();
    for (int j = 0; j < n; ++j) {
      const uint8_t* row = src + (static_cast<int64_t>(start[y]) + j) * stride;
      const int32_t wj = w[j];
      for (int64_t i = 0; i < stride; ++i) a[i] += row[i] * wj;
    }
    uint8_t* o = out + static_cast<int64_t>(y) * stride;
    for (int64_t i = 0; i < stride; ++i) o[i] = Clip8(a[i]);
  }
}

int32_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string("llm2clip_blas.resampleU8: ") + name + " must be a number");
  }
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 1e9 || static_cast<double>(static_cast<int32_t>(v)) != v) {
    throw Napi::RangeError::New(info.Env(), std::string("llm2clip_blas.resampleU8: ") + name + " must be a non-negative integer");
  }
  return static_cast<int32_t>(v);
}

}  // namespace

Napi::Value ResampleU8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11 || !info[0].IsTypedArray() || !info[6].IsTypedArray() || !info[7].IsTypedArray() ||
      !info[8].IsTypedArray() || !info[10].IsTypedArray()) {
    throw Napi::TypeError::New(env, "llm2clip_blas.resampleU8: expected (src, width, height, channels, outSize, "
                                    "axis, start, count, weight, ksize, out)");
  }
  auto src = info[0].As<Napi::Uint8Array>();
  const int32_t width = IntArg(info, 1, "width");
  const int32_t height = IntArg(info, 2, "height");
  const int32_t channels = IntArg(info, 3, "channels");
  const int32_t outSize = IntArg(info, 4, "outSize");
  const int32_t axis = IntArg(info, 5, "axis");
  auto start = info[6].As<Napi::Int32Array>();
  auto count = info[7].As<Napi::Int32Array>();
  auto weight = info[8].As<Napi::Int32Array>();
  const int32_t ksize = IntArg(info, 9, "ksize");
  auto out = info[10].As<Napi::Uint8Array>();
  if (src.TypedArrayType() != napi_uint8_array || out.TypedArrayType() != napi_uint8_array ||
      start.TypedArrayType() != napi_int32_array || count.TypedArrayType() != napi_int32_array ||
      weight.TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(env, "llm2clip_blas.resampleU8: src/out must be Uint8Array, taps Int32Array");
  }
  if (axis > 1 || channels < 1 || width < 1 || height < 1 || outSize < 1) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: bad sizes or axis");
  }
  const int64_t inPixels = static_cast<int64_t>(width) * height;
  const int64_t outPixels = static_cast<int64_t>(axis == 0 ? outSize : width) * (axis == 0 ? height : outSize);
  const int32_t inSize = axis == 0 ? width : height;
  if (static_cast<int64_t>(src.ElementLength()) != inPixels * channels ||
      static_cast<int64_t>(out.ElementLength()) != outPixels * channels ||
      static_cast<int64_t>(start.ElementLength()) != outSize || static_cast<int64_t>(count.ElementLength()) != outSize ||
      static_cast<int64_t>(weight.ElementLength()) < static_cast<int64_t>(outSize) * ksize) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: array lengths do not match the sizes");
  }
  for (int32_t i = 0; i < outSize; ++i) {
    if (start[i] < 0 || count[i] < 0 || count[i] > ksize || static_cast<int64_t>(start[i]) + count[i] > inSize) {
      throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: tap " + std::to_string(i) + " reads outside the input");
    }
  }
  if (axis == 0) {
    Horizontal(src.Data(), width, height, channels, outSize, start.Data(), count.Data(), weight.Data(), ksize, out.Data());
  } else {
    Vertical(src.Data(), width, channels, outSize, start.Data(), count.Data(), weight.Data(), ksize, out.Data());
  }
  return env.Undefined();
}

}  // namespace llm2clip
