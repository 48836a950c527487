#include "strided.h"

#include <cmath>

namespace llm2clip {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, "llm2clip_blas." + message);
}

void ThrowRange(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, "llm2clip_blas." + message);
}

static int ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:
      return 8;
  }
}

ArrayArg GetArray(Napi::Env env, const Napi::Value& value, const std::string& name,
                  std::initializer_list<napi_typedarray_type> types) {
  if (!value.IsTypedArray()) ThrowType(env, name + " must be a typed array");
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  const napi_typedarray_type type = array.TypedArrayType();
  bool accepted = false;
  for (napi_typedarray_type t : types) accepted = accepted || t == type;
  if (!accepted) ThrowType(env, name + " has an unsupported element type");
  ArrayArg arg;
  arg.type = type;
  arg.elementSize = ElementSize(type);
  arg.length = static_cast<int64_t>(array.ElementLength());
  arg.data = static_cast<char*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return arg;
}

int64_t GetIndex(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsNumber()) ThrowType(env, name + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0.0) || d > kMaxSafeInteger || std::floor(d) != d) {
    ThrowType(env, name + " must be a non-negative integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

std::vector<int64_t> GetIndexArray(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsArray()) ThrowType(env, name + " must be an array of integers");
  const Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> out(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    out[i] = GetIndex(env, array.Get(i), name + "[" + std::to_string(i) + "]");
  }
  return out;
}

double GetNumber(Napi::Env env, const Napi::Value& value, const std::string& name) {
  if (!value.IsNumber()) ThrowType(env, name + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

static int64_t CheckedMul(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) ThrowRange(env, "size computation overflows int64");
  return r;
}

static int64_t CheckedAdd(Napi::Env env, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) ThrowRange(env, "size computation overflows int64");
  return r;
}

StridedSpace MakeSpace(Napi::Env env, const std::vector<int64_t>& shape,
                       const std::vector<std::vector<int64_t>>& strides,
                       const std::vector<int64_t>& starts, const std::vector<int64_t>& lengths,
                       const std::vector<std::string>& names) {
  StridedSpace space;
  space.operands = static_cast<int>(strides.size());
  if (space.operands > kMaxOperands) ThrowRange(env, "too many operands");
  const size_t rank = shape.size();
  int64_t total = 1;
  for (int64_t dim : shape) total = CheckedMul(env, total, dim);
  space.total = total;
  for (int o = 0; o < space.operands; ++o) {
    if (strides[o].size() != rank) {
      ThrowRange(env, names[o] + " strides have rank " + std::to_string(strides[o].size()) +
                          ", the shape has " + std::to_string(rank));
    }
    if (total == 0) continue;
    int64_t last = starts[o];
    for (size_t d = 0; d < rank; ++d) last = CheckedAdd(env, last, CheckedMul(env, shape[d] - 1, strides[o][d]));
    if (last >= lengths[o]) {
      ThrowRange(env, names[o] + " reaches element " + std::to_string(last) + " but holds only " +
                          std::to_string(lengths[o]));
    }
  }
  for (int o = 0; o < space.operands; ++o) space.starts[o] = starts[o];
  // Drop size-1 dims and merge dims that are contiguous for every operand.
  for (size_t d = 0; d < rank; ++d) {
    if (shape[d] == 1) continue;
    if (!space.shape.empty()) {
      bool merge = true;
      for (int o = 0; o < space.operands && merge; ++o) {
        merge = space.strides[o].back() == strides[o][d] * shape[d];
      }
      if (merge) {
        space.shape.back() *= shape[d];
        for (int o = 0; o < space.operands; ++o) space.strides[o].back() = strides[o][d];
        continue;
      }
    }
    space.shape.push_back(shape[d]);
    for (int o = 0; o < space.operands; ++o) space.strides[o].push_back(strides[o][d]);
  }
  if (space.shape.empty()) {
    space.shape.push_back(total == 0 ? 0 : 1);
    for (int o = 0; o < space.operands; ++o) space.strides[o].push_back(0);
  }
  return space;
}

}  // namespace llm2clip
