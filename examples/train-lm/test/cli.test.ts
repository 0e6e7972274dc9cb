import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCli, UsageError } from '../src/args.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('train-lm arguments', () => {
  it('has defaults for every option', () => {
    const o = parseCli([])!;
    expect(o.ffw).toBe('peer');
    expect(o.backend).toBe('cpu');
    expect(o.out).toBe('runs/peer');
  });

  it.each([
    [['--ffw', 'sparse'], "--ffw must be one of dense, moe, pkm, peer; got 'sparse'"],
    [['--steps', '0'], "--steps must be an integer >= 1, got '0'"],
    [['--steps', 'ten'], "--steps must be an integer >= 1, got 'ten'"],
    [['--lr=-1'], "--lr must be a positive number, got '-1'"],
    [['--dim', '30', '--heads', '4'], '--dim 30 must be divisible by --heads 4'],
    [['--backend', 'tpu'], "--backend must be cpu or gpu, got 'tpu'"],
    [['--gpu-mode', 'cuda'], "--gpu-mode must be one of gpu, webgl2, webgl, headlessgl, webgpu, webasm, cpu; got 'cuda'"],
    [['--compare', '--resume', 'x.safetensors'], '--compare trains four fresh models; it cannot be combined with --resume'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('refuses %j', (args, message) => {
    expect(() => parseCli(args)).toThrow(UsageError);
    expect(() => parseCli(args)).toThrow(message);
  });

  it('prints help', () => {
    expect(parseCli(['--help'])).toBeNull();
  });
});

describe('train-lm command line', () => {
  it('exits 2 with a clear message for bad arguments and unreadable corpora, without a stack trace', () => {
    const bad = cli(['--ffw', 'sparse']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("train-lm: --ffw must be one of dense, moe, pkm, peer; got 'sparse'");
    expect(bad.err).not.toContain('    at ');
    const missing = cli(['--corpus', '/no/such/corpus.txt']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--corpus: no such file or directory: /no/such/corpus.txt');
  });

  it('trains a few steps on a small corpus, writes checkpoint, log and plot, and resumes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'train-lm-'));
    const corpus = join(dir, 'corpus.txt');
    writeFileSync(corpus, 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(60));
    const common = ['--corpus', corpus, '--dim', '16', '--depth', '1', '--heads', '2', '--context', '16', '--batch', '4', '--eval-every', '2', '--eval-batches', '1', '--sample', '20', '--quiet', '--out', join(dir, 'run')];
    const first = cli([...common, '--ffw', 'peer', '--steps', '2']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/validation loss \d+\.\d+ nats, perplexity \d+\.\d+/);
    expect(first.out).toMatch(/routing blocks\.0\.ffw: 4096 experts, usage \d+\.\d%/);
    for (const f of ['checkpoint.safetensors', 'log.jsonl', 'loss.svg']) expect(existsSync(join(dir, 'run', f))).toBe(true);
    expect(readFileSync(join(dir, 'run', 'loss.svg'), 'utf8')).toContain('<polyline');
    const resumed = cli([...common, '--ffw', 'peer', '--steps', '3', '--resume', join(dir, 'run', 'checkpoint.safetensors')]);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toContain('(step 3)');
    const mismatched = cli([...common, '--ffw', 'moe', '--steps', '3', '--resume', join(dir, 'run', 'checkpoint.safetensors')]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.err).toContain('was trained with');
  }, 120_000);
});
