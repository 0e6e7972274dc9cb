import { type Backend, type Storage, type View } from './backend.js';
import { cpuBackend } from './cpu/cpu-backend.js';
import { cpuBufferPool } from './cpu/buffer-pool.js';
import { densifyGrad, isWholeStorage, runBackward, type GradNode } from './autograd.js';
import type { DType, TypedArray } from './dtype.js';
import { fmt } from './errors.js';
import { contiguousStrides, isContiguousLayout, shapeSize, shapesEqual } from './shape.js';
import { SparseGrad } from './sparse-grad.js';
import * as ew from './ops/elementwise.js';
import * as red from './ops/reduce.js';
import * as mv from './ops/movement.js';
import * as idx from './ops/indexing.js';
import * as nn from './ops/nn.js';
import * as sorting from './ops/sort.js';
import * as tri from './ops/triangular.js';
import { isBackend, toBackend, toBackendAsync } from './ops/device.js';
import { matmul } from './ops/linalg.js';
import { DTYPES } from './dtype.js';
import { formatTensor } from './format.js';

type Operand = Tensor | number;

/** A shape or dim list given as one array or as separate numbers (PyTorch's varargs: `x.reshape(2, 3)`). */
type DimsArgs = [readonly number[]] | number[];

function dimsOf(op: string, args: DimsArgs): readonly number[] {
  if (args.length === 1 && Array.isArray(args[0])) return args[0] as readonly number[];
  if (args.some((a) => typeof a !== 'number'))
    throw new TypeError(`${op}: expected one array of dims or separate numbers, got ${JSON.stringify(args)}`);
  return args as number[];
}

/** Node's hook for console.log / util.inspect (a global symbol, so no node: import). */
const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/** Nested arrays of numbers, as returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on a backend, with the method forms of every op. A tensor is a view
 * (shape, strides, offset) onto storage; views made by reshape/transpose/permute/slice/expand share it.
 */
export class Tensor implements View {
  readonly size: number;
  /** Gradient accumulated by `backward()` (leaves only); a SparseGrad for row-sparse lookups. */
  grad: Tensor | SparseGrad | null = null;
  private _requiresGrad = false;
  private _node: GradNode | null = null;

  private constructor(
    readonly backend: Backend,
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly strides: readonly number[],
    readonly offset: number,
  ) {
    this.size = shapeSize(shape);
  }

  /** @internal Wraps backend storage; `strides`/`offset` describe a view (contiguous from 0 by default). */
  static _make(
    backend: Backend,
    storage: Storage,
    shape: readonly number[],
    dtype: DType,
    strides?: readonly number[],
    offset = 0,
  ): Tensor {
    return new Tensor(
      backend,
      storage,
      Object.freeze([...shape]),
      dtype,
      Object.freeze(strides ? [...strides] : contiguousStrides(shape)),
      offset,
    );
  }

