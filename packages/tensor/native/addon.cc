// Entry point of the llm2clip_blas addon: OpenBLAS matrix products and multi-threaded tensor
// kernels for the `native` tfjs backend.
#include <napi.h>

#include <cblas.h>

#include <cmath>
#include <string>

#include "kernels.h"
#include "thread-pool.h"

namespace llm2clip {
namespace {

// Bumped whenever the JS-visible interface changes; the loader refuses a mismatching build.
constexpr int kAbiVersion = 3;
constexpr double kMaxThreads = 1024;

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "llm2clip_blas.setNumThreads: expected (threads: number)");
  }
  const double threads = info[0].As<Napi::Number>().DoubleValue();
  if (!(threads >= 1) || threads > kMaxThreads || std::floor(threads) != threads) {
    throw Napi::RangeError::New(env, "llm2clip_blas.setNumThreads: threads must be an integer in "
                                     "[1, 1024], got " + std::to_string(threads));
  }
  openblas_set_num_threads(static_cast<int>(threads));
  return env.Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), openblas_get_num_threads());
}

}  // namespace

Napi::Value SetPoolThreadsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "llm2clip_blas.setPoolThreads: expected (threads: number)");
  }
  const double threads = info[0].As<Napi::Number>().DoubleValue();
  if (!(threads >= 1) || threads > kMaxThreads || std::floor(threads) != threads) {
    throw Napi::RangeError::New(env, "llm2clip_blas.setPoolThreads: threads must be an integer in "
                                     "[1, 1024], got " + std::to_string(threads));
  }
  SetPoolThreads(static_cast<int>(threads));
  return env.Undefined();
}

Napi::Value GetPoolThreadsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), GetPoolThreads());
}

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("blasConfig", Napi::String::New(env, openblas_get_config()));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("matmulArrays", Napi::Function::New(env, MatMulArrays, "matmulArrays"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("select", Napi::Function::New(env, Select, "select"));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("copyStrided", Napi::Function::New(env, CopyStrided, "copyStrided"));
  exports.Set("gather", Napi::Function::New(env, Gather, "gather"));
  exports.Set("segmentSum", Napi::Function::New(env, SegmentSum, "segmentSum"));
  exports.Set("resampleU8", Napi::Function::New(env, ResampleU8, "resampleU8"));
  exports.Set("resizeCropU8", Napi::Function::New(env, ResizeCropU8, "resizeCropU8"));
  exports.Set("setPoolThreads", Napi::Function::New(env, SetPoolThreadsJs, "setPoolThreads"));
  exports.Set("getPoolThreads", Napi::Function::New(env, GetPoolThreadsJs, "getPoolThreads"));
  return exports;
}

}  // namespace llm2clip

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return llm2clip::InitAddon(env, exports);
}

NODE_API_MODULE(llm2clip_blas, Init)
