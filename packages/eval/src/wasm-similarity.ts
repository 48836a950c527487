/**
 * A WebAssembly SIMD (128-bit, f32x4) kernel for blocks of dot products, built byte by byte at
 * load time (no toolchain, no binary in the repository; about 400 bytes). Every pair's dot product
 * is summed the same way wherever it sits in a block:
 *
 * - four float32 lane accumulators; lane `l` sums `fround(x[k] · y[k])` for `k ≡ l (mod 4)` in
 *   increasing `k`, each addition rounded to float32;
 * - the lanes are combined as `(lane0 + lane1) + (lane2 + lane3)` in float32.
 *
 * {@link laneDot} computes exactly this in plain JavaScript, so scores recomputed one pair at a
 * time equal the block values bit for bit (the rank code relies on that).
 * @internal
 */

// --- a minimal WebAssembly binary writer -------------------------------------------------------

function u32(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function s32(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...u32(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...u32(items.length), ...items.flat()];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...u32(bytes.length), ...bytes];
}

const I32 = 0x7f;
const V128 = 0x7b;
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (depth: number) => [0x0c, ...u32(depth)],
  brIf: (depth: number) => [0x0d, ...u32(depth)],
  end: [0x0b],
  get: (local: number) => [0x20, ...u32(local)],
  set: (local: number) => [0x21, ...u32(local)],
  const: (value: number) => [0x41, ...s32(value)],
  add: [0x6a],
  mul: [0x6c],
  shl: [0x74],
  ltU: [0x49],
  geU: [0x4f],
  select: [0x1b],
  f32Add: [0x92],
  f32Store: (offset: number) => [0x38, 0x02, ...u32(offset)],
  v128Load: (offset: number) => [0xfd, ...u32(0x00), 0x00, ...u32(offset)],
  v128Zero: [0xfd, ...u32(0x0c), ...new Array<number>(16).fill(0)],
  f32x4Lane: (lane: number) => [0xfd, ...u32(0x1f), lane],
  f32x4Add: [0xfd, ...u32(0xe4)],
  f32x4Mul: [0xfd, ...u32(0xe6)],
};

/** Rows of A and of B per register tile. */
const TILE_ROWS = 4;
const TILE_COLS = 2;

/**
 * The module: exports `memory` and `block(aPtr, bPtr, outPtr, rows, cols, dim4, colTile)`, which
 * writes `out[i * cols + j] = dot(A[i], B[j])` for `rows × cols` pairs, where rows of A and B are
 * `dim4` float32 values (a multiple of 4), `rows` is a multiple of 4 and `cols` of 2. Gallery rows
 * are walked in tiles of `colTile` so a tile of B stays in cache while every A row passes it.
 */
