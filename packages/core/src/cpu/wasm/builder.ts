// A small WebAssembly module builder: enough of the binary format (LEB128, sections, SIMD128) to emit
// Myriad's CPU kernels from TypeScript at load time. Only the features the kernels use are covered:
// one imported shared memory, i32/f32/v128 locals, structured control flow and direct calls.

/** Value types in the binary encoding. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
/** A WebAssembly value type byte. */
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Single-byte opcodes of the core instruction set used by the kernels. */
export const Op = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f64Load: 0x2b,
  i32Store: 0x36,
  f32Store: 0x38,
  f64Store: 0x39,
  i32Const: 0x41,
  f32Const: 0x43,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  f32Eq: 0x5b,
  f32Ne: 0x5c,
  f32Lt: 0x5d,
  f32Gt: 0x5e,
  f32Le: 0x5f,
  f32Ge: 0x60,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  f32Abs: 0x8b,
  f32Neg: 0x8c,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f32Min: 0x96,
  f32Max: 0x97,
  f64Add: 0xa0,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  i32TruncF32S: 0xa8,
  f32ConvertI32S: 0xb2,
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
  i32ReinterpretF32: 0xbc,
  f32ReinterpretI32: 0xbe,
} as const;

/** SIMD128 opcodes (encoded after the 0xfd prefix as LEB128). */
export const Simd = {
  v128Load: 0x00,
  load32Splat: 0x09,
  v128Store: 0x0b,
  v128Const: 0x0c,
  i8x16Shuffle: 0x0d,
  i32x4Splat: 0x11,
  f32x4Splat: 0x13,
  i32x4ExtractLane: 0x1b,
  f32x4ExtractLane: 0x1f,
  f32x4ReplaceLane: 0x20,
  f64x2ExtractLane: 0x21,
  i32x4Eq: 0x37,
  i32x4GtS: 0x3b,
  f32x4Eq: 0x41,
  f32x4Ne: 0x42,
  f32x4Lt: 0x43,
  f32x4Gt: 0x44,
  f32x4Le: 0x45,
  f32x4Ge: 0x46,
  v128Not: 0x4d,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Or: 0x50,
  v128Xor: 0x51,
  v128Bitselect: 0x52,
  v128AnyTrue: 0x53,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4Floor: 0x68,
  f32x4Nearest: 0x6a,
  i32x4AllTrue: 0xa3,
  i32x4Bitmask: 0xa4,
  i32x4Shl: 0xab,
  i32x4ShrS: 0xac,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  i32x4Mul: 0xb5,
  i32x4MaxS: 0xb8,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
  f64x2Add: 0xf0,
  i32x4TruncSatF32x4S: 0xf8,
  f32x4ConvertI32x4S: 0xfa,
} as const;

