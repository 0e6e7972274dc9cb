import type { ExpectStatic } from 'vitest';
import { allClose, type Comparable, type Tolerance } from './all-close.js';

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- vitest declares Matchers<T = any>; a merged declaration must match it
  interface Matchers<T = any> {
    /** Elementwise closeness to a reference (see allClose), with a report of the worst mismatch. */
    toBeAllClose(expected: Comparable, tol?: Tolerance): T;
  }
}

/** Registers `toBeAllClose` on vitest's `expect` (call once, e.g. in a setup file or at the top of a test file). */
export function installMatchers(expect: ExpectStatic): void {
  expect.extend({
    toBeAllClose(received: Comparable, expected: Comparable, tol?: Tolerance) {
      const r = allClose(received, expected, tol);
      return {
        pass: r.ok,
        message: () => (r.ok ? `expected arrays not to be close (max |diff| ${r.maxAbsDiff})` : r.message),
      };
    },
  });
}
