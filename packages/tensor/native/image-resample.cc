// Pillow's 8-bit separable resample pass (Resample.c, `ImagingResampleHorizontal_8bpc` /
// `ImagingResampleVertical_8bpc`): fixed-point taps computed by the caller (so the JS fallback and
// this kernel share one tap table), int32 accumulation from 1 << 21, clip8 by >> 22 with clamping.
//
// Two call forms of the one exported function `resampleU8`:
//   11 arguments: (src, width, height, channels, outSize, axis 0 | 1, start, count, weight, ksize, out)
//     one pass over a whole image (axis 0 = horizontal, 1 = vertical);
//   20 arguments: (src, srcWidth, srcHeight, channels, left, top, cropWidth, cropHeight, outWidth,
//     outHeight, xStart, xCount, xWeight, xKsize, yStart, yCount, yWeight, yKsize, out, flags)
//     Pillow's `im.crop(box).resize((outWidth, outHeight), BICUBIC)` in one call: both passes read
//     the crop box in place (no copy of the crop), the horizontal pass into a per-thread scratch
//     buffer that is reused between calls. The taps are those of the crop's own size (crop then
//     resize, not Pillow's resize with box=, which places taps differently). A pass whose size does
//     not change is skipped as Pillow skips it. flags bit 0: use the portable scalar kernels only.
//
// The sums are the exact int32 sums of Pillow (in any order: the arithmetic is modular and Pillow's
// result is in range), so the AVX2 kernels, chosen at run time when the CPU has AVX2, give the same
// bytes as the scalar ones and as Pillow: the vertical pass widens bytes to int32 and multiplies by
// the 22-bit weights (vpmulld), the horizontal pass (3 channels) splits each weight into two 16-bit
// halves for vpmaddwd. The binary is built for plain x86-64 (no -march); -DLLM2CLIP_NO_SIMD leaves
// the vector kernels out.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(LLM2CLIP_NO_SIMD)
#define LLM2CLIP_RESAMPLE_AVX2 1
#include <immintrin.h>
#endif

namespace llm2clip {
namespace {

constexpr int kPrecisionBits = 22;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

inline uint8_t Clip8(int32_t sum) {
  if (sum <= 0) return 0;
  if (sum >= (1 << (kPrecisionBits + 8))) return 255;
  return static_cast<uint8_t>(sum >> kPrecisionBits);
}

/** Pixels of one pass: `height` rows of `width` pixels, row `y` at `data + y * rowStride`. */
struct Plane {
  const uint8_t* data;
  int64_t rowStride;
  int width;
  int height;
  int channels;
  const uint8_t* end;  // one past the last byte that may be read (the caller's whole buffer)
};

/** The taps of one axis: output `o` reads inputs start[o] .. start[o] + count[o] - 1 with weight[o * ksize + j]. */
struct Taps {
  const int32_t* start;
  const int32_t* count;
  const int32_t* weight;
  int ksize;
  int outSize;
};

void HorizontalRowsScalar(const Plane& in, const Taps& t, int y0, int y1, uint8_t* out) {
  const int channels = in.channels;
  const int64_t outStride = static_cast<int64_t>(t.outSize) * channels;
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = in.data + static_cast<int64_t>(y) * in.rowStride;
    uint8_t* o = out + static_cast<int64_t>(y) * outStride;
    for (int x = 0; x < t.outSize; ++x) {
      const int32_t* w = t.weight + static_cast<int64_t>(x) * t.ksize;
      const uint8_t* p = row + static_cast<int64_t>(t.start[x]) * channels;
      const int n = t.count[x];
      if (channels == 3) {
        int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
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
          int32_t s = kHalf;
          for (int j = 0; j < n; ++j) s += p[j * channels + c] * w[j];
          *o++ = Clip8(s);
        }
      }
    }
  }
}

void VerticalScalar(const Plane& in, const Taps& t, uint8_t* out, int32_t* acc) {
  const int64_t stride = static_cast<int64_t>(in.width) * in.channels;
  // row-wise accumulation: each tap adds one whole input row (contiguous, vectorisable)
  for (int y = 0; y < t.outSize; ++y) {
    const int32_t* w = t.weight + static_cast<int64_t>(y) * t.ksize;
    const int n = t.count[y];
    std::fill(acc, acc + stride, kHalf);
    for (int j = 0; j < n; ++j) {
      const uint8_t* row = in.data + (static_cast<int64_t>(t.start[y]) + j) * in.rowStride;
      const int32_t wj = w[j];
      for (int64_t i = 0; i < stride; ++i) acc[i] += row[i] * wj;
    }
    uint8_t* o = out + static_cast<int64_t>(y) * stride;
    for (int64_t i = 0; i < stride; ++i) o[i] = Clip8(acc[i]);
  }
}

