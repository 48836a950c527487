// Batched single-precision matrix products through cblas_sgemm on float32 typed arrays, with the
// fused bias + activation epilogue of _FusedMatMul (see kernels.h for the arguments).
#include "kernels.h"

#include <napi.h>

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "epilogue.h"

namespace llm2clip {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
constexpr int64_t kFloatBytes = 4;

[[noreturn]] void Fail(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, "llm2clip_blas.matmul: " + message);
}

[[noreturn]] void OutOfRange(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, "llm2clip_blas.matmul: " + message);
}

int64_t ToCount(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsNumber()) Fail(env, name + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0.0) || d > kMaxSafeInteger || std::floor(d) != d) {
    Fail(env, name + " must be a non-negative integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

int64_t GetCount(Napi::Env env, const Napi::Object& object, const char* key,
                 const std::string& where) {
  return ToCount(env, object.Get(key), where + key);
}

bool GetBool(Napi::Env env, const Napi::Object& object, const char* key) {
  const Napi::Value value = object.Get(key);
  if (value.IsUndefined()) return false;
  if (!value.IsBoolean()) Fail(env, std::string(key) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::vector<int64_t> GetCountArray(Napi::Env env, const Napi::Object& object, const char* key,
                                   const std::string& where) {
  const Napi::Value value = object.Get(key);
  if (!value.IsArray()) Fail(env, where + key + " must be an array of integers");
  const Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    out[i] = ToCount(env, array.Get(i), where + key + "[" + std::to_string(i) + "]");
  }
  return out;
}

// Checked int64 arithmetic: a shape or stride large enough to overflow is an argument error,
// never a wrapped-around pointer.
int64_t Mul(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) OutOfRange(env, "size computation overflows int64");
  return r;
}

int64_t Add(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) OutOfRange(env, "size computation overflows int64");
  return r;
}

int64_t ByteOffsetToIndex(Napi::Env env, int64_t byteOffset, const std::string& name) {
  if (byteOffset % kFloatBytes != 0) {
    Fail(env, name + " (" + std::to_string(byteOffset) + ") is not a multiple of 4 bytes");
  }
  return byteOffset / kFloatBytes;
}

// A batched operand: where it starts and how far to step per batch dim (0 = broadcast).
struct Batched {
  int64_t start = 0;
  std::vector<int64_t> batchStrides;
};

// An epilogue operand (bias or prelu weights) broadcast onto [batch..., m, n].
struct Broadcast {
  bool present = false;
  Batched batched;
  int64_t rowStride = 0;
  int64_t colStride = 0;
};

// Highest element index a batched operand reaches, plus one; `inner` is the extent of one
// matrix (0 when empty). Throws when it does not fit in the operand's `floats`.
void CheckExtent(Napi::Env env, const Batched& op, const std::vector<int64_t>& batchShape,
                 int64_t inner, int64_t floats, const std::string& name) {
  if (inner == 0) return;
  for (int64_t dim : batchShape) {
    if (dim == 0) return;
  }
  int64_t last = op.start;
  for (size_t d = 0; d < batchShape.size(); ++d) {
    last = Add(env, last, Mul(env, batchShape[d] - 1, op.batchStrides[d]));
  }
  last = Add(env, last, inner);
  if (last > floats) {
    OutOfRange(env, name + " reaches float index " + std::to_string(last) +
                        " but its array holds only " + std::to_string(floats) + " floats");
  }
}

Batched ReadBatched(Napi::Env env, const Napi::Object& spec, const char* offsetKey,
                    const char* stridesKey, size_t batchRank, const std::string& where) {
  Batched op;
  op.start = ByteOffsetToIndex(env, GetCount(env, spec, offsetKey, where), where + offsetKey);
  op.batchStrides = GetCountArray(env, spec, stridesKey, where);
  if (op.batchStrides.size() != batchRank) {
    Fail(env, where + stridesKey + " has " + std::to_string(op.batchStrides.size()) +
                  " entries, batchShape has " + std::to_string(batchRank));
  }
  return op;
}

Broadcast ReadBroadcast(Napi::Env env, const Napi::Object& spec, const char* key,
                        size_t batchRank) {
  Broadcast b;
  const Napi::Value value = spec.Get(key);
  if (value.IsUndefined() || value.IsNull()) return b;
  if (!value.IsObject()) Fail(env, std::string(key) + " must be an object");
  const Napi::Object object = value.As<Napi::Object>();
  const std::string where = std::string(key) + ".";
  b.present = true;
  b.batched = ReadBatched(env, object, "offset", "batchStrides", batchRank, where);
  b.rowStride = GetCount(env, object, "rowStride", where);
  b.colStride = GetCount(env, object, "colStride", where);
  return b;
}

int BlasInt(Napi::Env env, int64_t value, const std::string& name) {
  if (value > INT_MAX) {
    OutOfRange(env, name + " (" + std::to_string(value) + ") exceeds the BLAS integer range");
  }
  return static_cast<int>(value);
}

}  // namespace

