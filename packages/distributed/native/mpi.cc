// llm2clip_mpi: the handful of MPI calls @llm2clip/distributed needs, on float32 typed arrays.
//
// Every collective exists twice: `<name>Sync(...)` runs on the calling (JS) thread and blocks it;
// `<name>(...)` runs on libuv's thread pool (napi async work) and returns a Promise, so the event
// loop keeps running while MPI moves data. MPI is initialised with MPI_THREAD_SERIALIZED: the JS
// side guarantees that at most one MPI call is in flight at any time (see src/mpi-queue.ts).
// Errors of MPI calls are returned (MPI_ERRORS_RETURN) and thrown as JS errors with MPI's text.
#include <napi.h>

#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <dlfcn.h>

#include <cstdint>
#include <string>
#include <vector>

namespace llm2clip_mpi {
namespace {

// Bumped whenever the JS-visible interface changes; the loader refuses a mismatching build.
constexpr int kAbiVersion = 1;

enum class Kind { kAllreduce, kBcast, kAllgatherv, kReduceScatter, kBarrier };

// One collective with its buffers; pointers stay valid while the JS arrays are referenced.
struct Collective {
  Kind kind = Kind::kBarrier;
  float* send = nullptr;
  float* recv = nullptr;
  int count = 0;
  int root = 0;
  MPI_Op op = MPI_SUM;
  std::vector<int> counts;
  std::vector<int> displs;
};

std::string MpiErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kAllreduce: return "MPI_Allreduce";
    case Kind::kBcast: return "MPI_Bcast";
    case Kind::kAllgatherv: return "MPI_Allgatherv";
    case Kind::kReduceScatter: return "MPI_Reduce_scatter";
    case Kind::kBarrier: return "MPI_Barrier";
  }
  return "MPI call";
}

// Runs the collective; returns an empty string on success, else the error message.
std::string Execute(const Collective& c) {
  int code = MPI_SUCCESS;
  switch (c.kind) {
    case Kind::kAllreduce:
      code = MPI_Allreduce(MPI_IN_PLACE, c.recv, c.count, MPI_FLOAT, c.op, MPI_COMM_WORLD);
      break;
    case Kind::kBcast:
      code = MPI_Bcast(c.recv, c.count, MPI_FLOAT, c.root, MPI_COMM_WORLD);
      break;
    case Kind::kAllgatherv:
      code = MPI_Allgatherv(c.send, c.count, MPI_FLOAT, c.recv, c.counts.data(), c.displs.data(), MPI_FLOAT,
                            MPI_COMM_WORLD);
      break;
    case Kind::kReduceScatter:
      code = MPI_Reduce_scatter(c.send, c.recv, c.counts.data(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      break;
    case Kind::kBarrier:
      code = MPI_Barrier(MPI_COMM_WORLD);
      break;
  }
  if (code == MPI_SUCCESS) return std::string();
  return std::string(KindName(c.kind)) + " failed: " + MpiErrorText(code);
}

bool IsInitialized() {
  int flag = 0;
  MPI_Initialized(&flag);
  return flag != 0;
}

bool IsFinalized() {
  int flag = 0;
  MPI_Finalized(&flag);
  return flag != 0;
}

void RequireActive(Napi::Env env, const char* what) {
  if (!IsInitialized() || IsFinalized()) {
    throw Napi::Error::New(env, std::string("llm2clip_mpi.") + what + ": MPI is not initialised (or already finalised)");
  }
}

Napi::Float32Array ArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string("llm2clip_mpi.") + what + ": argument " +
                                               std::to_string(index) + " must be a Float32Array");
  }
  return info[index].As<Napi::Float32Array>();
}

int IntArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string("llm2clip_mpi.") + what + ": argument " +
                                               std::to_string(index) + " must be a number");
  }
  return info[index].As<Napi::Number>().Int32Value();
}

std::vector<int> IntArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what, int size) {
  if (info.Length() <= index || !info[index].IsArray()) {
    throw Napi::TypeError::New(info.Env(), std::string("llm2clip_mpi.") + what + ": argument " +
                                               std::to_string(index) + " must be an array of numbers");
  }
  Napi::Array array = info[index].As<Napi::Array>();
  if (static_cast<int>(array.Length()) != size) {
    throw Napi::RangeError::New(info.Env(), std::string("llm2clip_mpi.") + what + ": argument " +
                                                std::to_string(index) + " must have one entry per rank");
  }
  std::vector<int> values(static_cast<size_t>(size));
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value value = array.Get(i);
    if (!value.IsNumber() || value.As<Napi::Number>().Int32Value() < 0) {
      throw Napi::TypeError::New(info.Env(), std::string("llm2clip_mpi.") + what + ": counts must be non-negative integers");
    }
    values[i] = value.As<Napi::Number>().Int32Value();
  }
  return values;
}

