// Entry point of the llm2clip_blas addon: OpenBLAS matrix kernels for the tfjs wasm backend.
#include <napi.h>

#include <cblas.h>

#include <cmath>
#include <string>

#include "matmul.h"

namespace llm2clip {
namespace {

// Bumped whenever the JS-visible interface changes; the loader refuses a mismatching build.
constexpr int kAbiVersion = 1;
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

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("blasConfig", Napi::String::New(env, openblas_get_config()));
  exports.Set("matmul", Napi::Function::New(env, MatMul, "matmul"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  return exports;
}

}  // namespace llm2clip

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  return llm2clip::InitAddon(env, exports);
}

NODE_API_MODULE(llm2clip_blas, Init)