/** Per-thread scratch (vertical accumulators, the intermediate image), grown and kept between calls. */
template <typename T>
T* Scratch(std::vector<T>& buffer, size_t size) {
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}
thread_local std::vector<int32_t> tAccumulators;
thread_local std::vector<uint8_t> tIntermediate;

#ifdef LLM2CLIP_RESAMPLE_AVX2

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

/**
 * The taps of one axis as 16-bit pairs for `vpmaddwd`: weight w = hi * 2^15 + lo with lo in
 * [0, 2^15), so that sum(p * w) = (sum(p * hi) << 15) + sum(p * lo), each pair product exact in
 * int32 (the final sum is Pillow's modulo 2^32, hence equal). Per output x, `pairs` int32 of
 * (lo[2k] | lo[2k+1] << 16), then as many of the hi halves; odd tap counts are padded with 0.
 */
void SplitTapPairs(const Taps& t, int pairs, std::vector<int32_t>& table) {
  table.assign(static_cast<size_t>(t.outSize) * pairs * 2, 0);
  for (int x = 0; x < t.outSize; ++x) {
    const int32_t* w = t.weight + static_cast<int64_t>(x) * t.ksize;
    int32_t* lo = table.data() + static_cast<int64_t>(x) * pairs * 2;
    int32_t* hi = lo + pairs;
    for (int j = 0; j < t.count[x]; ++j) {
      const uint32_t l = static_cast<uint32_t>(w[j]) & 0x7fffu;
      const uint32_t h = static_cast<uint32_t>(w[j] >> 15) & 0xffffu;  // arithmetic shift: signed high part
      const int shift = (j & 1) * 16;
      lo[j >> 1] = static_cast<int32_t>(static_cast<uint32_t>(lo[j >> 1]) | (l << shift));
      hi[j >> 1] = static_cast<int32_t>(static_cast<uint32_t>(hi[j >> 1]) | (h << shift));
    }
  }
}

thread_local std::vector<int32_t> tTapPairs;

/** Bytes after a tap run that the RGB vector kernel may read (an 8-byte load at its last pair). */
constexpr int64_t kRgbOverread = 5;

/**
 * 3 channels, two rows at a time, two taps per step: one 8-byte load per row holds the taps' two
 * pixels (R G B R G B + 2 bytes read past, weighted 0), shuffled to 16-bit (R R G G B B 0 0) and
 * multiplied-and-added by `vpmaddwd` with the taps' split weights (see SplitTapPairs). Lanes 0..3
 * hold row y's (R, G, B, 0) sums, lanes 4..7 row y + 1's. The caller gives only rows with
 * kRgbOverread readable bytes after their widest tap run.
 */
