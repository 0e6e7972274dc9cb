// Emits SIMD f32 versions of the transcendental elementwise ops (exp, erf, gelu, tanh, sigmoid,
// silu, and GELU's derivative geluGrad), where the plain kernels spend tens of nanoseconds per element in f64 Math calls. Each export
// is op(x, out, i0, i1): out[i] = f(x[i]) for i in [i0, i1), both multiples of 4 (the driver pads).
// Accuracy: exp, tanh, sigmoid, silu within a few f32 ulps; erf within 4e-7 absolute (so gelu within
// about 2e-7·|x| absolute, geluGrad within about 2e-7 plus a few ulps of x·φ(x)).
import { type Code, I32, type ModuleBuilder, Op, Simd, V128 } from './builder.js';

/** The ops with a WebAssembly version, and their export names. */
export const UNARY_EXPORTS = {
  exp: 'unaryExp',
  erf: 'unaryErf',
  gelu: 'unaryGelu',
  tanh: 'unaryTanh',
  sigmoid: 'unarySigmoid',
  silu: 'unarySilu',
  geluGrad: 'unaryGeluGrad',
} as const;
/** An elementwise op that has a WebAssembly version. */
export type WasmUnaryOp = keyof typeof UNARY_EXPORTS;

const LOG2E = 1.4426950408889634; // log2(e), the double nearest it
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444e-4;
const EXP_POLY = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
// erf(x) ≈ x·P(x²)/Q(x²) on [-4, 4] (the rational approximation used by Eigen and XLA).
const ERF_P = [
  -2.72614225801306e-10, 2.77068142495902e-8, -2.10102402082508e-6, -5.69250639462346e-5, -7.34990630326855e-4, -2.95459980854025e-3,
  -1.60960333262415e-2,
];
const ERF_Q = [-1.45660718464996e-5, -2.13374055278905e-4, -1.68282697438203e-3, -7.37332916720468e-3, -1.42647390514189e-2];
// tanh(x) = x + x·z·P(z), z = x², for |x| < 0.625 (Cephes tanhf).
const TANH_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];

/** Scratch locals the vector helpers share, and `k(v)`, which pushes the splatted constant v. */
interface Tmp {
  a: number;
  b: number;
  c: number;
  d: number;
  e: number;
  k: (value: number) => void;
  ki: (value: number) => void;
}

// V8 rebuilds a v128.const with three instructions at every use, even from a local; a v128.load
// from the module's constant data is one instruction (often folded into the arithmetic).
class ConstPool {
  constructor(
    private readonly c: Code,
    private readonly mb: ModuleBuilder,
  ) {}

  /** Pushes the constant with `value` in every f32 (or i32, with `int`) lane. */
  push(value: number, int = false): void {
    const lanes = int ? new Int32Array([value, value, value, value]) : new Float32Array([value, value, value, value]);
    const at = this.mb.v128Data(new Uint8Array(lanes.buffer));
    this.c.i32(0).simdMem(Simd.v128Load, 4, at);
  }
}

// Pushes P(local z) by Horner's rule.
function horner(c: Code, z: number, coef: readonly number[], t: Tmp): void {
  t.k(coef[0]!);
  for (let i = 1; i < coef.length; i++) {
    c.get(z).simd(Simd.f32x4Mul);
    t.k(coef[i]!);
    c.simd(Simd.f32x4Add);
  }
}

// Pushes min(max(local x, lo), hi); pmax/pmin with x first keep NaN and compile to one instruction.
function clamp(c: Code, x: number, lo: number, hi: number, t: Tmp): void {
  c.get(x);
  t.k(lo);
  c.simd(Simd.f32x4Pmax);
  t.k(hi);
  c.simd(Simd.f32x4Pmin);
}

// Adding 1.5·2^23 rounds to an integer, which then sits in the low mantissa bits (|n| < 2^22).
const ROUND_MAGIC = 12582912;

/**
 * Pushes exp of local `x` (all lanes). exp = 2^n·exp(r), n = round(x·log2 e); 2^n is applied as two
 * factors 2^(n>>1)·2^(n-(n>>1)) so results reach f32 denormals (x >= -104) and overflow to +inf
 * (x > 88.72) as Math.exp rounded to f32 does. NaN stays NaN.
 */
