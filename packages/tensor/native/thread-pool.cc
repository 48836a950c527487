#include "thread-pool.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace llm2clip {
namespace {

// Fork-join pool with dynamic chunk claiming: the caller and the workers take chunks from a
// shared counter, and the caller waits only for chunks a worker has actually started. On a busy
// machine a worker that is not scheduled in time costs nothing: the caller runs its chunks.
class Pool {
 public:
  int Threads() const { return static_cast<int>(workers_.size()) + 1; }

  void Resize(int threads) {
    StopWorkers();
    stop_ = false;
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }

  void Run(int chunks, const std::function<void(int)>& task) {
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      chunks_ = chunks;
      next_ = 0;
      inProgress_ = 0;
      generation = ++generation_;
    }
    wake_.notify_all();
    int chunk;
    const std::function<void(int)>* claimed;
    while (Claim(generation, &chunk, &claimed)) {
      task(chunk);
      Finish();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return inProgress_ == 0; });
    task_ = nullptr;
    chunks_ = 0;
  }

 private:
  bool Claim(uint64_t generation, int* chunk, const std::function<void(int)>** task) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation != generation_ || task_ == nullptr || next_ >= chunks_) return false;
    *chunk = next_++;
    *task = task_;
    ++inProgress_;
    return true;
  }

  void Finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--inProgress_ == 0) done_.notify_all();
  }

  void StopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  void Work() {
    uint64_t seen = 0;
    for (;;) {
      uint64_t generation;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation = generation_;
      }
      int chunk;
      const std::function<void(int)>* task;
      while (Claim(generation, &chunk, &task)) {
        (*task)(chunk);
        Finish();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* task_ = nullptr;
  int chunks_ = 0;
  int next_ = 0;
  int inProgress_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Held while a parallel region runs: the pool serves one caller at a time. Node worker threads
// that load the addon share it; a second concurrent caller runs its loop inline instead.
std::mutex& RegionMutex() {
  static std::mutex* mutex = new std::mutex();
  return *mutex;
}

Pool& ThePool() {
  // Leaked on purpose: joining threads from a static destructor at process exit can deadlock.
  static Pool* pool = new Pool();
  return *pool;
}

// Chunks per thread: enough that a late worker leaves little for the caller to wait on.
constexpr int64_t kChunksPerThread = 4;

}  // namespace

void SetPoolThreads(int threads) {
  std::lock_guard<std::mutex> region(RegionMutex());
  ThePool().Resize(std::max(1, threads));
}

int GetPoolThreads() { return ThePool().Threads(); }

void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int threads = GetPoolThreads();
  const int64_t maxChunks = std::min<int64_t>(threads * kChunksPerThread, n / grain);
  if (threads < 2 || maxChunks < 2) {
    body(0, n);
    return;
  }
  std::unique_lock<std::mutex> region(RegionMutex(), std::try_to_lock);
  if (!region.owns_lock()) {
    body(0, n);
    return;
  }
  const int chunks = static_cast<int>(maxChunks);
  ThePool().Run(chunks, [&](int chunk) {
    const int64_t begin = n * chunk / chunks;
    const int64_t end = n * (chunk + 1) / chunks;
    if (begin < end) body(begin, end);
  });
}

}  // namespace llm2clip