__attribute__((target("avx2"))) void HorizontalPairsRgbAvx2(const Plane& in, const Taps& t, int y0, int y1, uint8_t* out) {
  const int64_t outStride = static_cast<int64_t>(t.outSize) * 3;
  int maxCount = 0;
  for (int x = 0; x < t.outSize; ++x) maxCount = std::max(maxCount, static_cast<int>(t.count[x]));
  const int pairs = (maxCount + 1) / 2;
  SplitTapPairs(t, pairs, tTapPairs);
  const int32_t* table = tTapPairs.data();
  const __m256i half = _mm256_set1_epi32(kHalf);
  const __m256i spread = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,  //
                                          0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  int y = y0;
  for (; y + 1 < y1; y += 2) {
    const uint8_t* r0 = in.data + static_cast<int64_t>(y) * in.rowStride;
    const uint8_t* r1 = r0 + in.rowStride;
    uint8_t* o0 = out + static_cast<int64_t>(y) * outStride;
    uint8_t* o1 = o0 + outStride;
    for (int x = 0; x < t.outSize; ++x) {
      const int32_t* lo = table + static_cast<int64_t>(x) * pairs * 2;
      const int32_t* hi = lo + pairs;
      const int64_t first = static_cast<int64_t>(t.start[x]) * 3;
      const uint8_t* p0 = r0 + first;
      const uint8_t* p1 = r1 + first;
      const int steps = (t.count[x] + 1) / 2;
      __m256i accLo = _mm256_setzero_si256();
      __m256i accHi = _mm256_setzero_si256();
      for (int k = 0; k < steps; ++k, p0 += 6, p1 += 6) {
        const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p0));
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p1));
        const __m256i px = _mm256_shuffle_epi8(_mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1), spread);
        accLo = _mm256_add_epi32(accLo, _mm256_madd_epi16(px, _mm256_set1_epi32(lo[k])));
        accHi = _mm256_add_epi32(accHi, _mm256_madd_epi16(px, _mm256_set1_epi32(hi[k])));
      }
      __m256i acc = _mm256_add_epi32(_mm256_add_epi32(half, accLo), _mm256_slli_epi32(accHi, 15));
      acc = _mm256_srai_epi32(acc, kPrecisionBits);
      // saturating packs clamp to 0..255 exactly as clip8 does after the shift
      const __m128i packed16 = _mm_packs_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
      const __m128i bytes = _mm_packus_epi16(packed16, packed16);
      const int32_t both0 = _mm_cvtsi128_si32(bytes);
      const int32_t both1 = _mm_extract_epi32(bytes, 1);
      std::memcpy(o0, &both0, 3);
      std::memcpy(o1, &both1, 3);
      o0 += 3;
      o1 += 3;
    }
  }
  if (y < y1) HorizontalRowsScalar(in, t, y, y1, out);
}

/** Whole rows of the output, 32 bytes per step with four accumulators, taps of one output row in registers. */
__attribute__((target("avx2"))) void VerticalAvx2(const Plane& in, const Taps& t, uint8_t* out) {
  const int64_t stride = static_cast<int64_t>(in.width) * in.channels;
  const __m256i half = _mm256_set1_epi32(kHalf);
  for (int y = 0; y < t.outSize; ++y) {
    const int32_t* w = t.weight + static_cast<int64_t>(y) * t.ksize;
    const int n = t.count[y];
    const uint8_t* first = in.data + static_cast<int64_t>(t.start[y]) * in.rowStride;
    uint8_t* o = out + static_cast<int64_t>(y) * stride;
    int64_t i = 0;
    for (; i + 32 <= stride; i += 32) {
      __m256i a0 = half, a1 = half, a2 = half, a3 = half;
      const uint8_t* p = first + i;
      for (int j = 0; j < n; ++j, p += in.rowStride) {
        const __m256i wj = _mm256_set1_epi32(w[j]);
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        const __m128i lo = _mm256_castsi256_si128(v);
        const __m128i hi = _mm256_extracti128_si256(v, 1);
        a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), wj));
        a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), wj));
        a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), wj));
        a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), wj));
      }
      a0 = _mm256_srai_epi32(a0, kPrecisionBits);
      a1 = _mm256_srai_epi32(a1, kPrecisionBits);
      a2 = _mm256_srai_epi32(a2, kPrecisionBits);
      a3 = _mm256_srai_epi32(a3, kPrecisionBits);
      // packs work within 128-bit lanes: (a0, a1) -> [a0lo a1lo | a0hi a1hi], fixed by a permute
      const __m256i s01 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a0, a1), 0xd8);
      const __m256i s23 = _mm256_permute4x64_epi64(_mm256_packs_epi32(a2, a3), 0xd8);
      const __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(s01, s23), 0xd8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), b);
    }
    for (; i < stride; ++i) {
      int32_t s = kHalf;
      const uint8_t* p = first + i;
      for (int j = 0; j < n; ++j, p += in.rowStride) s += *p * w[j];
      o[i] = Clip8(s);
    }
  }
}

#endif  // LLM2CLIP_RESAMPLE_AVX2


void Horizontal(const Plane& in, const Taps& t, uint8_t* out, bool scalar) {
#ifdef LLM2CLIP_RESAMPLE_AVX2
  if (!scalar && in.channels == 3 && HasAvx2()) {
    // rows whose widest tap run leaves kRgbOverread bytes to read after it take the vector kernel
    int64_t maxEnd = 0;
    for (int x = 0; x < t.outSize; ++x) maxEnd = std::max<int64_t>(maxEnd, static_cast<int64_t>(t.start[x]) + t.count[x]);
    int safeRows = in.height;
    while (safeRows > 0 && in.data + static_cast<int64_t>(safeRows - 1) * in.rowStride + maxEnd * 3 + kRgbOverread > in.end) --safeRows;
    HorizontalPairsRgbAvx2(in, t, 0, safeRows, out);
    if (safeRows < in.height) HorizontalRowsScalar(in, t, safeRows, in.height, out);
    return;
  }
#endif
  (void)scalar;
  HorizontalRowsScalar(in, t, 0, in.height, out);
}