  /** @internal A view sharing this tensor's storage. */
  _view(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return Tensor._make(this.backend, this.storage, shape, this.dtype, strides, offset);
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Whether gradients flow to (and, for leaves, accumulate in) this tensor. */
  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(on: boolean) {
    if (this._node !== null && !on) throw new Error('requiresGrad: cannot turn off gradients of a non-leaf tensor; use detach()');
    if (on && this.dtype === 'int32') throw new TypeError('requiresGrad: only float tensors can require gradients, got int32');
    this._requiresGrad = on;
  }

  /** The gradient as a dense Tensor (a SparseGrad densified), or null before backward(): `.grad` without a cast. */
  denseGrad(): Tensor | null {
    return this.grad === null ? null : densifyGrad(this.grad);
  }

  /** Sets requiresGrad and returns this (chainable). */
  requiresGrad_(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  /** The node that produced this tensor, or null for a leaf. */
  get gradNode(): GradNode | null {
    return this._node;
  }

  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this._node === null;
  }

  /** @internal Used by `record`. */
  _setNode(node: GradNode): void {
    this._node = node;
    this._requiresGrad = true;
  }

  /** Whether elements are laid out row-major without gaps (offset may be non-zero). */
  isContiguous(): boolean {
    return isContiguousLayout(this.shape, this.strides);
  }

  /**
   * The live typed array behind a contiguous CPU tensor that owns its whole storage: writes are
   * visible to the tensor (optimizers update parameters through it). Throws otherwise. The array is
   * taken out of the CPU backend's buffer reuse, so it (and any subarray of it) stays the tensor's.
   */
  get data(): TypedArray {
    const host = this.backend.hostData(this.storage);
    if (host === null) throw new Error(`data: the ${this.backend.name} backend keeps tensors on the device; use read() or toTypedArray()`);
    if (!isWholeStorage(this, host)) {
      throw new Error(`data: tensor ${fmt(this.shape)} is a strided view of larger storage; call contiguous() or clone() first`);
    }
    cpuBufferPool.pin(host);
    return host;
  }

  /** A contiguous copy of the elements. */
  toTypedArray(): TypedArray {
    return this.backend.readSync(this);
  }

  /** Resolves to a contiguous copy of the elements, on every backend. */
  read(): Promise<TypedArray> {
    return this.backend.read(this);
  }

  /** The elements as nested arrays. */
  toArray(): NestedArray {
    const flat = this.toTypedArray();
    if (this.ndim === 0) return flat[0]!;
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = this.shape[dim]!;
      const inner = shapeSize(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(dim === this.ndim - 1 ? flat[offset + i]! : build(dim + 1, offset + i * inner));
      return out;
    };
    return build(0, 0);
  }

  /** The single element of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements; expected exactly 1`);
    return this.toTypedArray()[0]!;
  }

  /**
   * Backpropagates from this tensor, accumulating into `.grad` of every leaf that requires grad.
   * A one-element tensor needs no `grad`; others need a gradient of their own shape.
   */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad)
      throw new Error('backward: tensor does not require grad (no input had requiresGrad = true, or it was computed under noGrad)');
    let g: Tensor;
    if (grad === undefined) {
      if (this.size !== 1) throw new Error(`backward: output of shape ${fmt(this.shape)} is not a scalar; pass a gradient of that shape`);
      g = ew.onesOf(this);
    } else {
      if (!shapesEqual(grad.shape, this.shape)) {
        throw new Error(`backward: gradient shape ${fmt(grad.shape)} does not match output shape ${fmt(this.shape)}`);
      }
      g = grad;
    }
    runBackward(this, g);
  }

  /** The same data, cut from the graph. */
  detach(): Tensor {
    return this._view(this.shape, this.strides, this.offset);
  }

  /** A contiguous copy that owns its storage (differentiable). */
  clone(): Tensor {
    return mv.clone(this);
  }

  /** This tensor if contiguous, else a contiguous copy (differentiable). */
  contiguous(): Tensor {
    return mv.contiguous(this);
  }

  /**
   * Converts to another dtype (differentiable between float dtypes), or copies to another backend
   * (`t.to(gpu)`, `t.to('cpu')`; differentiable: the gradient moves back). Other targets throw a TypeError.
   */
  to(target: DType | 'cpu' | Backend): Tensor {
    if (typeof target === 'string') {
      if ((DTYPES as readonly string[]).includes(target)) return ew.cast(this, target as DType);
      if (target === 'cpu') return toBackend(this, cpuBackend);
    } else if (isBackend(target)) {
      return toBackend(this, target);
    }
    throw new TypeError(
      `to: unknown target ${describeTarget(target)}; expected a dtype (${DTYPES.map((d) => `'${d}'`).join(', ')}), 'cpu', or a Backend such as gpuBackend()`,
    );
  }

  /** `to(backend)` for backends that can only be read asynchronously (WebGPU). */
  toAsync(target: 'cpu' | Backend): Promise<Tensor> {
    if (target === 'cpu') return toBackendAsync(this, cpuBackend);
    if (!isBackend(target))
      return Promise.reject(new TypeError(`toAsync: unknown target ${describeTarget(target)}; expected 'cpu' or a Backend`));
    return toBackendAsync(this, target);
  }

  /** @internal Moves this leaf's elements (and its gradient) to `backend` in place, keeping its identity (module.to). */
  _moveTo(backend: Backend): void {
    if (this.backend === backend) return;
    if (!this.isLeaf) throw new Error(`to: only leaf tensors move in place; ${fmt(this.shape)} was produced by ${this._node!.op}`);
    const moved = toBackend(this.detach(), backend);
    const self = this as unknown as { backend: Backend; storage: Storage; strides: readonly number[]; offset: number };
    self.backend = backend;
    self.storage = moved.storage;
    self.strides = moved.strides;
    self.offset = 0;
    const g = this.grad;
    if (g instanceof SparseGrad) this.grad = new SparseGrad(toBackend(g.indices, backend), toBackend(g.values, backend), g.shape);
    else if (g !== null) this.grad = toBackend(g, backend);
  }

  /** Copies `src`'s values into this tensor in place (no gradient). */
  assign(src: Tensor | number): this {
    mv.assign(this, src);
    return this;
  }

  /** The values as PyTorch prints them (summarised past 1000 elements), with shape, dtype and gradient state. */
  toString(): string {
    return formatTensor(this);
  }

  /** What console.log shows in Node: the same text as toString(). */
  [inspectCustom](): string {
    return formatTensor(this);
  }

  // ---- method forms of the ops (see ops/ for documentation) ----
  add(b: Operand) {
    return ew.add(this, b);
  }
  sub(b: Operand) {
    return ew.sub(this, b);
  }
  mul(b: Operand) {
    return ew.mul(this, b);
  }
  div(b: Operand) {
    return ew.div(this, b);
  }
  pow(b: Operand) {
    return ew.pow(this, b);
  }
  maximum(b: Operand) {
    return ew.maximum(this, b);
  }
  minimum(b: Operand) {
    return ew.minimum(this, b);
  }
  eq(b: Operand) {
    return ew.eq(this, b);
  }
  ne(b: Operand) {
    return ew.ne(this, b);
  }
  lt(b: Operand) {
    return ew.lt(this, b);
  }
  le(b: Operand) {
    return ew.le(this, b);
  }
  gt(b: Operand) {
    return ew.gt(this, b);
  }
  ge(b: Operand) {
    return ew.ge(this, b);
  }
  neg() {
    return ew.neg(this);
  }
  exp() {
    return ew.exp(this);
  }
  log() {
    return ew.log(this);
  }
  sqrt() {
    return ew.sqrt(this);
  }
  abs() {
    return ew.abs(this);
  }
  tanh() {
    return ew.tanh(this);
  }
  sigmoid() {
    return ew.sigmoid(this);
  }
  relu() {
    return ew.relu(this);
  }
  gelu() {
    return ew.gelu(this);
  }
  silu() {
    return ew.silu(this);
  }
  erf() {
    return ew.erf(this);
  }
  square() {
    return ew.square(this);
  }
  sign() {
    return ew.sign(this);
  }
  reciprocal() {
    return ew.reciprocal(this);
  }
  clamp(min?: Operand, max?: Operand) {
    return ew.clamp(this, min, max);
  }
  sin() {
    return ew.sin(this);
  }
  cos() {
    return ew.cos(this);
  }
  matmul(b: Tensor) {
    return matmul(this, b);
  }
  sum(dim?: number | readonly number[], keepdim = false) {
    return red.sum(this, dim, keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false) {
    return red.mean(this, dim, keepdim);
  }
  max(dim?: number | readonly number[], keepdim = false) {
    return red.max(this, dim, keepdim);
  }
  min(dim?: number | readonly number[], keepdim = false) {
    return red.min(this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false) {
    return red.argmax(this, dim, keepdim);
  }
  var(dim?: number | readonly number[], options?: red.VarianceOptions) {
    return red.variance(this, dim, options);
  }
  std(dim?: number | readonly number[], options?: red.VarianceOptions) {
    return red.std(this, dim, options);
  }
  sort(dim = -1, descending = false) {
    return sorting.sort(this, dim, descending);
  }
  argsort(dim = -1, descending = false) {
    return sorting.argsort(this, dim, descending);
  }
  cumsum(dim = -1) {
    return red.cumsum(this, dim);
  }
  softmax(dim = -1) {
    return nn.softmax(this, dim);
  }
  logSoftmax(dim = -1) {
    return nn.logSoftmax(this, dim);
  }
  logsumexp(dim: number | readonly number[] = -1, keepdim = false) {
    return nn.logsumexp(this, dim, keepdim);
  }
  reshape(shape: readonly number[]): Tensor;
  reshape(...shape: number[]): Tensor;
  reshape(...shape: DimsArgs) {
    return mv.reshape(this, dimsOf('reshape', shape));
  }
  /** PyTorch's `view`: the same as reshape (a view whenever the layout allows, else a copy). */
  view(shape: readonly number[]): Tensor;
  view(...shape: number[]): Tensor;
  view(...shape: DimsArgs) {
    return mv.reshape(this, dimsOf('view', shape));
  }
  transpose(dim0 = -2, dim1 = -1) {
    return mv.transpose(this, dim0, dim1);
  }
  permute(dims: readonly number[]): Tensor;
  permute(...dims: number[]): Tensor;
  permute(...dims: DimsArgs) {
    return mv.permute(this, dimsOf('permute', dims));
  }
  expand(shape: readonly number[]): Tensor;
  expand(...shape: number[]): Tensor;
  expand(...shape: DimsArgs) {
    return mv.expand(this, dimsOf('expand', shape));
  }
  split(sizeOrSections: number | readonly number[], dim = 0) {
    return mv.split(this, sizeOrSections, dim);
  }
  chunk(chunks: number, dim = 0) {
    return mv.chunk(this, chunks, dim);
  }
  tril(diagonal = 0) {
    return tri.tril(this, diagonal);
  }
  triu(diagonal = 0) {
    return tri.triu(this, diagonal);
  }
  slice(dim: number, start?: number, end?: number) {
    return mv.slice(this, dim, start, end);
  }
  unsqueeze(dim: number) {
    return mv.unsqueeze(this, dim);
  }
  squeeze(dim?: number) {
    return mv.squeeze(this, dim);
  }
  flatten(startDim = 0, endDim = -1) {
    return mv.flatten(this, startDim, endDim);
  }
  concat(others: readonly Tensor[], dim = 0) {
    return mv.concat([this, ...others], dim);
  }
  gather(dim: number, index: Tensor) {
    return idx.gather(this, dim, index);
  }
  indexSelect(dim: number, indices: Tensor) {
    return idx.indexSelect(this, dim, indices);
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor) {
    return idx.scatterAdd(this, dim, index, src);
  }
  topk(k: number, dim = -1) {
    return idx.topk(this, k, dim);
  }
  maskedFill(mask: Tensor, value: number) {
    return idx.maskedFill(this, mask, value);
  }
  /** torch's `x.where(cond, other)`: x where cond is non-zero, else other. */
  where(cond: Tensor, other: Operand) {
    return idx.where(cond, this, other);
  }
}

function describeTarget(target: unknown): string {
  if (typeof target === 'string') return `'${target}'`;
  if (target === null || typeof target !== 'object') return String(target);
  return `${(target as object).constructor?.name ?? 'object'} (not a Backend: it lacks name/fromTypedArray/readSync)`;
}
