import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as core from '@myriad/core';
import { ones, tensor, zeros, type Tensor } from '@myriad/core';
import { Dropout, Embedding, Linear, Module, Sequential, buffer, param } from '@myriad/nn';

// PyTorch's Module conveniences: modules/namedModules, apply, Sequential, arrays of modules,
// parameter collections of one kind, Dropout honouring train/eval, module.to(backend), printing.
class Block extends Module {
  lin = new Linear(3, 3, { seed: 1 });
  drop = new Dropout(0.5, { seed: 2 });
  forward(x: Tensor): Tensor {
    return this.drop.forward(this.lin.forward(x));
  }
}

class Net extends Module {
  blocks = [new Block(), new Block()]; // an array of modules registers each one (torch's ModuleList)
  head = new Sequential(new Linear(3, 4, { seed: 3 }), new Linear(4, 2, { seed: 4 }));
  scale = param(ones([1]));
  mask = buffer(zeros([2]));
  forward(x: Tensor): Tensor {
    return this.head.forward(this.blocks.reduce((h, b) => b.forward(h), x)).mul(this.scale);
  }
}

describe('Module conveniences', () => {
  it('modules() / namedModules() list every module once, depth first', () => {
    const net = new Net();
    expect(net.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`)).toEqual([
      ':Net',
      'blocks.0:Block',
      'blocks.0.lin:Linear',
      'blocks.0.drop:Dropout',
      'blocks.1:Block',
      'blocks.1.lin:Linear',
      'blocks.1.drop:Dropout',
      'head:Sequential',
      'head.0:Linear',
      'head.1:Linear',
    ]);
    expect(net.modules()).toHaveLength(10);
  });

  it('namedParameters() and parameters() are arrays of the same tensors', () => {
    const net = new Net();
    const named = net.namedParameters();
    expect(Array.isArray(named) && Array.isArray(net.parameters())).toBe(true);
    expect(named.map(([, t]) => t)).toEqual(net.parameters());
    expect(named.map(([n]) => n)).toContain('head.1.bias');
    expect(net.buffers()).toEqual([net.mask]);
  });

  it('apply(fn) visits children before parents and returns the module', () => {
    const order: string[] = [];
    const net = new Net();
    expect(net.apply((m) => order.push(m.constructor.name))).toBe(net);
    expect(order).toEqual(['Linear', 'Dropout', 'Block', 'Linear', 'Dropout', 'Block', 'Linear', 'Linear', 'Sequential', 'Net']);
    // A typical use: re-initialise every Linear.
    net.apply((m) => {
      if (m instanceof Linear) m.weight.assign(0);
    });
    expect(net.head.forward(ones([1, 3])).toArray()).toEqual([Array.from(net.head[1]!.parameters()[1]!.toTypedArray())]);
  });

  it('Sequential runs its layers in order, with PyTorch state-dict keys', () => {
    const seq = new Sequential(new Linear(2, 3, { seed: 5 }), new Linear(3, 1, { seed: 6 }));
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(seq.length).toBe(2);
    const x = tensor([[1, 2]]);
    const a = seq[0] as Linear;
    const b = seq[1] as Linear;
    expect(seq.forward(x).toArray()).toEqual(b.forward(a.forward(x)).toArray());
    expect([...seq]).toEqual([a, b]);
    expect(() => new Sequential(new Linear(1, 1), {} as Module)).toThrow('Sequential: argument 1 is not a Module (got object)');
  });

  it('Dropout drops in training and is the identity after eval()', () => {
    const drop = new Dropout(0.25, { seed: 7 });
    const x = ones([1000]);
    const y = drop.forward(x).toTypedArray();
    const kept = y.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(Math.abs(kept.length / 1000 - 0.75)).toBeLessThan(0.05);
    drop.eval();
    expect(drop.forward(x)).toBe(x);
    expect(() => new Dropout(1)).toThrow('Dropout: p=1 must be in [0, 1)');
  });

  it('to(backend) moves every tensor in place (identities and gradients kept); unknown targets are named', () => {
    const other = { ...core.cpuBackend, name: 'cpu-copy' };
    const net = new Net().eval();
    const before = net.forward(ones([2, 3])).toArray();
    const weight = net.head[0]!.parameters()[0]!;
    net
      .forward(ones([2, 3]))
      .sum()
      .backward();
    expect(net.to(other)).toBe(net);
    expect(net.head[0]!.parameters()[0]).toBe(weight);
    expect(net.parameters().every((p) => p.backend === other && (p.grad as Tensor).backend === other)).toBe(true);
    expect(net.mask.backend).toBe(other);
    expect(net.forward(ones([2, 3]).to(other)).toArray()).toEqual(before);
    expect(
      net
        .to('cpu')
        .parameters()
        .every((p) => p.backend === core.cpuBackend),
    ).toBe(true);
    expect(() => net.to('float16' as 'cpu')).toThrow("Module.to(Net): unknown target 'float16'; expected 'cpu' or a Backend");
  });

  it('prints its tree with own tensor shapes and parameter counts', () => {
    const net = new Net();
    const text = String(net);
    expect(inspect(net)).toBe(text);
    expect(text.split('\n')).toEqual([
      'Net(',
      '  {scale: [1], mask: [2] buffer}',
      '  (blocks.0): Block(',
      '    (lin): Linear(inFeatures=3, outFeatures=3) {weight: [3, 3], bias: [3]}  12 parameters',
      '    (drop): Dropout(p=0.5)  0 parameters',
      '  )  12 parameters',
      '  (blocks.1): Block(',
      '    (lin): Linear(inFeatures=3, outFeatures=3) {weight: [3, 3], bias: [3]}  12 parameters',
      '    (drop): Dropout(p=0.5)  0 parameters',
      '  )  12 parameters',
      '  (head): Sequential(',
      '    (0): Linear(inFeatures=3, outFeatures=4) {weight: [4, 3], bias: [4]}  16 parameters',
      '    (1): Linear(inFeatures=4, outFeatures=2) {weight: [2, 4], bias: [2]}  10 parameters',
      '  )  26 parameters',
      ')  51 parameters',
    ]);
    expect(String(new Embedding(10, 4, { seed: 1 }))).toBe('Embedding(numEmbeddings=10, dim=4) {weight: [10, 4]}  40 parameters');
  });
});