function buildModule(): Uint8Array {
  // params 0..6; i32 locals 7..15; v128 locals 16..29
  const [aPtr, bPtr, outPtr, rows, cols, dim4, colTile] = [0, 1, 2, 3, 4, 5, 6];
  const [jt, i, j, kb, jEnd, rowBytes, a0, b0, outRow] = [7, 8, 9, 10, 11, 12, 13, 14, 15];
  const acc = (r: number, c: number): number => 16 + r * TILE_COLS + c; // 16..23
  const aVec = (r: number): number => 24 + r; // 24..27
  const bVec = (c: number): number => 28 + c; // 28..29

  const code: number[] = [];
  const emit = (...parts: (number | number[])[]): void => {
    for (const part of parts) {
      if (Array.isArray(part)) code.push(...part);
      else code.push(part);
    }
  };
  emit(op.get(dim4), op.const(2), op.shl, op.set(rowBytes));
  emit(op.const(0), op.set(jt));
  emit(op.block, op.loop); // jt loop: depth 0 = loop, 1 = block
  emit(op.get(jt), op.get(cols), op.geU, op.brIf(1));
  // jEnd = min(jt + colTile, cols)
  emit(op.get(jt), op.get(colTile), op.add, op.get(cols), op.get(jt), op.get(colTile), op.add, op.get(cols), op.ltU, op.select, op.set(jEnd));
  emit(op.const(0), op.set(i));
  emit(op.block, op.loop); // i loop
  emit(op.get(i), op.get(rows), op.geU, op.brIf(1));
  emit(op.get(aPtr), op.get(i), op.get(rowBytes), op.mul, op.add, op.set(a0));
  emit(op.get(jt), op.set(j));
  emit(op.block, op.loop); // j loop
  emit(op.get(j), op.get(jEnd), op.geU, op.brIf(1));
  emit(op.get(bPtr), op.get(j), op.get(rowBytes), op.mul, op.add, op.set(b0));
  for (let r = 0; r < TILE_ROWS; r++) for (let c = 0; c < TILE_COLS; c++) emit(op.v128Zero, op.set(acc(r, c)));
  emit(op.const(0), op.set(kb));
  emit(op.loop); // k loop (dim4 ≥ 4, so at least one pass)
  for (let r = 0; r < TILE_ROWS; r++) {
    emit(op.get(a0), op.get(kb), op.add);
    if (r > 0) emit(op.get(rowBytes), op.const(r), op.mul, op.add);
    emit(op.v128Load(0), op.set(aVec(r)));
  }
  for (let c = 0; c < TILE_COLS; c++) {
    emit(op.get(b0), op.get(kb), op.add);
    if (c > 0) emit(op.get(rowBytes), op.const(c), op.mul, op.add);
    emit(op.v128Load(0), op.set(bVec(c)));
  }
  for (let r = 0; r < TILE_ROWS; r++) {
    for (let c = 0; c < TILE_COLS; c++) {
      emit(op.get(acc(r, c)), op.get(aVec(r)), op.get(bVec(c)), op.f32x4Mul, op.f32x4Add, op.set(acc(r, c)));
    }
  }
  emit(op.get(kb), op.const(16), op.add, op.set(kb));
  emit(op.get(kb), op.get(rowBytes), op.ltU, op.brIf(0));
  emit(op.end); // k loop
  for (let r = 0; r < TILE_ROWS; r++) {
    // outRow = outPtr + ((i + r) * cols + j) * 4
    emit(op.get(outPtr), op.get(i), op.const(r), op.add, op.get(cols), op.mul, op.get(j), op.add, op.const(2), op.shl, op.add, op.set(outRow));
    for (let c = 0; c < TILE_COLS; c++) {
      const v = acc(r, c);
      emit(op.get(outRow));
      emit(op.get(v), op.f32x4Lane(0), op.get(v), op.f32x4Lane(1), op.f32Add);
      emit(op.get(v), op.f32x4Lane(2), op.get(v), op.f32x4Lane(3), op.f32Add);
      emit(op.f32Add, op.f32Store(c * 4));
    }
  }
  emit(op.get(j), op.const(TILE_COLS), op.add, op.set(j), op.br(0));
  emit(op.end, op.end); // j loop, block
  emit(op.get(i), op.const(TILE_ROWS), op.add, op.set(i), op.br(0));
  emit(op.end, op.end); // i loop, block
  emit(op.get(jt), op.get(colTile), op.add, op.set(jt), op.br(0));
  emit(op.end, op.end); // jt loop, block
  emit(op.end); // function

  const locals = vec([
    [...u32(9), I32],
    [...u32(TILE_ROWS * TILE_COLS + TILE_ROWS + TILE_COLS), V128],
  ]);
  const body = [...locals, ...code];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([])]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...u32(1)]])),
    ...section(7, vec([[...name('memory'), 0x02, 0], [...name('block'), 0x00, 0]])),
    ...section(10, vec([[...u32(body.length), ...body]])),
  ]);
}

// The few WebAssembly JS API members used here (the Node typings in use do not declare them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: Record<string, unknown> };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: WasmModule | null | undefined;

/** The compiled module, or `null` where WebAssembly SIMD is unavailable. */
function simdModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      const bytes = buildModule();
      compiled = wasmApi !== undefined && wasmApi.validate(bytes) ? new wasmApi.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** Whether the WebAssembly SIMD kernel can run here. */
export function simdAvailable(): boolean {
  return simdModule() !== null;
}

/** Values per row in the kernel's layout: `dim` rounded up to a multiple of 4 (zero-padded). */
export function paddedDim(dim: number): number {
  return Math.max(4, Math.ceil(dim / 4) * 4);
}

const PAGE = 65536;
/** Gallery rows per cache tile (about 64 KiB of them at dim 512). */
const COLUMN_TILE = 32;

/** Largest WebAssembly memory this kernel asks for; bigger problems use the JavaScript kernel. */
const MAX_MEMORY_BYTES = 2 ** 31;

/**
 * Dot products of rows of `a` (queries) with every row of `b` (gallery) on the SIMD kernel. The
 * gallery is copied once into the instance's memory (zero-padded); {@link fill} copies one block of
 * query rows in and computes it.
 */
export class SimdBlockKernel {
  private readonly memory: WasmMemory;
  private readonly block: (aPtr: number, bPtr: number, outPtr: number, rows: number, cols: number, dim4: number, colTile: number) => void;
  private readonly dim4: number;
  private readonly colsPadded: number;
  private readonly aPtr: number;
  private readonly bPtr: number;
  private readonly outPtr: number;

