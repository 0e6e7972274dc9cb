import { describe, expect, it } from 'vitest';
import * as core from '@myriad/core';
import { ShapeError, tensor } from '@myriad/core';

// Bad input throws an error whose message names the op and the offending shapes or values.
const i32 = (d: number[] | number[][]) => tensor(d, { dtype: 'int32' });
type Case = [string, () => unknown, ErrorConstructor | typeof ShapeError, string];

const cases: Record<string, Case[]> = {
  'mismatched shapes': [
    [
      'matmul inner dims',
      () => core.matmul(core.zeros([2, 3]), core.zeros([4, 5])),
      ShapeError,
      'matmul: inner dimensions differ: [2,3] @ [4,5]',
    ],
    [
      'matmul batch dims',
      () => core.matmul(core.zeros([2, 2, 3]), core.zeros([3, 3, 4])),
      ShapeError,
      'matmul: batch dims [2] and [3] cannot be broadcast: [2,2,3] @ [3,3,4]',
    ],
    [
      'matmul scalar',
      () => core.matmul(core.zeros([]), core.zeros([3])),
      ShapeError,
      'matmul: both operands need at least 1 dim, got [] @ [3]',
    ],
    [
      'add',
      () => core.add(core.zeros([2, 3]), core.zeros([3, 2])),
      ShapeError,
      'add: shapes [2,3] and [3,2] cannot be broadcast (dim -2: 2 vs 3)',
    ],
    ['where', () => core.where(core.zeros([2]), core.zeros([3]), 0), ShapeError, 'where: shapes [2] and [3] cannot be broadcast'],
    ['reshape', () => core.zeros([2, 3]).reshape([4, 2]), ShapeError, 'reshape: cannot reshape [2,3] (6 elements) to [4,2] (8 elements)'],
    ['reshape -1', () => core.zeros([2, 3]).reshape([4, -1]), ShapeError, 'reshape: cannot reshape [2,3] (6 elements) to [4,-1]'],
    [
      'expand',
      () => core.zeros([2, 3]).expand([4, 3]),
      ShapeError,
      'expand: cannot expand [2,3] to [4,3] (dim 0: 2 -> 4; only size-1 dims expand)',
    ],
    ['permute', () => core.zeros([2, 3]).permute([0, 0]), ShapeError, 'permute: dims [0,0] are not a permutation of 0..1'],
    [
      'concat',
      () => core.concat([core.zeros([2, 3]), core.zeros([2, 4])], 0),
      ShapeError,
      'concat: shapes [2,3], [2,4] differ outside dim 0',
    ],
    [
      'stack',
      () => core.stack([core.zeros([2, 3]), core.zeros([3, 2])]),
      ShapeError,
      'stack: all tensors must have the same shape, got [2,3], [3,2]',
    ],
    [
      'gather rank',
      () => core.gather(core.zeros([2, 3]), 1, i32([1])),
      ShapeError,
      "gather: index [1] must have x's rank and fit inside x [2,3] outside dim 1",
    ],
    [
      'scatterAdd',
      () => core.scatterAdd(core.zeros([3]), 0, i32([1, 2]), tensor([1])),
      ShapeError,
      'scatterAdd: index [2] and src [1] must have the same shape, fitting x [3] outside dim 0',
    ],
    [
      'crossEntropy',
      () => core.crossEntropy(core.zeros([2, 3]), i32([0, 1, 2])),
      ShapeError,
      'crossEntropy: targets [3] must equal logits [2,3] without the last (class) dim',
    ],
    [
      'layerNorm weight',
      () => core.layerNorm(core.zeros([2, 3]), 1, core.ones([4])),
      ShapeError,
      'layerNorm: weight [4] must have the normalized shape [3]',
    ],
    [
      'maskedFill',
      () => core.maskedFill(core.zeros([2]), core.zeros([3, 2]), 1),
      ShapeError,
      'maskedFill: mask [3,2] must broadcast to x [2]',
    ],
    [
      'tensor fill',
      () => tensor(new Float32Array(5), { shape: [2, 3] }),
      ShapeError,
      'tensor: 5 values do not fill shape [2,3] (6 elements)',
    ],
    ['tensor ragged', () => tensor([[1, 2], [3]]), ShapeError, 'tensor: ragged nested array at [1]; expected length 2 (shape [2,2])'],
    ['item', () => core.zeros([2]).item(), RangeError, 'item: tensor of shape [2] has 2 elements; expected exactly 1'],
    [
      'split sections',
      () => core.split(core.zeros([5, 2]), [2, 2]),
      ShapeError,
      'split: sections [2,2] must be non-negative integers summing to 5 (dim 0 of [5,2]), got sum 4',
    ],
    [
      'tril of a vector',
      () => core.tril(core.zeros([3])),
      ShapeError,
      'tril: needs at least 2 dims (a matrix or a batch of them), got [3]',
    ],
    [
      'mseLoss',
      () => core.mseLoss(core.zeros([2, 3]), core.zeros([3])),
      ShapeError,
      'mseLoss: input [2,3] and target [3] must have the same shape',
    ],
    [
      'binaryCrossEntropyWithLogits',
      () => core.binaryCrossEntropyWithLogits(core.zeros([4]), core.zeros([4, 1])),
      ShapeError,
      'binaryCrossEntropyWithLogits: input [4] and target [4,1] must have the same shape',
    ],
  ],
  'wrong dtype': [
    [
      'gather index',
      () => core.gather(core.zeros([2, 3]), 1, core.zeros([2, 1])),
      TypeError,
      'gather: index must be int32, got float32 [2,1]',
    ],
    [
      'indexSelect indices',
      () => core.indexSelect(core.zeros([4, 2]), 0, tensor([1])),
      TypeError,
      'indexSelect: indices must be int32, got float32 [1]',
    ],
    [
      'crossEntropy targets',
      () => core.crossEntropy(core.zeros([2, 3]), core.zeros([2])),
      TypeError,
      'crossEntropy: targets must be int32, got float32 [2]',
    ],
    [
      'crossEntropy logits',
      () => core.crossEntropy(core.zeros([2, 3], { dtype: 'int32' }), i32([0, 1])),
      TypeError,
      'crossEntropy: expected a float tensor, got int32 [2,3]',
    ],
    ['softmax', () => core.softmax(core.zeros([2], { dtype: 'int32' })), TypeError, 'softmax: expected a float tensor, got int32 [2]'],
    [
      'concat',
      () => core.concat([core.zeros([2]), core.zeros([2], { dtype: 'float64' })]),
      TypeError,
      'concat: dtypes differ (float32 vs float64)',
    ],
    [
      'unknown dtype',
      () => core.zeros([2], { dtype: 'float16' as core.DType }),
      TypeError,
      "zeros: unknown dtype 'float16'; expected one of float32, float64, int32",
    ],
    ['oneHot indices', () => core.oneHot(core.zeros([2]), 3), TypeError, 'oneHot: indices must be int32, got float32 [2]'],
    [
      'l1Loss int input',
      () => core.l1Loss(core.zeros([2], { dtype: 'int32' }), core.zeros([2])),
      TypeError,
      'l1Loss: expected a float tensor, got int32 [2]',
    ],
    [
      'to float16',
      () => core.zeros([2]).to('float16' as core.DType),
      TypeError,
      "to: unknown target 'float16'; expected a dtype ('float32', 'float64', 'int32'), 'cpu', or a Backend",
    ],
    [
      'to a non-backend',
      () => core.zeros([2]).to({} as core.Backend),
      TypeError,
      'to: unknown target Object (not a Backend: it lacks name/fromTypedArray/readSync)',
    ],
    ['noGrad async', () => core.noGrad(async () => 1), TypeError, 'noGrad: fn is async (returned a Promise)'],
    ['noGrad returning a promise', () => core.noGrad(() => Promise.resolve(1)), TypeError, 'noGrad: fn is async (returned a Promise)'],
    [
      'reshape varargs',
      () => core.zeros([6]).reshape(2, [3] as unknown as number),
      TypeError,
      'reshape: expected one array of dims or separate numbers, got [2,[3]]',
    ],
    [
      'randn int32',
      () => core.randn([2], { dtype: 'int32' }),
      TypeError,
      'randn: dtype must be float32 or float64, got int32 (use randint)',
    ],
  ],
  'out-of-range dims': [
    ['sum', () => core.sum(core.zeros([2, 3]), 2), RangeError, 'sum: dim 2 out of range for shape [2,3]; expected an integer in [-2, 1]'],
    ['softmax', () => core.softmax(core.zeros([2, 3]), -3), RangeError, 'softmax: dim -3 out of range for shape [2,3]'],
    ['transpose', () => core.transpose(core.zeros([2, 3]), 0, 5), RangeError, 'transpose: dim 5 out of range for shape [2,3]'],
    ['topk', () => core.topk(core.zeros([2, 3]), 1, 2), RangeError, 'topk: dim 2 out of range for shape [2,3]'],
    ['argmax', () => core.zeros([2, 1]).argmax(2), RangeError, 'argmax: dim 2 out of range for shape [2,1]'],
    ['slice', () => core.zeros([2]).slice(1, 0, 1), RangeError, 'slice: dim 1 out of range for shape [2]'],
    ['mean repeated', () => core.zeros([2, 1]).mean([0, 0]), RangeError, 'mean: repeated dim in [0,0]'],
    ['layerNorm dims', () => core.layerNorm(core.zeros([2, 3]), 3), RangeError, 'layerNorm: normalizedDims 3 must be in [1, 2] for [2,3]'],
    ['flatten', () => core.zeros([2, 3, 4]).flatten(2, 1), RangeError, 'flatten: startDim 2 comes after endDim 1 for [2,3,4]'],
    ['sort', () => core.sort(core.zeros([2, 3]), 2), RangeError, 'sort: dim 2 out of range for shape [2,3]'],
    ['var', () => core.zeros([2, 3]).var(-3), RangeError, 'var: dim -3 out of range for shape [2,3]'],
    ['split', () => core.zeros([2, 3]).split(1, 2), RangeError, 'split: dim 2 out of range for shape [2,3]'],
  ],
  'out-of-range indices and values': [
    ['gather', () => core.gather(core.zeros([2, 3]), 1, i32([[5], [0]])), RangeError, 'gather: index 5 out of range for dim 1 of size 3'],
    [
      'gather negative',
      () => core.gather(core.zeros([2, 3]), 1, i32([[-1], [0]])),
      RangeError,
      'gather: index -1 out of range for dim 1 of size 3',
    ],
    [
      'indexSelect',
      () => core.indexSelect(core.zeros([4, 2]), 0, i32([1, 4])),
      RangeError,
      'indexSelect: index 4 out of range for dim 0 of size 4',
    ],
    [
      'scatterAdd',
      () => core.scatterAdd(core.zeros([3]), 0, i32([3]), tensor([1])),
      RangeError,
      'scatterAdd: index 3 out of range for dim 0 of size 3',
    ],
    [
      'crossEntropy target',
      () => core.crossEntropy(core.zeros([2, 3]), i32([0, 3])),
      RangeError,
      'crossEntropy: target 3 at flat index 1 out of range for 3 classes',
    ],
    ['dropout p', () => core.dropout(core.zeros([2]), 1), RangeError, 'dropout: p=1 must be in [0, 1)'],
    ['clamp', () => core.clamp(core.zeros([2]), 1, 0), RangeError, 'clamp: min 1 > max 0'],
    [
      'oneHot index',
      () => core.oneHot(i32([0, 3]), 3),
      RangeError,
      'oneHot: index 3 at flat index 1 out of range for 3 classes; expected 0 <= index < 3',
    ],
    ['linspace steps', () => core.linspace(0, 1, -1), RangeError, 'linspace: steps must be a non-negative integer, got -1'],
    ['split size', () => core.split(core.zeros([4]), 0), RangeError, 'split: size 0 must be a positive integer'],
    ['chunk count', () => core.chunk(core.zeros([4]), 1.5), RangeError, 'chunk: chunks 1.5 must be a positive integer'],
    ['tril diagonal', () => core.triu(core.zeros([2, 2]), 0.5), RangeError, 'triu: diagonal must be an integer, got 0.5'],
    [
      'loss reduction',
      () => core.mseLoss(core.zeros([2]), core.zeros([2]), { reduction: 'avg' as core.Reduction }),
      RangeError,
      `mseLoss: reduction "avg" must be 'mean', 'sum' or 'none'`,
    ],
    ['max of empty dim', () => core.zeros([0, 2]).max(0), RangeError, 'max: cannot reduce an empty dim of shape [0,2]'],
    ['zeros shape', () => core.zeros([2, -1]), ShapeError, 'zeros: invalid shape [2,-1]; expected non-negative integers'],
  ],
  'k > size': [
    ['topk k > n', () => core.topk(core.zeros([2, 3]), 4), RangeError, 'topk: k=4 must be an integer in [0, 3] (size of dim -1 in [2,3])'],
    [
      'topk k > n along dim 0',
      () => core.topk(core.zeros([2, 3]), 3, 0),
      RangeError,
      'topk: k=3 must be an integer in [0, 2] (size of dim 0 in [2,3])',
    ],
    ['topk negative k', () => core.topk(core.zeros([2, 3]), -1), RangeError, 'topk: k=-1 must be an integer in [0, 3]'],
    ['topk of a scalar', () => core.topk(core.zeros([]), 1), ShapeError, 'topk: needs at least 1 dim, got a scalar'],
  ],
};

for (const [group, list] of Object.entries(cases)) {
  describe(`errors: ${group}`, () => {
    for (const [name, fn, type, message] of list) {
      it(name, () => {
        expect(fn).toThrow(type);
        expect(fn).toThrow(message);
      });
    }
  });
}
