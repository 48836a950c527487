// Template part of strided.h.
#pragma once

#include <algorithm>

#include "thread-pool.h"

namespace llm2clip {

template <class RowFn>
void ForEachRow(const StridedSpace& space, RowFn row) {
  if (space.total == 0) return;
  const int rank = static_cast<int>(space.shape.size());
  const int64_t n = space.shape[rank - 1];
  int64_t rows = 1;
  for (int d = 0; d < rank - 1; ++d) rows *= space.shape[d];
  int64_t last[kMaxOperands];
  for (int o = 0; o < space.operands; ++o) last[o] = space.strides[o][rank - 1];
  // Work items: whole rows, or, when there are few long rows (a contiguous element-wise op is one
  // row), pieces of rows, so that the pool has something to split.
  const int64_t kPiece = 8192;
  const int64_t pieces = rows >= 8 || n < 2 * kPiece ? 1 : std::min<int64_t>((n + kPiece - 1) / kPiece, 8);
  const int64_t width = (n + pieces - 1) / pieces;
  // About 32k elements per chunk keeps the dispatch cost of the pool negligible.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, width));
  ParallelFor(rows * pieces, grain, [&](int64_t begin, int64_t end) {
    int64_t index[16];
    int64_t offsets[kMaxOperands];
    std::vector<int64_t> bigIndex;
    int64_t* idx = index;
    if (rank > 16) {
      bigIndex.resize(rank);
      idx = bigIndex.data();
    }
    if (pieces > 1) {
      for (int64_t item = begin; item < end; ++item) {
        int64_t rest = item / pieces;
        const int64_t start = (item % pieces) * width;
        const int64_t count = std::min(width, n - start);
        if (count <= 0) continue;
        for (int o = 0; o < space.operands; ++o) offsets[o] = space.starts[o] + start * last[o];
        for (int d = rank - 2; d >= 0; --d) {
          const int64_t i = rest % space.shape[d];
          rest /= space.shape[d];
          for (int o = 0; o < space.operands; ++o) offsets[o] += i * space.strides[o][d];
        }
        row(offsets, count, last);
      }
      return;
    }
    int64_t rest = begin;
    for (int o = 0; o < space.operands; ++o) offsets[o] = space.starts[o];
    for (int d = rank - 2; d >= 0; --d) {
      idx[d] = rest % space.shape[d];
      rest /= space.shape[d];
      for (int o = 0; o < space.operands; ++o) offsets[o] += idx[d] * space.strides[o][d];
    }
    for (int64_t r = begin; r < end; ++r) {
      row(offsets, n, last);
      for (int d = rank - 2; d >= 0; --d) {
        if (++idx[d] < space.shape[d]) {
          for (int o = 0; o < space.operands; ++o) offsets[o] += space.strides[o][d];
          break;
        }
        idx[d] = 0;
        for (int o = 0; o < space.operands; ++o) offsets[o] -= (space.shape[d] - 1) * space.strides[o][d];
      }
    }
  });
}

}  // namespace llm2clip