// Operands of one product: A, B, out, bias, prelu; each with its own base and float count.
enum Operand { kA = 0, kB, kOut, kBias, kPrelu, kOperandCount };

static Napi::Value MatMulImpl(Napi::Env env, const Napi::Object& spec, float* const bases[kOperandCount],
                       const int64_t lengths[kOperandCount]) {
  const int64_t m = GetCount(env, spec, "m", "");
  const int64_t n = GetCount(env, spec, "n", "");
  const int64_t k = GetCount(env, spec, "k", "");
  const bool transposeA = GetBool(env, spec, "transposeA");
  const bool transposeB = GetBool(env, spec, "transposeB");
  const std::vector<int64_t> batchShape = GetCountArray(env, spec, "batchShape", "");
  const size_t batchRank = batchShape.size();
  const Batched a = ReadBatched(env, spec, "aOffset", "aBatchStrides", batchRank, "");
  const Batched b = ReadBatched(env, spec, "bOffset", "bBatchStrides", batchRank, "");
  const int64_t outStart =
      ByteOffsetToIndex(env, GetCount(env, spec, "outOffset", ""), "outOffset");

  int activationCode = 0;
  const Napi::Value activationValue = spec.Get("activation");
  if (!activationValue.IsUndefined()) {
    activationCode = static_cast<int>(ToCount(env, activationValue, "activation"));
    if (activationCode >= kActivationCount) {
      Fail(env, "activation code " + std::to_string(activationCode) + " is unknown");
    }
  }
  const Activation activation = static_cast<Activation>(activationCode);
  float alpha = 0.0f;
  const Napi::Value alphaValue = spec.Get("alpha");
  if (!alphaValue.IsUndefined()) {
    if (!alphaValue.IsNumber()) Fail(env, "alpha must be a number");
    alpha = alphaValue.As<Napi::Number>().FloatValue();
  }
  const Broadcast bias = ReadBroadcast(env, spec, "bias", batchRank);
  const Broadcast prelu = ReadBroadcast(env, spec, "prelu", batchRank);
  if (activation == Activation::kPrelu && !prelu.present) {
    Fail(env, "activation prelu needs spec.prelu (the PReLU weights)");
  }

  int64_t batchCount = 1;
  for (int64_t dim : batchShape) batchCount = Mul(env, batchCount, dim);
  const int64_t matrixSize = Mul(env, m, n);
  const int64_t outSize = Mul(env, batchCount, matrixSize);

  // Validate every extent before touching memory.
  const int64_t aRows = transposeA ? k : m, aCols = transposeA ? m : k;
  const int64_t bRows = transposeB ? n : k, bCols = transposeB ? k : n;
  const int64_t aInner = Mul(env, aRows, aCols);
  const int64_t bInner = Mul(env, bRows, bCols);
  if (matrixSize > 0) {
    CheckExtent(env, a, batchShape, aInner, lengths[kA], "A");
    CheckExtent(env, b, batchShape, bInner, lengths[kB], "B");
  }
  if (Add(env, outStart, outSize) > lengths[kOut]) {
    OutOfRange(env, "output reaches float index " + std::to_string(outStart + outSize) +
                        " but its array holds only " + std::to_string(lengths[kOut]) + " floats");
  }
  auto epilogueInner = [&](const Broadcast& op) -> int64_t {
    if (!op.present || matrixSize == 0) return 0;
    return Add(env, Add(env, Mul(env, m - 1, op.rowStride), Mul(env, n - 1, op.colStride)), 1);
  };
  if (bias.present) {
    CheckExtent(env, bias.batched, batchShape, epilogueInner(bias), lengths[kBias], "bias");
  }
  if (prelu.present) {
    CheckExtent(env, prelu.batched, batchShape, epilogueInner(prelu), lengths[kPrelu], "prelu");
  }
  if (outSize == 0) return env.Undefined();

  const int blasM = BlasInt(env, m, "m");
  const int blasN = BlasInt(env, n, "n");
  const int blasK = BlasInt(env, k, "k");
  // Leading dimensions must be >= 1 even for empty matrices, or OpenBLAS reports a parameter error.
  const int lda = std::max(1, transposeA ? blasM : blasK);
  const int ldb = std::max(1, transposeB ? blasK : blasN);
  const int ldc = std::max(1, blasN);
  const CBLAS_TRANSPOSE opA = transposeA ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE opB = transposeB ? CblasTrans : CblasNoTrans;

  float* out = bases[kOut] + outStart;

  // When A is untransposed and contiguous over the batch and B is shared by every batch, the
  // batch is one tall GEMM: [batch*m, k] x [k, n]. This is the `x @ W` of a linear layer, and one
  // large call keeps all BLAS threads busy where many small ones would not.
  bool aContiguous = !transposeA;
  int64_t expectedStride = Mul(env, m, k);
  for (size_t d = batchRank; d-- > 0 && aContiguous;) {
    if (batchShape[d] != 1 && a.batchStrides[d] != expectedStride) aContiguous = false;
    expectedStride = Mul(env, expectedStride, batchShape[d]);
  }
  bool bShared = true;
  for (size_t d = 0; d < batchRank; ++d) {
    if (batchShape[d] != 1 && b.batchStrides[d] != 0) bShared = false;
  }
  const bool fold = batchCount > 1 && aContiguous && bShared && k > 0 &&
                    Mul(env, batchCount, m) <= static_cast<int64_t>(INT_MAX);
  if (fold) {
    cblas_sgemm(CblasRowMajor, opA, opB, static_cast<int>(batchCount * m), blasN, blasK, 1.0f,
                bases[kA] + a.start, lda, bases[kB] + b.start, ldb, 0.0f, out, ldc);
  }

  // Odometer over the output batch index; each operand's offset follows its own strides.
  std::vector<int64_t> index(batchRank, 0);
  int64_t aOff = a.start, bOff = b.start;
  int64_t biasOff = bias.batched.start, preluOff = prelu.batched.start;
  for (int64_t batch = 0; batch < batchCount; ++batch) {
    float* c = out + batch * matrixSize;
    if (k == 0) {
      std::fill(c, c + matrixSize, 0.0f);
    } else if (!fold) {
      cblas_sgemm(CblasRowMajor, opA, opB, blasM, blasN, blasK, 1.0f, bases[kA] + aOff, lda,
                  bases[kB] + bOff, ldb, 0.0f, c, ldc);
    }
    if (bias.present) {
      AddBias(c, m, n, MatrixView{bases[kBias] + biasOff, bias.rowStride, bias.colStride});
    }
    ApplyActivation(c, m, n, activation, alpha,
                    prelu.present ? MatrixView{bases[kPrelu] + preluOff, prelu.rowStride, prelu.colStride}
                                  : MatrixView{});
    for (size_t d = batchRank; d-- > 0;) {
      if (++index[d] < batchShape[d]) {
        aOff += a.batchStrides[d];
        bOff += b.batchStrides[d];
        biasOff += bias.batched.batchStrides.empty() ? 0 : bias.batched.batchStrides[d];
        preluOff += prelu.batched.batchStrides.empty() ? 0 : prelu.batched.batchStrides[d];
        break;
      }
      index[d] = 0;
      aOff -= (batchShape[d] - 1) * a.batchStrides[d];
      bOff -= (batchShape[d] - 1) * b.batchStrides[d];
      if (!bias.batched.batchStrides.empty()) biasOff -= (batchShape[d] - 1) * bias.batched.batchStrides[d];
      if (!prelu.batched.batchStrides.empty()) preluOff -= (batchShape[d] - 1) * prelu.batched.batchStrides[d];
    }
  }
  return env.Undefined();
}

