// A tiny two-layer network trained by hand (forward, backward, SGD written in place): the workload of
// the memory tests, with and without tidy().
import { crossEntropy, matmul, noGrad, randint, randn, type Tensor } from '@myriad/core';

/** Weights and data on the current backend, and one training step that returns the loss tensor. */
export function tinyTraining(): { step: () => Tensor } {
  const w1 = randn([12, 16], { seed: 1 }).mul(0.3).detach().requiresGrad_();
  const w2 = randn([16, 5], { seed: 2 }).mul(0.3).detach().requiresGrad_();
  const x = randn([8, 12], { seed: 3 });
  const y = randint(0, 5, [8], { seed: 4 });
  const step = (): Tensor => {
    const loss = crossEntropy(matmul(matmul(x, w1).gelu(), w2), y);
    loss.backward();
    noGrad(() => {
      for (const p of [w1, w2]) {
        p.assign(p.sub((p.grad as Tensor).mul(0.5)));
        p.grad = null;
      }
    });
    return loss.detach();
  };
  return { step };
}
