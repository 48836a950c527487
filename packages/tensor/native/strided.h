// Strided iteration shared by the element-wise and layout kernels: an output of some shape is
// walked row by row (the last dim), and each operand is read or written through its own element
// strides (0 where it broadcasts). Adjacent dims that are contiguous for every operand are merged
// first, so a plain element-wise op is one long row and a transpose copies runs of its inner dim.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace llm2clip {

// A typed array argument: base pointer, element count and element size in bytes.
struct ArrayArg {
  char* data = nullptr;
  int64_t length = 0;
  int elementSize = 0;
  napi_typedarray_type type = napi_float32_array;
};

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message);

// Reads a typed array argument; `types` lists the accepted element types.
ArrayArg GetArray(Napi::Env env, const Napi::Value& value, const std::string& name,
                  std::initializer_list<napi_typedarray_type> types);
// A non-negative integer no larger than 2^53 - 1.
int64_t GetIndex(Napi::Env env, const Napi::Value& value, const std::string& name);
// A JS array of such integers.
std::vector<int64_t> GetIndexArray(Napi::Env env, const Napi::Value& value, const std::string& name);
// A JS number (any finite or non-finite value).
double GetNumber(Napi::Env env, const Napi::Value& value, const std::string& name);

// An iteration space of up to kMaxOperands operands over one shape.
constexpr int kMaxOperands = 4;

struct StridedSpace {
  std::vector<int64_t> shape;                    // collapsed, rank >= 1
  std::vector<int64_t> strides[kMaxOperands];    // per operand, same rank as shape
  int64_t starts[kMaxOperands] = {0, 0, 0, 0};
  int operands = 0;
  int64_t total = 0;                             // product of the original shape
};

// Builds the space, checks that every operand's reachable extent fits its array (length given
// per operand), and collapses dims. Throws RangeError on a mismatch.
StridedSpace MakeSpace(Napi::Env env, const std::vector<int64_t>& shape,
                       const std::vector<std::vector<int64_t>>& strides,
                       const std::vector<int64_t>& starts, const std::vector<int64_t>& lengths,
                       const std::vector<std::string>& names);

// Calls row(offsets, n, lastStrides) for every row of the space, rows split across the pool.
// offsets[i] is operand i's element offset of the row's first element.
template <class RowFn>
void ForEachRow(const StridedSpace& space, RowFn row);

}  // namespace llm2clip

#include "strided-inl.h"