int WorldSize() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

int WorldRank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

// Parses the arguments of one collective into `c` and the arrays the call must keep alive.
Collective Parse(const Napi::CallbackInfo& info, Kind kind, std::vector<Napi::Value>* keep) {
  Collective c;
  c.kind = kind;
  const char* what = KindName(kind);
  Napi::Env env = info.Env();
  switch (kind) {
    case Kind::kAllreduce: {
      Napi::Float32Array buf = ArrayArg(info, 0, what);
      const int op = IntArg(info, 1, what);
      c.recv = buf.Data();
      c.count = static_cast<int>(buf.ElementLength());
      c.op = op == 1 ? MPI_MAX : op == 2 ? MPI_MIN : MPI_SUM;
      keep->push_back(buf);
      break;
    }
    case Kind::kBcast: {
      Napi::Float32Array buf = ArrayArg(info, 0, what);
      c.recv = buf.Data();
      c.count = static_cast<int>(buf.ElementLength());
      c.root = IntArg(info, 1, what);
      if (c.root < 0 || c.root >= WorldSize()) throw Napi::RangeError::New(env, "MPI_Bcast: root out of range");
      keep->push_back(buf);
      break;
    }
    case Kind::kAllgatherv: {
      Napi::Float32Array send = ArrayArg(info, 0, what);
      Napi::Float32Array recv = ArrayArg(info, 1, what);
      const int size = WorldSize();
      c.counts = IntArrayArg(info, 2, what, size);
      c.displs.resize(c.counts.size());
      int64_t total = 0;
      for (size_t r = 0; r < c.counts.size(); r++) {
        c.displs[r] = static_cast<int>(total);
        total += c.counts[r];
      }
      if (total != static_cast<int64_t>(recv.ElementLength()) ||
          c.counts[static_cast<size_t>(WorldRank())] != static_cast<int>(send.ElementLength())) {
        throw Napi::RangeError::New(env, "MPI_Allgatherv: counts do not match the send/receive lengths");
      }
      c.send = send.Data();
      c.recv = recv.Data();
      c.count = static_cast<int>(send.ElementLength());
      keep->push_back(send);
      keep->push_back(recv);
      break;
    }
    case Kind::kReduceScatter: {
      Napi::Float32Array send = ArrayArg(info, 0, what);
      Napi::Float32Array recv = ArrayArg(info, 1, what);
      c.counts = IntArrayArg(info, 2, what, WorldSize());
      int64_t total = 0;
      for (int count : c.counts) total += count;
      if (total != static_cast<int64_t>(send.ElementLength()) ||
          c.counts[static_cast<size_t>(WorldRank())] != static_cast<int>(recv.ElementLength())) {
        throw Napi::RangeError::New(env, "MPI_Reduce_scatter: counts do not match the send/receive lengths");
      }
      c.send = send.Data();
      c.recv = recv.Data();
      keep->push_back(send);
      keep->push_back(recv);
      break;
    }
    case Kind::kBarrier:
      break;
  }
  return c;
}

// Runs one collective on libuv's thread pool and settles a Promise.
class CollectiveWorker : public Napi::AsyncWorker {
 public:
  CollectiveWorker(Napi::Env env, Collective collective, const std::vector<Napi::Value>& keep)
      : Napi::AsyncWorker(env, "llm2clip_mpi"), collective_(std::move(collective)), deferred_(env) {
    for (const Napi::Value& value : keep) refs_.push_back(Napi::Persistent(value.As<Napi::Object>()));
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const std::string error = llm2clip_mpi::Execute(collective_);
    if (!error.empty()) SetError(error);
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Collective collective_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
};

template <Kind kind>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), KindName(kind));
  std::vector<Napi::Value> keep;
  const Collective c = Parse(info, kind, &keep);
  const std::string error = Execute(c);
  if (!error.empty()) throw Napi::Error::New(info.Env(), error);
  return info.Env().Undefined();
}