void Vertical(const Plane& in, const Taps& t, uint8_t* out, bool scalar) {
#ifdef LLM2CLIP_RESAMPLE_AVX2
  if (!scalar && HasAvx2()) {
    VerticalAvx2(in, t, out);
    return;
  }
#endif
  (void)scalar;
  VerticalScalar(in, t, out, Scratch(tAccumulators, static_cast<size_t>(in.width) * in.channels));
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

Napi::Uint8Array U8Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), std::string("llm2clip_blas.resampleU8: ") + name + " must be a Uint8Array");
  }
  return info[i].As<Napi::Uint8Array>();
}

Napi::Int32Array I32Arg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), std::string("llm2clip_blas.resampleU8: ") + name + " must be an Int32Array");
  }
  return info[i].As<Napi::Int32Array>();
}

/** Checks one axis' taps against the input size and wraps them. */
Taps CheckedTaps(Napi::Env env, const Napi::Int32Array& start, const Napi::Int32Array& count, const Napi::Int32Array& weight, int32_t ksize,
                 int32_t outSize, int32_t inSize, const char* axis) {
  if (static_cast<int64_t>(start.ElementLength()) != outSize || static_cast<int64_t>(count.ElementLength()) != outSize ||
      static_cast<int64_t>(weight.ElementLength()) < static_cast<int64_t>(outSize) * ksize) {
    throw Napi::RangeError::New(env, std::string("llm2clip_blas.resampleU8: ") + axis + " tap array lengths do not match the sizes");
  }
  for (int32_t i = 0; i < outSize; ++i) {
    if (start[i] < 0 || count[i] < 0 || count[i] > ksize || static_cast<int64_t>(start[i]) + count[i] > inSize) {
      throw Napi::RangeError::New(env, std::string("llm2clip_blas.resampleU8: ") + axis + " tap " + std::to_string(i) + " reads outside the input");
    }
  }
  return Taps{start.Data(), count.Data(), weight.Data(), ksize, outSize};
}

Napi::Value ResampleOnePass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = U8Arg(info, 0, "src");
  const int32_t width = IntArg(info, 1, "width");
  const int32_t height = IntArg(info, 2, "height");
  const int32_t channels = IntArg(info, 3, "channels");
  const int32_t outSize = IntArg(info, 4, "outSize");
  const int32_t axis = IntArg(info, 5, "axis");
  auto start = I32Arg(info, 6, "start");
  auto count = I32Arg(info, 7, "count");
  auto weight = I32Arg(info, 8, "weight");
  const int32_t ksize = IntArg(info, 9, "ksize");
  auto out = U8Arg(info, 10, "out");
  if (axis > 1 || channels < 1 || width < 1 || height < 1 || outSize < 1) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: bad sizes or axis");
  }
  const int64_t inPixels = static_cast<int64_t>(width) * height;
  const int64_t outPixels = static_cast<int64_t>(axis == 0 ? outSize : width) * (axis == 0 ? height : outSize);
  if (static_cast<int64_t>(src.ElementLength()) != inPixels * channels || static_cast<int64_t>(out.ElementLength()) != outPixels * channels) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: array lengths do not match the sizes");
  }
  const Taps taps = CheckedTaps(env, start, count, weight, ksize, outSize, axis == 0 ? width : height, axis == 0 ? "horizontal" : "vertical");
  const Plane plane{src.Data(), static_cast<int64_t>(width) * channels, width, height, channels, src.Data() + src.ElementLength()};
  if (axis == 0) {
    Horizontal(plane, taps, out.Data(), false);
  } else {
    Vertical(plane, taps, out.Data(), false);
  }
  return env.Undefined();
}

