import { describe, expect, it } from 'vitest';
import { tensor, zeros, ones, type Tensor, type Tensor as T } from '@myriad/core';
import { BatchNorm1d, Embedding, FeedForward, Linear, Module, buffer, collectAuxLoss, param, isParameter, routingLayers } from '@myriad/nn';

class Block extends Module {
  lin = new Linear(3, 2, { seed: 1 });
  norm = new BatchNorm1d(2);
  forward(x: T): T {
    return this.norm.forward(this.lin.forward(x));
  }
}

class Net extends Module {
  emb = new Embedding(5, 3, { seed: 2 });
  blocks = [new Block(), new Block()];
  extra = new Map<string, Module>([['ffw', new FeedForward({ dim: 3, hidden: 4, seed: 3 })]]);
  scale = param(ones([1]));
  mask = buffer(zeros([2, 2]));
  scratch: T = zeros([7]); // neither parameter nor buffer: not in the state dict
  forward(ids: T): T {
    return this.blocks[1]!.forward(
      this.blocks[0]!.lin.forward(this.emb.forward(ids))
        .mul(this.scale)
        .matmul(zeros([2, 3])),
    );
  }
}

describe('Module', () => {
  it('names parameters through fields, arrays and maps in field order', () => {
    const net = new Net();
    expect(Array.from(net.namedParameters(), ([n]) => n)).toEqual([
      'emb.weight',
      'blocks.0.lin.weight',
      'blocks.0.lin.bias',
      'blocks.0.norm.weight',
      'blocks.0.norm.bias',
      'blocks.1.lin.weight',
      'blocks.1.lin.bias',
      'blocks.1.norm.weight',
      'blocks.1.norm.bias',
      'extra.ffw.up.weight',
      'extra.ffw.up.bias',
      'extra.ffw.down.weight',
      'extra.ffw.down.bias',
      'scale',
    ]);
    expect(Array.from(net.namedBuffers(), ([n]) => n)).toEqual([
      'blocks.0.norm.runningMean',
      'blocks.0.norm.runningVar',
      'blocks.1.norm.runningMean',
      'blocks.1.norm.runningVar',
      'mask',
    ]);
    expect(net.numParameters()).toBe(15 + 2 * (6 + 2 + 2 + 2) + (12 + 4 + 12 + 3) + 1);
    expect(net.parameters().every((p) => p.requiresGrad && isParameter(p))).toBe(true);
  });

  it('sees fields replaced or pushed after construction (no stale cache)', () => {
    const net = new Net();
    net.blocks.push(new Block());
    net.blocks[0]!.lin = new Linear(3, 2, { bias: false, seed: 4 });
    const names = Array.from(net.namedParameters(), ([n]) => n);
    expect(names).toContain('blocks.2.lin.weight');
    expect(names).not.toContain('blocks.0.lin.bias');
    expect(Object.keys(net.stateDict())).toContain('blocks.2.norm.runningVar');
  });

  it('stateDict holds parameters and buffers; a tied tensor appears under each name but counts once', () => {
    const net = new Net();
    net.blocks[1]!.lin.weight = net.blocks[0]!.lin.weight;
    const sd = net.stateDict();
    expect(sd['blocks.1.lin.weight']).toBe(sd['blocks.0.lin.weight']);
    expect(Object.keys(sd)).not.toContain('scratch');
    expect(Array.from(net.namedParameters(), ([n]) => n)).not.toContain('blocks.1.lin.weight');
    expect(net.numParameters()).toBe(new Net().numParameters() - 6);
  });

  it('loadStateDict copies values in place', () => {
    const a = new Net();
    const b = new Net();
    b.emb.weight.assign(
      tensor(
        Array.from({ length: 15 }, (_, i) => i),
        { shape: [5, 3] },
      ),
    );
    b.blocks[0]!.norm.runningMean.assign(tensor([5, 6]));
    const before = a.emb.weight;
    a.loadStateDict(b.stateDict());
    expect(a.emb.weight).toBe(before);
    expect(a.emb.weight.toArray()).toEqual(b.emb.weight.toArray());
    expect(a.blocks[0]!.norm.runningMean.toArray()).toEqual([5, 6]);
  });

  it('strict loadStateDict names every missing, unexpected and mis-shaped key in one error and copies nothing', () => {
    const net = new Net();
    const sd: Record<string, Tensor> = { ...new Net().stateDict() };
    delete sd['blocks.1.lin.bias'];
    delete sd['mask'];
    sd['blocks.9.lin.weight'] = zeros([2, 3]);
    sd['emb.weight'] = zeros([4, 3]);
    const orig = net.blocks[0]!.lin.weight.toArray();
    sd['blocks.0.lin.weight'] = zeros([2, 3]);
    let message = '';
    try {
      net.loadStateDict(sd);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('missing keys: blocks.1.lin.bias, mask');
    expect(message).toContain('unexpected keys: blocks.9.lin.weight');
    expect(message).toContain('emb.weight (got [4, 3], expected [5, 3])');
    expect(net.blocks[0]!.lin.weight.toArray()).toEqual(orig);
  });

  it('non-strict loadStateDict reports missing and unexpected keys but still rejects wrong shapes', () => {
    const net = new Net();
    const sd: Record<string, Tensor> = { ...new Net().stateDict() };
    delete sd['scale'];
    sd['bogus'] = zeros([1]);
    expect(net.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['scale'], unexpectedKeys: ['bogus'] });
    sd['scale'] = zeros([2]);
    expect(() => net.loadStateDict(sd, { strict: false })).toThrow(/wrong shapes: scale \(got \[2\], expected \[1\]\)/);
  });

  it('train() / eval() reach every submodule; zeroGrad clears gradients', () => {
    const net = new Net();
    expect(net.training).toBe(true);
    net.eval();
    expect([...net.namedModules()].every(([, m]) => !m.training)).toBe(true);
    net.train();
    expect(net.blocks[1]!.norm.training).toBe(true);
    const lin = new Linear(2, 2, { seed: 1 });
    lin
      .forward(ones([3, 2]))
      .sum()
      .backward();
    expect(lin.weight.grad).not.toBeNull();
    lin.zeroGrad();
    expect(lin.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('param() rejects int32 and non-leaf tensors; buffer and param are exclusive', () => {
    expect(() => param(zeros([2], { dtype: 'int32' }))).toThrow(/int32/);
    const w = ones([2]).requiresGrad_();
    expect(() => param(w.mul(2))).toThrow(/leaf/);
    expect(() => buffer(param(ones([1])))).toThrow(/already a parameter/);
  });

  it('routingLayers lists submodules that expose lastRouting; collectAuxLoss sums auxLoss()', () => {
    class FakeRouter extends Module {
      lastRouting = null;
      numExperts = 4;
      w = param(tensor([2]));
      forward(): void {}
      auxLoss(): T {
        return this.w.mul(3);
      }
    }
    class Host extends Module {
      layers = [new Linear(1, 1, { seed: 0 }), new FakeRouter(), new FakeRouter()];
      forward(): void {}
    }
    const h = new Host();
    expect(Array.from(routingLayers(h), ([n]) => n)).toEqual(['layers.1', 'layers.2']);
    expect(collectAuxLoss(h)!.item()).toBe(12);
    expect(collectAuxLoss(new Block())).toBeNull();
  });
});
