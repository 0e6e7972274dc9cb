// The rule for tests that need optional system software (PyTorch, Chromium, a Vulkan driver): on a
// developer's machine without it they skip with one loud line; under CI (.ci/run exports
// MYRIAD_REQUIRE_OPTIONAL=1 after installing it) a missing piece is a failure, never a skip.
import { describe, it } from 'vitest';

/** True when .ci/run asked for every optional test leg to run (MYRIAD_REQUIRE_OPTIONAL=1). */
export function optionalSoftwareRequired(): boolean {
  const v = typeof process === 'undefined' ? undefined : process.env.MYRIAD_REQUIRE_OPTIONAL;
  return v === '1' || v === 'true';
}

/**
 * Registers `suite` when `missing` is null. Otherwise prints one loud line and registers a skipped
 * placeholder, or, under CI, a failing test that names what is missing and how to install it.
 */
export function describeWithOptional(title: string, missing: string | null, install: string, suite: () => void): void {
  if (missing === null) {
    describe(title, suite);
    return;
  }
  if (optionalSoftwareRequired()) {
    describe(title, () => {
      it(`needs ${install}`, () => {
        throw new Error(`${title}: required under CI (MYRIAD_REQUIRE_OPTIONAL=1) but unavailable: ${missing}. Install it with: ${install}`);
      });
    });
    return;
  }
  console.warn(`\n[myriad] SKIPPING "${title}": ${missing}. Install it with: ${install}\n`);
  describe.skip(`${title} (skipped: ${missing})`, () => {
    it('needs optional system software', () => {});
  });
}