Napi::Value ResizeCrop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = U8Arg(info, 0, "src");
  const int32_t srcWidth = IntArg(info, 1, "srcWidth");
  const int32_t srcHeight = IntArg(info, 2, "srcHeight");
  const int32_t channels = IntArg(info, 3, "channels");
  const int32_t left = IntArg(info, 4, "left");
  const int32_t top = IntArg(info, 5, "top");
  const int32_t cropWidth = IntArg(info, 6, "cropWidth");
  const int32_t cropHeight = IntArg(info, 7, "cropHeight");
  const int32_t outWidth = IntArg(info, 8, "outWidth");
  const int32_t outHeight = IntArg(info, 9, "outHeight");
  auto xStart = I32Arg(info, 10, "xStart");
  auto xCount = I32Arg(info, 11, "xCount");
  auto xWeight = I32Arg(info, 12, "xWeight");
  const int32_t xKsize = IntArg(info, 13, "xKsize");
  auto yStart = I32Arg(info, 14, "yStart");
  auto yCount = I32Arg(info, 15, "yCount");
  auto yWeight = I32Arg(info, 16, "yWeight");
  const int32_t yKsize = IntArg(info, 17, "yKsize");
  auto out = U8Arg(info, 18, "out");
  const int32_t flags = IntArg(info, 19, "flags");
  if (channels < 1 || srcWidth < 1 || srcHeight < 1 || cropWidth < 1 || cropHeight < 1 || outWidth < 1 || outHeight < 1) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: sizes must be positive");
  }
  if (static_cast<int64_t>(left) + cropWidth > srcWidth || static_cast<int64_t>(top) + cropHeight > srcHeight) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: the crop box does not fit the image");
  }
  if (static_cast<int64_t>(src.ElementLength()) != static_cast<int64_t>(srcWidth) * srcHeight * channels ||
      static_cast<int64_t>(out.ElementLength()) != static_cast<int64_t>(outWidth) * outHeight * channels) {
    throw Napi::RangeError::New(env, "llm2clip_blas.resampleU8: array lengths do not match the sizes");
  }
  const bool scalar = (flags & 1) != 0;
  const bool horizontal = outWidth != cropWidth;
  const bool vertical = outHeight != cropHeight;
  const Taps xTaps = horizontal ? CheckedTaps(env, xStart, xCount, xWeight, xKsize, outWidth, cropWidth, "x") : Taps{};
  const Taps yTaps = vertical ? CheckedTaps(env, yStart, yCount, yWeight, yKsize, outHeight, cropHeight, "y") : Taps{};
  const int64_t srcStride = static_cast<int64_t>(srcWidth) * channels;
  const uint8_t* end = src.Data() + src.ElementLength();
  Plane plane{src.Data() + top * srcStride + static_cast<int64_t>(left) * channels, srcStride, cropWidth, cropHeight, channels, end};
  uint8_t* dst = out.Data();
  if (horizontal) {
    // straight into the output when no vertical pass follows, else into the reused scratch image
    uint8_t* target = vertical ? Scratch(tIntermediate, static_cast<size_t>(outWidth) * cropHeight * channels) : dst;
    Horizontal(plane, xTaps, target, scalar);
    const int64_t stride = static_cast<int64_t>(outWidth) * channels;
    plane = Plane{target, stride, outWidth, cropHeight, channels, target + stride * cropHeight};
  }
  if (vertical) {
    Vertical(plane, yTaps, dst, scalar);
  } else if (!horizontal) {
    const int64_t rowBytes = static_cast<int64_t>(cropWidth) * channels;
    for (int y = 0; y < cropHeight; ++y) std::memcpy(dst + y * rowBytes, plane.data + y * plane.rowStride, rowBytes);
  }
  return env.Undefined();
}

}  // namespace

Napi::Value ResampleU8(const Napi::CallbackInfo& info) {
  if (info.Length() != 11) {
    throw Napi::TypeError::New(info.Env(), "llm2clip_blas.resampleU8: expected (src, width, height, channels, outSize, axis, start, count, weight, ksize, out)");
  }
  return ResampleOnePass(info);
}

Napi::Value ResizeCropU8(const Napi::CallbackInfo& info) {
  if (info.Length() != 20) {
    throw Napi::TypeError::New(info.Env(), "llm2clip_blas.resizeCropU8: expected (src, srcWidth, srcHeight, channels, left, top, cropWidth, cropHeight, outWidth, outHeight, "
                                           "xStart, xCount, xWeight, xKsize, yStart, yCount, yWeight, yKsize, out, flags)");
  }
  return ResizeCrop(info);
}

}  // namespace llm2clip