function emitExp(c: Code, x: number, t: Tmp): void {
  clamp(c, x, -104, 89, t);
  c.set(t.a);
  // kf = x·log2 e + magic: n = kf - magic as a float, and as an integer from kf's bits.
  c.get(t.a);
  t.k(LOG2E);
  c.simd(Simd.f32x4Mul);
  t.k(ROUND_MAGIC);
  c.simd(Simd.f32x4Add).set(t.c);
  c.get(t.c);
  t.k(ROUND_MAGIC);
  c.simd(Simd.f32x4Sub).set(t.b); // n
  c.get(t.a).get(t.b);
  t.k(LN2_HI);
  c.simd(Simd.f32x4Mul).simd(Simd.f32x4Sub).get(t.b);
  t.k(LN2_LO);
  c.simd(Simd.f32x4Mul).simd(Simd.f32x4Sub).set(t.a); // r
  horner(c, t.a, EXP_POLY, t);
  c.get(t.a).get(t.a).simd(Simd.f32x4Mul).simd(Simd.f32x4Mul).get(t.a).simd(Simd.f32x4Add);
  t.k(1);
  c.simd(Simd.f32x4Add);
  c.get(t.c);
  t.ki(0x4b400000); // bits of the magic: n as i32
  c.simd(Simd.i32x4Sub).set(t.b);
  c.get(t.b).i32(1).simd(Simd.i32x4ShrS).set(t.c); // n1 = n >> 1
  c.get(t.c);
  t.ki(127);
  c.simd(Simd.i32x4Add).i32(23).simd(Simd.i32x4Shl).simd(Simd.f32x4Mul);
  c.get(t.b).get(t.c).simd(Simd.i32x4Sub);
  t.ki(127);
  c.simd(Simd.i32x4Add).i32(23).simd(Simd.i32x4Shl).simd(Simd.f32x4Mul);
}

// Pushes erf of local `x`.
function emitErf(c: Code, x: number, t: Tmp): void {
  clamp(c, x, -4, 4, t);
  c.set(t.a);
  c.get(t.a).get(t.a).simd(Simd.f32x4Mul).set(t.b);
  horner(c, t.b, ERF_P, t);
  c.get(t.a).simd(Simd.f32x4Mul);
  horner(c, t.b, ERF_Q, t);
  c.simd(Simd.f32x4Div);
}

type Body = (c: Code, v: number, t: Tmp) => void;

