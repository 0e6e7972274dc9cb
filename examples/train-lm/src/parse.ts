// Strict command-line values: numbers are plain decimal ("0x10", "1_000", "" and "Infinity" are
// refused), integers are digits only (no exponent: "1e3" is refused, as is "2.0"), and every refusal
// is a UsageError whose one-line message names the option, what was given and what it must be.
import { parseArgs } from 'node:util';

/** A bad command line: main prints its message in one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** `--name` as an integer >= min (digits only), or `fallback` when not given. */
export function intOption(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = INTEGER.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min} (decimal digits), got '${value}'`);
  return n;
}

/** `--name` as a decimal number (exponent allowed: 3e-3) that is > 0, or >= 0 with `allowZero`. */
export function numberOption(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw new UsageError(`--${name} must be a ${allowZero ? 'decimal number >= 0' : 'positive decimal number'}, got '${value}'`);
  }
  return n;
}

/** `--name` as one of `choices`, or `fallback` when not given. */
export function choiceOption<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}; got '${value}'`);
  return value as T;
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * node:util's parseArgs with our messages: a string option always takes the next word as its value
 * (so `--steps -5` reaches our range check instead of Node's "ambiguous" error, and `--prompt -x`
 * works), unless that word is another known option or missing ("--steps needs a value").
 */
export function parseOptions(
  argv: readonly string[],
  options: OptionSpec,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : null;
    if (name !== null && options[name]?.type === 'string') {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.slice(2).split('=')[0]! in options)) {
        throw new UsageError(`--${name} needs a value`);
      }
      args.push(`--${name}=${next}`);
      i++;
    } else {
      args.push(a);
    }
  }
  try {
    const parsed = parseArgs({ args, strict: true, allowPositionals: true, options });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, '').replace(/\s*\n.*$/s, ''));
  }
}