/** Appends the unsigned LEB128 encoding of `value` to `out`. */
function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Appends the signed LEB128 encoding of the 32-bit integer `value` to `out`. */
function sleb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function utf8(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** Emits one function body; locals are declared through `local()` and referenced by index. */
export class Code {
  readonly bytes: number[] = [];
  private readonly extraLocals: ValType[] = [];

  constructor(readonly params: readonly ValType[]) {}

  /** Declares a new local of type `t` and returns its index. */
  local(t: ValType): number {
    this.extraLocals.push(t);
    return this.params.length + this.extraLocals.length - 1;
  }

  /** Emits a plain opcode followed by raw immediate bytes. */
  op(opcode: number, ...imm: number[]): this {
    this.bytes.push(opcode, ...imm);
    return this;
  }

  /** Emits a SIMD instruction (0xfd prefix). */
  simd(opcode: number): this {
    this.bytes.push(0xfd);
    uleb(this.bytes, opcode);
    return this;
  }

  /** Emits a memory access with `align` as log2 bytes and a constant byte `offset`. */
  mem(opcode: number, align: number, offset = 0): this {
    this.bytes.push(opcode);
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }

  /** Emits a SIMD memory access (v128.load/store, load32_splat). */
  simdMem(opcode: number, align: number, offset = 0): this {
    this.simd(opcode);
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }

  /** Emits a lane instruction (extract/replace) with its lane index. */
  lane(opcode: number, laneIndex: number): this {
    this.simd(opcode);
    this.bytes.push(laneIndex);
    return this;
  }

  get(i: number): this {
    this.bytes.push(Op.localGet);
    uleb(this.bytes, i);
    return this;
  }

  set(i: number): this {
    this.bytes.push(Op.localSet);
    uleb(this.bytes, i);
    return this;
  }

  tee(i: number): this {
    this.bytes.push(Op.localTee);
    uleb(this.bytes, i);
    return this;
  }

  i32(value: number): this {
    this.bytes.push(Op.i32Const);
    sleb(this.bytes, value);
    return this;
  }

  f32(value: number): this {
    this.bytes.push(Op.f32Const);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  f64(value: number): this {
    this.bytes.push(Op.f64Const);
    const b = new Uint8Array(new Float64Array([value]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  /** v128.const with `value` in all four f32 lanes. */
  f32x4(value: number): this {
    this.simd(Simd.v128Const);
    const b = new Uint8Array(new Float32Array([value, value, value, value]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  /** v128.const with `value` in all four i32 lanes. */
  i32x4(value: number): this {
    this.simd(Simd.v128Const);
    const b = new Uint8Array(new Int32Array([value, value, value, value]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }

  /** memory.copy (bulk memory): pops dst, src, byte count. */
  memoryCopy(): this {
    this.bytes.push(0xfc);
    uleb(this.bytes, 10);
    this.bytes.push(0x00, 0x00);
    return this;
  }

  /** `local[i] += step` for an i32 local. */
  inc(i: number, step: number | { local: number }): this {
    this.get(i);
    if (typeof step === 'number') this.i32(step);
    else this.get(step.local);
    return this.op(Op.i32Add).set(i);
  }

  call(funcIndex: number): this {
    this.bytes.push(Op.call);
    uleb(this.bytes, funcIndex);
    return this;
  }

  /** `block ... end` with no result. */
  block(body: () => void): this {
    this.bytes.push(Op.block, 0x40);
    body();
    this.bytes.push(Op.end);
    return this;
  }

  /** `if ... (else ...) end` on the i32 on the stack, no result. */
  if(then: () => void, otherwise?: () => void): this {
    this.bytes.push(Op.if, 0x40);
    then();
    if (otherwise) {
      this.bytes.push(Op.else);
      otherwise();
    }
    this.bytes.push(Op.end);
    return this;
  }

  /** `if (result t) then else end`: each arm leaves one value of type `t`. */
  select(t: ValType, then: () => void, otherwise: () => void): this {
    this.bytes.push(Op.if, t);
    then();
    this.bytes.push(Op.else);
    otherwise();
    this.bytes.push(Op.end);
    return this;
  }

  /**
   * `for (i = start; i < end; i += step) body()` over i32 locals; `start`/`end` are locals or
   * constants. Inside `body`, `br 0` continues with the next `i` and `br 2` breaks out.
   */
  for(
    i: number,
    start: number | { local: number },
    end: { local: number } | number,
    step: number | { local: number },
    body: () => void,
  ): this {
    if (typeof start === 'number') this.i32(start);
    else this.get(start.local);
    this.set(i);
    this.bytes.push(Op.block, 0x40, Op.loop, 0x40);
    this.get(i);
    if (typeof end === 'number') this.i32(end);
    else this.get(end.local);
    this.op(Op.i32GeS).op(Op.brIf, 1);
    // The body sits in its own block so `br 0` inside it acts as `continue`.
    this.bytes.push(Op.block, 0x40);
    body();
    this.bytes.push(Op.end);
    this.inc(i, step);
    this.op(Op.br, 0);
    this.bytes.push(Op.end, Op.end);
    return this;
  }

  /** Encodes locals and body as a code-section entry. */
  encode(): number[] {
    const groups: Array<[number, ValType]> = [];
    for (const t of this.extraLocals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body: number[] = [];
    uleb(body, groups.length);
    for (const [n, t] of groups) {
      uleb(body, n);
      body.push(t);
    }
    body.push(...this.bytes, Op.end);
    const out: number[] = [];
    uleb(out, body.length);
    for (const b of body) out.push(b);
    return out;
  }
}

interface FuncDef {
  name: string | null;
  params: readonly ValType[];
  results: readonly ValType[];
  code: Code;
}

/**
 * Builds a module that imports `env.memory` (shared or not), defines functions (some exported) and
 * places constant data at `dataBase`, written by every instantiation (identical bytes, so harmless
 * when workers instantiate over the same shared memory).
 */
export class ModuleBuilder {
  private readonly funcs: FuncDef[] = [];
  private readonly data: number[] = [];
  private readonly dataIndex = new Map<string, number>();

  constructor(
    private readonly memory: { initialPages: number; maximumPages: number; shared: boolean },
    readonly dataBase = 32768,
    readonly dataLimit = 32768,
  ) {}

  /** Places 16 bytes (one v128 constant) in the data segment, once per distinct value; returns its address. */
  v128Data(bytes: Uint8Array): number {
    const key = Array.from(bytes).join(',');
    let at = this.dataIndex.get(key);
    if (at === undefined) {
      if (this.data.length + 16 > this.dataLimit) throw new Error(`ModuleBuilder: more than ${this.dataLimit} bytes of constants`);
      at = this.dataBase + this.data.length;
      for (const b of bytes) this.data.push(b);
      this.dataIndex.set(key, at);
    }
    return at;
  }

  /**
   * Declares a function and returns its index, so later functions can call it. `build` fills the
   * body; `name` exports it (null keeps it internal).
   */
  func(name: string | null, params: readonly ValType[], results: readonly ValType[], build: (c: Code) => void): number {
    const code = new Code(params);
    build(code);
    this.funcs.push({ name, params, results, code });
    return this.funcs.length - 1;
  }

  /** Serialises the module to its binary form. */
  toBytes(): Uint8Array<ArrayBuffer> {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, content: number[]): void => {
      out.push(id);
      uleb(out, content.length);
      for (const b of content) out.push(b);
    };
    // Type section: one signature per function (duplicates are allowed and keep this simple).
    const types: number[] = [];
    uleb(types, this.funcs.length);
    for (const f of this.funcs) {
      types.push(0x60);
      uleb(types, f.params.length);
      types.push(...f.params);
      uleb(types, f.results.length);
      types.push(...f.results);
    }
    section(1, types);
    // Import section: env.memory.
    const imports: number[] = [];
    uleb(imports, 1);
    utf8(imports, 'env');
    utf8(imports, 'memory');
    imports.push(0x02, this.memory.shared ? 0x03 : 0x01);
    uleb(imports, this.memory.initialPages);
    uleb(imports, this.memory.maximumPages);
    section(2, imports);
    // Function section: function i uses type i.
    const fnsec: number[] = [];
    uleb(fnsec, this.funcs.length);
    for (let i = 0; i < this.funcs.length; i++) uleb(fnsec, i);
    section(3, fnsec);
    // Export section.
    const exported = this.funcs.map((f, i) => [f, i] as const).filter(([f]) => f.name !== null);
    const exps: number[] = [];
    uleb(exps, exported.length);
    for (const [f, i] of exported) {
      utf8(exps, f.name as string);
      exps.push(0x00);
      uleb(exps, i);
    }
    section(7, exps);
    // Code section.
    const code: number[] = [];
    uleb(code, this.funcs.length);
    for (const f of this.funcs) code.push(...f.code.encode());
    section(10, code);
    // Data section: one active segment at dataBase.
    if (this.data.length > 0) {
      const data: number[] = [1, 0x00, Op.i32Const];
      sleb(data, this.dataBase);
      data.push(Op.end);
      uleb(data, this.data.length);
      for (const b of this.data) data.push(b);
      section(11, data);
    }
    return new Uint8Array(out);
  }
}