static float* FloatArray(Napi::Env env, const Napi::Value& value, const char* name, int64_t* length,
                         bool optional) {
  if (optional && (value.IsUndefined() || value.IsNull())) {
    *length = 0;
    return nullptr;
  }
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    Fail(env, std::string(name) + " must be a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  *length = static_cast<int64_t>(array.ElementLength());
  return array.Data();
}

Napi::Value MatMulArrays(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || info.Length() > 6) {
    Fail(env, "expected (a, b, out: Float32Array, spec: object, bias?, prelu?)");
  }
  if (!info[3].IsObject()) Fail(env, "spec must be an object");
  float* bases[kOperandCount];
  int64_t lengths[kOperandCount];
  bases[kA] = FloatArray(env, info[0], "a", &lengths[kA], false);
  bases[kB] = FloatArray(env, info[1], "b", &lengths[kB], false);
  bases[kOut] = FloatArray(env, info[2], "out", &lengths[kOut], false);
  bases[kBias] = FloatArray(env, info.Length() > 4 ? info[4] : env.Undefined(), "bias", &lengths[kBias], true);
  bases[kPrelu] = FloatArray(env, info.Length() > 5 ? info[5] : env.Undefined(), "prelu", &lengths[kPrelu], true);
  return MatMulImpl(env, info[3].As<Napi::Object>(), bases, lengths);
}

}  // namespace llm2clip