template <Kind kind>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  RequireActive(info.Env(), KindName(kind));
  std::vector<Napi::Value> keep;
  Collective c = Parse(info, kind, &keep);
  auto* worker = new CollectiveWorker(info.Env(), std::move(c), keep);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// OpenMPI loads its components (dlopen'ed plugins) expecting libmpi's symbols to be global;
// Node loads addons with RTLD_LOCAL, which hides them. Re-open libmpi with RTLD_GLOBAL first.
std::string PromoteLibmpi() {
  Dl_info where;
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &where) == 0 || where.dli_fname == nullptr) {
    return "dladdr(MPI_Init_thread) failed";
  }
  if (dlopen(where.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == nullptr) {
    const char* error = dlerror();
    return std::string("dlopen(") + where.dli_fname + ", RTLD_GLOBAL) failed: " + (error ? error : "?");
  }
  return std::string();
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (IsFinalized()) throw Napi::Error::New(env, "llm2clip_mpi.init: MPI was already finalised in this process");
  int provided = MPI_THREAD_SINGLE;
  if (!IsInitialized()) {
    const std::string promoted = PromoteLibmpi();
    if (!promoted.empty()) throw Napi::Error::New(env, "llm2clip_mpi.init: " + promoted);
    const int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (code != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Init_thread failed: " + MpiErrorText(code));
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  } else {
    MPI_Query_thread(&provided);
  }
  MPI_Comm local;
  int localRank = 0;
  int localSize = 1;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
    MPI_Comm_rank(local, &localRank);
    MPI_Comm_size(local, &localSize);
    MPI_Comm_free(&local);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("rank", WorldRank());
  result.Set("size", WorldSize());
  result.Set("localRank", localRank);
  result.Set("localSize", localSize);
  result.Set("threadLevel", provided);
  result.Set("threadSerialized", provided >= MPI_THREAD_SERIALIZED);
  return result;
}

Napi::Value Initialized(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), IsInitialized()); }

Napi::Value Finalized(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), IsFinalized()); }

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (IsInitialized() && !IsFinalized()) {
    const int code = MPI_Finalize();
    if (code != MPI_SUCCESS) throw Napi::Error::New(info.Env(), "MPI_Finalize failed: " + MpiErrorText(code));
  }
  return info.Env().Undefined();
}

Napi::Value Abort(const Napi::CallbackInfo& info) {
  const int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  if (IsInitialized() && !IsFinalized()) MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

Napi::Value Wtime(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), MPI_Wtime()); }

std::string LibraryVersion() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<size_t>(length));
  while (!version.empty() && (version.back() == '\0' || version.back() == ' ' || version.back() == '\n')) version.pop_back();
  const size_t newline = version.find('\n');
  return newline == std::string::npos ? version : version.substr(0, newline);
}

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("libraryVersion", Napi::String::New(env, LibraryVersion()));
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("initialized", Napi::Function::New(env, Initialized));
  exports.Set("finalized", Napi::Function::New(env, Finalized));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("wtime", Napi::Function::New(env, Wtime));
  exports.Set("allreduce", Napi::Function::New(env, RunAsync<Kind::kAllreduce>));
  exports.Set("allreduceSync", Napi::Function::New(env, RunSync<Kind::kAllreduce>));
  exports.Set("bcast", Napi::Function::New(env, RunAsync<Kind::kBcast>));
  exports.Set("bcastSync", Napi::Function::New(env, RunSync<Kind::kBcast>));
  exports.Set("allgatherv", Napi::Function::New(env, RunAsync<Kind::kAllgatherv>));
  exports.Set("allgathervSync", Napi::Function::New(env, RunSync<Kind::kAllgatherv>));
  exports.Set("reduceScatter", Napi::Function::New(env, RunAsync<Kind::kReduceScatter>));
  exports.Set("reduceScatterSync", Napi::Function::New(env, RunSync<Kind::kReduceScatter>));
  exports.Set("barrier", Napi::Function::New(env, RunAsync<Kind::kBarrier>));
  exports.Set("barrierSync", Napi::Function::New(env, RunSync<Kind::kBarrier>));
  return exports;
}

}  // namespace
}  // namespace llm2clip_mpi

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return llm2clip_mpi::InitAddon(env, exports); }

NODE_API_MODULE(llm2clip_mpi, InitModule)
