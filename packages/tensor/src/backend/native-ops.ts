/**
 * Op codes of the native addon's element-wise and reduction kernels; they mirror the enums in
 * native/elementwise.cc and native/reduce.cc (a mismatch bumps `NATIVE_ABI_VERSION`).
 */

/** Binary op codes of the addon's `binary` (comparisons write a `bool` Uint8Array). */
export const BINARY_OPS = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
  Pow: 7,
  Greater: 8,
  GreaterEqual: 9,
  Less: 10,
  LessEqual: 11,
  Equal: 12,
  NotEqual: 13,
} as const;

/** The binary ops whose output is `bool`. */
export const COMPARISON_OPS: ReadonlySet<string> = new Set(['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual']);

/** Unary op codes of the addon's `unary`. */
export const UNARY_OPS = {
  Neg: 0,
  Exp: 1,
  Log: 2,
  Sqrt: 3,
  Rsqrt: 4,
  Square: 5,
  Tanh: 6,
  Sigmoid: 7,
  Erf: 8,
  Abs: 9,
  Relu: 10,
  Reciprocal: 11,
  Sin: 12,
  Cos: 13,
  Log1p: 14,
  Expm1: 15,
  Elu: 16,
  Relu6: 17,
  Step: 18,
  LeakyRelu: 19,
  ClipByValue: 20,
  Floor: 21,
  Ceil: 22,
} as const;

/** Reduction op codes of the addon's `reduce`. */
export const REDUCE_OPS = {
  Sum: 0,
  Mean: 1,
  Max: 2,
  Min: 3,
  Prod: 4,
} as const;