const BODIES: Record<WasmUnaryOp, Body> = {
  exp: (c, v, t) => emitExp(c, v, t),
  erf: (c, v, t) => emitErf(c, v, t),
  // 0.5·x·(1 + erf(x/√2)), the same formula as the plain kernel.
  gelu: (c, v, t) => {
    c.get(v);
    t.k(Math.SQRT1_2);
    c.simd(Simd.f32x4Mul).set(t.d);
    c.get(v);
    t.k(0.5);
    c.simd(Simd.f32x4Mul); // (0.5·x) first, so x near f32 max does not overflow
    emitErf(c, t.d, t);
    t.k(1);
    c.simd(Simd.f32x4Add).simd(Simd.f32x4Mul);
  },
  // Φ(x) + x·φ(x) = 0.5·(1 + erf(x/√2)) + (x·(1/√(2π)))·exp(-0.5·x·x), the plain kernel's formula.
  geluGrad: (c, v, t) => {
    c.get(v);
    t.k(Math.SQRT1_2);
    c.simd(Simd.f32x4Mul).set(t.d);
    emitErf(c, t.d, t);
    t.k(1);
    c.simd(Simd.f32x4Add);
    t.k(0.5);
    c.simd(Simd.f32x4Mul);
    c.get(v);
    t.k(-0.5);
    c.simd(Simd.f32x4Mul).get(v).simd(Simd.f32x4Mul).set(t.d);
    c.get(v);
    t.k(0.3989422804014327);
    c.simd(Simd.f32x4Mul);
    emitExp(c, t.d, t);
    // exp clamps its argument at -104; below that (x = ±inf included) use exp = 0 as Math.exp does,
    // so ±inf gives NaN (inf·0) like the plain kernel.
    c.get(t.d);
    t.k(-104);
    c.simd(Simd.f32x4Ge).simd(Simd.v128And);
    c.simd(Simd.f32x4Mul).simd(Simd.f32x4Add);
  },
  // 1 / (1 + exp(-x)) as (x < 0 ? e : 1) / (1 + e) with e = exp(-|x|): exp(-x) overflows f32 below -88.72,
  // which gave 0 where the plain kernel (Math.exp in f64) gives a denormal such as 2.2e-39.
  sigmoid: (c, v, t) => {
    c.get(v).simd(Simd.f32x4Abs).simd(Simd.f32x4Neg).set(t.d);
    emitExp(c, t.d, t);
    c.set(t.e);
    c.get(t.e);
    t.k(1);
    c.get(v);
    t.k(0);
    c.simd(Simd.f32x4Lt).simd(Simd.v128Bitselect); // x < 0 ? e : 1
    t.k(1);
    c.get(t.e).simd(Simd.f32x4Add).simd(Simd.f32x4Div); // (x < 0 ? e : 1) / (1 + e)
  },
  // x / (1 + exp(-x)), with e = exp(-|x|) so nothing overflows: x/(1 + e) for x >= 0 and x·e/(1 + e)
  // for x < 0 (exp(-x) would overflow f32 below -88.72, where Math.exp in f64 does not). x = -inf
  // gives NaN, as the plain kernel's -inf/inf does.
  silu: (c, v, t) => {
    c.get(v).simd(Simd.f32x4Abs).simd(Simd.f32x4Neg).set(t.d);
    emitExp(c, t.d, t);
    c.set(t.e);
    c.get(v);
    t.k(1);
    c.get(t.e).simd(Simd.f32x4Add).simd(Simd.f32x4Div); // x / (1 + e)
    c.get(t.e);
    t.k(1);
    c.get(v);
    t.k(0);
    c.simd(Simd.f32x4Lt).simd(Simd.v128Bitselect); // x < 0 ? e : 1
    c.simd(Simd.f32x4Mul).set(t.d);
    t.k(NaN);
    c.get(t.d);
    c.get(v);
    t.k(-Infinity);
    c.simd(Simd.f32x4Eq).simd(Simd.v128Bitselect); // x = -inf ? NaN : the above
  },
  // |x| < 0.625: x + x·z·P(z); otherwise sign(x)·(1 - 2/(exp(2|x|) + 1)).
  tanh: (c, v, t) => {
    c.get(v).simd(Simd.f32x4Abs).set(t.e);
    c.get(t.e).get(t.e).simd(Simd.f32x4Add).set(t.d);
    t.k(1);
    t.k(2);
    emitExp(c, t.d, t);
    t.k(1);
    c.simd(Simd.f32x4Add).simd(Simd.f32x4Div).simd(Simd.f32x4Sub); // 1 - 2/(e+1), >= 0
    // copy the sign of x: (|result| bits) | (x bits & sign mask)
    c.get(v);
    t.ki(-0x80000000);
    c.simd(Simd.v128And).simd(Simd.v128Or).set(t.d);
    c.get(v).get(v).simd(Simd.f32x4Mul).set(t.a);
    horner(c, t.a, TANH_P, t);
    c.get(v).get(t.a).simd(Simd.f32x4Mul).simd(Simd.f32x4Mul).get(v).simd(Simd.f32x4Add);
    c.get(t.d);
    c.get(t.e);
    t.k(0.625);
    c.simd(Simd.f32x4Lt);
    c.simd(Simd.v128Bitselect); // small ? polynomial : exp form
  },
};

/** Adds one export per op in UNARY_EXPORTS: name(x, out, i0, i1), byte addresses, element bounds. */
export function emitUnary(mb: ModuleBuilder): void {
  for (const [op, name] of Object.entries(UNARY_EXPORTS) as Array<[WasmUnaryOp, string]>) {
    mb.func(name, [I32, I32, I32, I32], [], (c) => {
      const [x, out, i0, i1] = [0, 1, 2, 3];
      const i = c.local(I32);
      const off = c.local(I32);
      const v = c.local(V128);
      const pool = new ConstPool(c, mb);
      const t: Tmp = {
        a: c.local(V128),
        b: c.local(V128),
        c: c.local(V128),
        d: c.local(V128),
        e: c.local(V128),
        k: (value) => pool.push(value),
        ki: (value) => pool.push(value, true),
      };
      c.for(i, { local: i0 }, { local: i1 }, 4, () => {
        c.get(i).i32(2).op(Op.i32Shl).set(off);
        c.get(x).get(off).op(Op.i32Add).simdMem(Simd.v128Load, 2).set(v);
        c.get(out).get(off).op(Op.i32Add);
        BODIES[op](c, v, t);
        c.simdMem(Simd.v128Store, 2);
      });
    });
  }
}