  private constructor(
    module: WasmModule,
    private readonly a: { rows: number; dim: number; data: Float32Array },
    b: { rows: number; dim: number; data: Float32Array },
    private readonly maxBlockRows: number,
    layout: { dim4: number; colsPadded: number; bBytes: number; aBytes: number; total: number },
  ) {
    const instance = new (wasmApi as WasmApi).Instance(module, {});
    this.memory = instance.exports.memory as WasmMemory;
    const pages = Math.ceil(layout.total / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.memory.grow(pages);
    this.block = instance.exports.block as SimdBlockKernel['block'];
    this.dim4 = layout.dim4;
    this.colsPadded = layout.colsPadded;
    this.bPtr = 0;
    this.aPtr = layout.bBytes;
    this.outPtr = layout.bBytes + layout.aBytes;
    copyPadded(b, 0, b.rows, new Float32Array(this.memory.buffer), this.bPtr / 4, this.dim4);
  }

  /**
   * A kernel for `a` × `b` in blocks of at most `maxBlockRows` query rows, or `undefined` where
   * SIMD is unavailable, or the gallery would need more than 2 GiB of WebAssembly memory, or that
   * memory cannot be had.
   */
  static create(a: { rows: number; dim: number; data: Float32Array }, b: { rows: number; dim: number; data: Float32Array }, maxBlockRows: number): SimdBlockKernel | undefined {
    const module = simdModule();
    if (module === null) return undefined;
    const dim4 = paddedDim(a.dim);
    const colsPadded = Math.ceil(b.rows / 4) * 4;
    const blockRowsPadded = Math.ceil(maxBlockRows / TILE_ROWS) * TILE_ROWS;
    const bBytes = colsPadded * dim4 * 4;
    const aBytes = blockRowsPadded * dim4 * 4;
    const total = bBytes + aBytes + blockRowsPadded * colsPadded * 4;
    if (total > MAX_MEMORY_BYTES) return undefined;
    try {
      return new SimdBlockKernel(module, a, b, maxBlockRows, { dim4, colsPadded, bBytes, aBytes, total });
    } catch (error) {
      // memory.grow fails when the runtime cannot reserve the memory: use the JavaScript kernel
      if (error instanceof RangeError) return undefined;
      throw error;
    }
  }

  /** Writes the dot products of query rows `rowStart … rowStart + rowCount − 1` into `out` (`rowCount × b.rows`). */
  fill(rowStart: number, rowCount: number, cols: number, out: Float32Array): void {
    if (rowCount > this.maxBlockRows) throw new RangeError(`block of ${rowCount} rows exceeds the kernel's ${this.maxBlockRows}`);
    const rowsPadded = Math.ceil(rowCount / TILE_ROWS) * TILE_ROWS;
    const heap = new Float32Array(this.memory.buffer);
    // Rows past rowCount (tile padding) keep whatever they held: their outputs are never read.
    copyPadded(this.a, rowStart, rowCount, heap, this.aPtr / 4, this.dim4);
    this.block(this.aPtr, this.bPtr, this.outPtr, rowsPadded, this.colsPadded, this.dim4, COLUMN_TILE);
    const result = heap.subarray(this.outPtr / 4, this.outPtr / 4 + rowsPadded * this.colsPadded);
    if (cols === this.colsPadded) {
      out.set(result.subarray(0, rowCount * cols));
      return;
    }
    for (let r = 0; r < rowCount; r++) out.set(result.subarray(r * this.colsPadded, r * this.colsPadded + cols), r * cols);
  }
}

/** Copies rows `first … first + count − 1` of `matrix` to `heap[offset…]`, each padded with zeros to `dim4`. */
function copyPadded(matrix: { dim: number; data: Float32Array }, first: number, count: number, heap: Float32Array, offset: number, dim4: number): void {
  const dim = matrix.dim;
  if (dim === dim4) {
    heap.set(matrix.data.subarray(first * dim, (first + count) * dim), offset);
    return;
  }
  for (let r = 0; r < count; r++) {
    heap.set(matrix.data.subarray((first + r) * dim, (first + r + 1) * dim), offset + r * dim4);
    heap.fill(0, offset + r * dim4 + dim, offset + (r + 1) * dim4);
  }
}

/**
 * The dot product of `x[xo … xo + dim)` and `y[yo … yo + dim)` summed exactly as the SIMD kernel
 * sums it (four float32 lanes, then `(l0 + l1) + (l2 + l3)`), in plain JavaScript.
 */
export function laneDot(x: Float32Array, xo: number, y: Float32Array, yo: number, dim: number): number {
  const f = Math.fround;
  let l0 = 0;
  let l1 = 0;
  let l2 = 0;
  let l3 = 0;
  let k = 0;
  for (; k + 4 <= dim; k += 4) {
    l0 = f(l0 + f(x[xo + k] * y[yo + k]));
    l1 = f(l1 + f(x[xo + k + 1] * y[yo + k + 1]));
    l2 = f(l2 + f(x[xo + k + 2] * y[yo + k + 2]));
    l3 = f(l3 + f(x[xo + k + 3] * y[yo + k + 3]));
  }
  // the zero padding of the last group adds +0, which leaves a lane unchanged
  if (k < dim) l0 = f(l0 + f(x[xo + k] * y[yo + k]));
  if (k + 1 < dim) l1 = f(l1 + f(x[xo + k + 1] * y[yo + k + 1]));
  if (k + 2 < dim) l2 = f(l2 + f(x[xo + k + 2] * y[yo + k + 2]));
  return f(f(l0 + l1) + f(l2 + l3));
}
