// A small persistent thread pool for the element-wise, reduction and layout kernels of the
// native backend. One parallel region runs at a time (kernels are called from the JS thread);
// the calling thread takes part in the work.
#pragma once

#include <cstdint>
#include <functional>

namespace llm2clip {

// Sets the number of threads (the caller included) that ParallelFor uses; 1 disables the pool.
void SetPoolThreads(int threads);
int GetPoolThreads();

// Runs body(begin, end) over [0, n) split into contiguous chunks of at
// least `grain` items each (a few per thread, claimed dynamically). Runs inline when n < 2 * grain
// or the pool has one thread.
void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

}  // namespace llm2clip
