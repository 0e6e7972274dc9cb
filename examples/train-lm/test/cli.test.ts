import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manualSeed } from '@myriad/core';
import { AdamW, BatchLoader, readCheckpoint, saveCheckpoint, warmupCosine, weightDecayGroups } from '@myriad/train';
import { afterAll, describe, expect, it } from 'vitest';
import { modelConfigFromOptions, parseCli, UsageError, type CliOptions } from '../src/args.js';
import { loadCorpus } from '../src/corpus.js';
import { buildModel, layerDefaults, resolveModelConfig } from '../src/models.js';
import { freshPlan, planSchedule, resumePlan } from '../src/plan.js';
import { parseSampleCli } from '../src/sample.js';
import { cliAsync, readLog, type LogRecord } from './helpers/cli-run.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', main, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'train-lm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, 'Call me Ishmael. Some years ago, never mind how long precisely. '.repeat(60));
// A tiny model: one block whose PEER layer has 64 experts (8² product keys), so each run takes about a second.
const TINY = [
  '--corpus',
  corpus,
  '--dim',
  '16',
  '--depth',
  '1',
  '--heads',
  '2',
  '--context',
  '16',
  '--batch',
  '4',
  '--eval-batches',
  '1',
  '--quiet',
];
const TINY_PEER = ['--ffw', 'peer', '--experts', '64', '--expert-top-k', '4', '--expert-heads', '2', '--key-dim', '8'];

type Rec = LogRecord;
const log = readLog;
/** The deterministic part of a log (no timings). */
const curve = (recs: Rec[]) => recs.map(({ kind, step, loss, lr, gradNorm, valLoss }) => ({ kind, step, loss, lr, gradNorm, valLoss }));

describe('train-lm arguments', () => {
  it('has defaults for every option', () => {
    const o = parseCli([])!;
    expect(o.ffw).toBe('peer');
    expect(o.backend).toBe('cpu');
    expect(o.out).toBe('runs/peer');
    expect(o.sampleLength).toBe(200);
    expect(o.checkpointEvery).toBe(0);
    expect(parseCli(['--resume', 'a/b/c.safetensors'])!.out).toBe('a/b');
    expect(parseCli(['--gpu-mode', 'webgpu'])!.backend).toBe('gpu');
  });

  it.each([
    [['--ffw', 'sparse'], "--ffw must be one of dense, moe, pkm, peer; got 'sparse'"],
    [['--steps', '0'], "--steps must be an integer >= 1 (decimal digits), got '0'"],
    [['--steps', 'ten'], "--steps must be an integer >= 1 (decimal digits), got 'ten'"],
    [['--steps', '-5'], "--steps must be an integer >= 1 (decimal digits), got '-5'"],
    [['--steps', '0x10'], "--steps must be an integer >= 1 (decimal digits), got '0x10'"],
    [['--steps', '1e3'], "--steps must be an integer >= 1 (decimal digits), got '1e3'"],
    [['--steps', '2.0'], "--steps must be an integer >= 1 (decimal digits), got '2.0'"],
    [['--steps'], '--steps needs a value'],
    [['--steps', '--quiet'], '--steps needs a value'],
    [['--lr', '-1'], "--lr must be a positive decimal number, got '-1'"],
    [['--lr=-1'], "--lr must be a positive decimal number, got '-1'"],
    [['--lr', '0x10'], "--lr must be a positive decimal number, got '0x10'"],
    [['--lr', 'Infinity'], "--lr must be a positive decimal number, got 'Infinity'"],
    [['--sample', '-1'], "--sample must be an integer >= 0 (decimal digits), got '-1'"],
    [['--dim', '30', '--heads', '4'], '--dim 30 must be divisible by --heads 4'],
    [['--backend', 'tpu'], "--backend must be cpu or gpu, got 'tpu'".replace('cpu or gpu,', 'one of cpu, gpu;')],
    [['--backend', 'cpu', '--gpu-mode', 'webgpu'], '--gpu-mode applies to --backend gpu'],
    [['--compare', '--resume', 'x.safetensors'], '--compare trains four fresh models; it cannot be combined with --resume'],
    [
      ['--compare', '--experts', '16'],
      '--compare trains every layer at the matched sizes of src/models.ts; it cannot be combined with --experts',
    ],
    [['--extend', 'replan'], '--extend changes the plan of a resumed run; use it with --resume'],
    [['--resume', 'x', '--extend', 'more'], "--extend must be one of keep-schedule, replan; got 'more'"],
    [['--experts', '1000'], '--experts must be a perfect square (product keys address numKeys² experts), got 1000; e.g. 961 or 1024'],
    [['--expert-top-k', '65'], '--expert-top-k 65 must be at most √--experts = 64'],
    [['--key-dim', '7'], '--key-dim must be even'],
    [['--router', 'hash'], "--router applies to --ffw moe; this run's --ffw is peer"],
    [['--ffw', 'pkm', '--score-fn', 'sigmoid'], "--score-fn applies to --ffw peer; this run's --ffw is pkm"],
    [['--ffw', 'dense', '--experts', '4'], "--experts applies to --ffw moe or pkm or peer; this run's --ffw is dense"],
    [['--ffw', 'moe', '--expert-top-k', '9'], '--expert-top-k 9 must be at most --experts 8'],
    [['--ffw', 'moe', '--router', 'hash', '--balance', 'loss'], "--balance 'loss' needs --router topk"],
    [
      ['--ffw', 'moe', '--router', 'expert-choice', '--dispatch', 'slots'],
      "--dispatch applies to --router topk only, got router 'expert-choice'",
    ],
    [['--ffw', 'moe', '--capacity-factor', '0'], "--capacity-factor must be a positive decimal number, got '0'"],
    [['--ffw', 'moe', '--router', 'sinkhorn'], "--router must be one of topk, expert-choice, hash; got 'sinkhorn'"],
    [['--bogus'], "Unknown option '--bogus'"],
    [['extra'], "unknown command 'extra'; the commands are train (the default: no command) and sample"],
  ])('refuses %j', (args, message) => {
    expect(() => parseCli(args)).toThrow(UsageError);
    expect(() => parseCli(args)).toThrow(message);
  });

  it('prints help, which states the number format', () => {
    expect(parseCli(['--help'])).toBeNull();
    expect(parseSampleCli(['--help'])).toBeNull();
  });

  it('sizes the middle layer from flags and records every setting in the config', () => {
    const moe = modelConfigFromOptions(
      parseCli([
        '--ffw',
        'moe',
        '--experts',
        '16',
        '--expert-top-k',
        '1',
        '--expert-hidden',
        '24',
        '--shared-experts',
        '1',
        '--balance',
        'bias',
        '--capacity-factor',
        '1.25',
        '--dispatch',
        'slots',
      ])!,
      30,
    );
    expect(moe).toEqual({
      ffw: 'moe',
      vocabSize: 30,
      dim: 64,
      depth: 3,
      heads: 4,
      contextLength: 64,
      seed: 1,
      moe: { numExperts: 16, topK: 1, hidden: 24, router: 'topk', balance: 'bias', capacityFactor: 1.25, numShared: 1, dispatch: 'slots' },
    });
    const peer = modelConfigFromOptions(
      parseCli(['--experts', '256', '--expert-heads', '2', '--score-fn', 'sigmoid', '--query-norm', 'layer'])!,
      30,
    );
    expect(peer.peer).toEqual({ numExperts: 256, heads: 2, topK: 8, dimKey: 32, queryNorm: 'layer', scoreFn: 'sigmoid' });
    expect(modelConfigFromOptions(parseCli(['--ffw', 'moe', '--router', 'hash'])!, 30).moe!.balance).toBe('none');
  });

  it('defaults are the sizes train-lm always had, and a config without a layer block (older checkpoints) means them', () => {
    const d = layerDefaults(64);
    expect(d.moe).toEqual({
      numExperts: 8,
      topK: 2,
      hidden: 32,
      router: 'topk',
      balance: 'loss',
      capacityFactor: null,
      numShared: 0,
      dispatch: 'auto',
    });
    expect(d.pkm).toEqual({ numExperts: 4096, heads: 4, topK: 32, dimKey: 32, queryNorm: 'batch' });
    expect(d.peer).toEqual({ numExperts: 4096, heads: 8, topK: 8, dimKey: 32, queryNorm: 'batch', scoreFn: 'softmax' });
    for (const ffw of ['dense', 'moe', 'pkm', 'peer'] as const) {
      const old = { ffw, vocabSize: 20, dim: 16, depth: 3, heads: 2, contextLength: 8, seed: 3 };
      const full = resolveModelConfig(old);
      expect(full).toEqual({ ...old, ...(ffw === 'dense' ? {} : { [ffw]: layerDefaults(16)[ffw] }) });
      expect(
        modelConfigFromOptions(
          parseCli(['--ffw', ffw, '--dim', '16', '--depth', '3', '--heads', '2', '--context', '8', '--seed', '3'])!,
          20,
        ),
      ).toEqual(full);
      // Same weights from the old config and the complete one: the defaults did not move.
      const a = buildModel(old).model.stateDict();
      const b = buildModel(full).model.stateDict();
      expect(Object.keys(a)).toEqual(Object.keys(b));
      for (const k of Object.keys(a)) expect(Array.from(a[k]!.toTypedArray())).toEqual(Array.from(b[k]!.toTypedArray()));
    }
    expect(() =>
      resolveModelConfig({ ffw: 'peer', vocabSize: 20, dim: 16, depth: 1, heads: 2, contextLength: 8, seed: 0, peer: { experts: 4 } }),
    ).toThrow('config.peer.experts is not a setting of the peer layer');
    expect(() =>
      resolveModelConfig({ ffw: 'pkm', vocabSize: 20, dim: 16, depth: 1, heads: 2, contextLength: 8, seed: 0, pkm: { numExperts: 50 } }),
    ).toThrow('config.pkm.numExperts must be a perfect square');
  });
});

describe('train-lm resume plans', () => {
  const opts = (args: string[]): CliOptions => parseCli(['--resume', 'ck', ...args])!;
  const saved = freshPlan({ steps: 200, lr: 3e-3, batchSize: 16, evalEvery: 50, evalBatches: 4, corpus: null });

  it('continues the saved plan when --steps is left out or unchanged', () => {
    for (const args of [[], ['--steps', '200'], ['--extend', 'keep-schedule']]) {
      const o = opts(args);
      expect(resumePlan(saved, 120, o, o.given, o.extend, 'ck')).toEqual({ plan: saved, note: null });
    }
  });

  it('refuses a different total without --extend, naming both choices and their lr', () => {
    const o = opts(['--steps', '400']);
    expect(() => resumePlan(saved, 200, o, o.given, o.extend, 'ck')).toThrow(UsageError);
    expect(() => resumePlan(saved, 200, o, o.given, o.extend, 'ck')).toThrow(
      '--resume: ck was planned for 200 steps (now at step 200, lr 0.0003) and --steps 400 changes that; add --extend keep-schedule (continue the planned schedule: past step 200 the lr stays at 0.0003) or --extend replan (a warmup-cosine schedule for 400 steps: the lr at step 200 becomes 0.00176)',
    );
    const lower = opts(['--steps', '100']);
    expect(() => resumePlan(saved, 120, lower, lower.given, null, 'ck')).toThrow('ck is at step 120; --steps 100 would end before it');
  });

  it('keep-schedule holds the final lr; replan follows a schedule for the new total from the same warmup', () => {
    const keep = opts(['--steps', '400', '--extend', 'keep-schedule']);
    const k = resumePlan(saved, 200, keep, keep.given, keep.extend, 'ck').plan;
    expect(k.steps).toBe(400);
    for (const s of [150, 199, 200, 300, 399]) expect(planSchedule(k)(s)).toBe(planSchedule(saved)(s));
    expect(planSchedule(k)(300)).toBeCloseTo(3e-4, 12);
    const re = opts(['--steps', '400', '--extend', 'replan']);
    const r = resumePlan(saved, 200, re, re.given, re.extend, 'ck').plan;
    const want = warmupCosine({ lr: 3e-3, minLr: 3e-3 / 10, warmupSteps: 20, totalSteps: 400 });
    for (const s of [200, 300, 399, 400]) expect(planSchedule(r)(s)).toBe(want(s));
    const lr = opts(['--lr', '1e-3']);
    expect(() => resumePlan(saved, 100, lr, lr.given, null, 'ck')).toThrow(
      'to train on with --lr 0.001, re-plan the schedule with --extend replan',
    );
    const batch = opts(['--batch', '8']);
    expect(() => resumePlan(saved, 100, batch, batch.given, null, 'ck')).toThrow('ck was trained with --batch 16');
  });

  it('plans from the options when the checkpoint has no plan (older files, the routing lab)', () => {
    const o = opts(['--steps', '7']);
    const { plan, note } = resumePlan(null, 5, o, o.given, null, 'lab.safetensors');
    expect(plan).toEqual(freshPlan(o));
    expect(note).toContain('records no training plan');
  });
});

describe('train-lm command line', () => {
  it('exits 2 with one line and no stack trace for every bad value', async () => {
    const cases = [
      [['--ffw', 'sparse'], "train-lm: --ffw must be one of dense, moe, pkm, peer; got 'sparse'"],
      [['--steps', '-5'], "train-lm: --steps must be an integer >= 1 (decimal digits), got '-5'"],
      [['--lr', '-1'], "train-lm: --lr must be a positive decimal number, got '-1'"],
      [['--corpus', '/no/such/corpus.txt'], 'train-lm: --corpus: no such file or directory: /no/such/corpus.txt'],
      [
        ['--backend', 'gpu', '--gpu-mode', 'cuda'],
        "train-lm: --gpu-mode must be one of gpu, webgl2, webgl, headlessgl, webgpu, webasm, cpu; got 'cuda'",
      ],
      [
        ['sample', '--checkpoint', join(dir, 'none.safetensors'), '--prompt', 'x'],
        `train-lm: --checkpoint: cannot read ${join(dir, 'none.safetensors')}: no such file`,
      ],
      [['sample', '--checkpoint', corpus], `train-lm: sample needs a non-empty --prompt TEXT`],
      [
        ['sample', '--checkpoint', corpus, '--prompt', 'x', '--tokens', '0x10'],
        "train-lm: --tokens must be an integer >= 0 (decimal digits), got '0x10'",
      ],
      [['sample', '--checkpoint', corpus, '--prompt', 'x'], `train-lm: --checkpoint: ${corpus} is not a valid safetensors file`],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => cliAsync([...args])));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.startsWith(message), `${args.join(' ')}: ${r.err}`).toBe(true);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
    }
  }, 60_000);

  it('trains with a sized layer, saves every --checkpoint-every steps, and records model and plan in the checkpoint', async () => {
    const run = join(dir, 'sized');
    const r = cli([...TINY, ...TINY_PEER, '--steps', '4', '--eval-every', '2', '--sample', '20', '--checkpoint-every', '2', '--out', run]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`saved ${join(run, 'checkpoint.safetensors')} at step 2`);
    expect(r.out).toContain(`saved ${join(run, 'checkpoint.safetensors')} at step 4`);
    expect(r.out).toMatch(/validation loss \d+\.\d+ nats, perplexity \d+\.\d+ \(step 4\)/);
    expect(r.out).toMatch(/routing blocks\.0\.ffw: 64 experts, usage \d+\.\d%/);
    expect(r.out).toMatch(
      /sample: 16 characters of validation text, then 20 generated .*▌ marks where the prompt ends\n {2}\| .{16}▌.{20}\n/,
    );
    for (const f of ['checkpoint.safetensors', 'log.jsonl', 'loss.svg']) expect(existsSync(join(run, f))).toBe(true);
    expect(readFileSync(join(run, 'loss.svg'), 'utf8')).toContain('<polyline');
    const ck = await readCheckpoint(join(run, 'checkpoint.safetensors'));
    expect(ck.config).toEqual({
      ffw: 'peer',
      vocabSize: 23,
      dim: 16,
      depth: 1,
      heads: 2,
      contextLength: 16,
      seed: 1,
      peer: { numExperts: 64, heads: 2, topK: 4, dimKey: 8, queryNorm: 'batch', scoreFn: 'softmax' },
      train: { steps: 4, lr: 3e-3, minLr: 3e-3 / 10, warmupSteps: 1, scheduleSteps: 4, batchSize: 4, evalEvery: 2, evalBatches: 1, corpus },
    });
    const quiet = cli([...TINY, '--ffw', 'dense', '--steps', '1', '--sample', '0', '--out', join(dir, 'dense')]);
    expect(quiet.code).toBe(0);
    expect(quiet.out).not.toContain('sample:');
    expect(quiet.out).not.toContain('▌');
  }, 60_000);

  it('--resume after a kill reproduces the uninterrupted run exactly (log and weights)', async () => {
    const args = [...TINY, '--ffw', 'moe', '--experts', '4', '--expert-top-k', '1', '--steps', '24', '--eval-every', '8', '--sample', '0'];
    const whole = join(dir, 'whole');
    expect(cli([...args, '--out', whole]).code).toBe(0);
    // The same run, killed right after its first periodic save, then resumed from the file alone.
    const cut = join(dir, 'cut');
    const child = spawn(process.execPath, [
      '--conditions=source',
      '--import',
      'tsx',
      main,
      ...args,
      '--checkpoint-every',
      '4',
      '--out',
      cut,
    ]);
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes(' at step ')) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    const at = (await readCheckpoint(join(cut, 'checkpoint.safetensors'))).step;
    expect(at).toBeGreaterThanOrEqual(4);
    expect(at).toBeLessThan(24);
    const resumed = cli(['--resume', join(cut, 'checkpoint.safetensors'), '--quiet', '--sample', '0']);
    expect(resumed.err).toBe('');
    expect(resumed.code).toBe(0);
    expect(curve(log(cut))).toEqual(curve(log(whole)));
    const a = await readCheckpoint(join(whole, 'checkpoint.safetensors'));
    const b = await readCheckpoint(join(cut, 'checkpoint.safetensors'));
    expect(b.step).toBe(24);
    for (const k of Object.keys(a.model)) expect(b.model[k]!.toTypedArray()).toEqual(a.model[k]!.toTypedArray());
  }, 60_000);

  it('a finished run is evaluated and sampled on --resume, and extends only with an explicit --extend', () => {
    const whole = join(dir, 'whole');
    const ck = join(whole, 'checkpoint.safetensors');
    const again = cli(['--resume', ck, '--quiet', '--sample', '12', '--out', join(dir, 'again')]);
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    expect(again.out).toContain('is at step 24 of 24: nothing left to train');
    expect(again.out).toContain('(step 24)');
    expect(again.out).toMatch(/\| .{16}▌.{12}\n/);

    const refused = cli(['--resume', ck, '--steps', '28', '--quiet']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(
      'was planned for 24 steps (now at step 24, lr 0.0003) and --steps 28 changes that; add --extend keep-schedule',
    );
    const keep = cli([
      '--resume',
      ck,
      '--steps',
      '28',
      '--extend',
      'keep-schedule',
      '--quiet',
      '--sample',
      '0',
      '--out',
      join(dir, 'keep'),
    ]);
    expect(keep.code).toBe(0);
    expect(
      log(join(dir, 'keep'))
        .filter((r) => r.kind === 'train')
        .map((r) => r.lr),
    ).toEqual([3e-4, 3e-4, 3e-4, 3e-4].map((x) => expect.closeTo(x, 12)));
    const replan = cli(['--resume', ck, '--steps', '28', '--extend', 'replan', '--quiet', '--sample', '0', '--out', join(dir, 'replan')]);
    expect(replan.code).toBe(0);
    const want = warmupCosine({ lr: 3e-3, minLr: 3e-3 / 10, warmupSteps: 3, totalSteps: 28 });
    expect(
      log(join(dir, 'replan'))
        .filter((r) => r.kind === 'train')
        .map((r) => r.lr),
    ).toEqual([24, 25, 26, 27].map(want));

    const mismatched = cli(['--resume', ck, '--ffw', 'peer', '--quiet']);
    expect(mismatched.code).toBe(2);
    expect(mismatched.err).toContain('was trained with --ffw moe; these options give --ffw peer');
  }, 60_000);

  it('a diverging run stops without touching its last finite checkpoint and names it; changing --lr on resume needs --extend replan', async () => {
    const run = join(dir, 'diverged');
    const r = cli([...TINY, '--ffw', 'dense', '--lr', '1e3', '--steps', '30', '--checkpoint-every', '2', '--sample', '0', '--out', run]);
    expect(r.code).toBe(1);
    const m = r.err.match(
      /the loss is (NaN|-?Infinity) at step (\d+) .*The last good checkpoint is (\S+) \(step (\d+)\); continue from it with --resume/,
    );
    expect(m, r.err).not.toBeNull();
    expect(r.err, 'the demo already clips gradients').not.toContain('set gradClip');
    const [failed, kept] = [Number(m![2]), Number(m![4])];
    expect(m![3]).toBe(join(run, 'checkpoint.safetensors'));
    expect(kept).toBe(2 * Math.floor((failed - 1) / 2));
    const ck = await readCheckpoint(join(run, 'checkpoint.safetensors'));
    expect(ck.step).toBe(kept);
    expect(ck.nonFinite).toEqual([]);
    const refused = cli(['--resume', join(run, 'checkpoint.safetensors'), '--lr', '1e-3', '--quiet']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('was planned with --lr 1000; to train on with --lr 0.001, re-plan the schedule with --extend replan');
  }, 60_000);

  it('sample prints the prompt, a marker, then the generated text; --raw prints them alone', () => {
    const ck = join(dir, 'sized', 'checkpoint.safetensors');
    const marked = cli([
      'sample',
      '--checkpoint',
      ck,
      '--prompt',
      'Call me',
      '--tokens',
      '30',
      '--temperature',
      '0.7',
      '--top-k',
      '5',
      '--seed',
      '3',
    ]);
    expect(marked.err).toBe('');
    expect(marked.code).toBe(0);
    const lines = marked.out.split('\n');
    expect(lines[0]).toBe(
      `${ck}: peer model at step 4, ${lines[0]!.match(/step 4, (\S+) parameters/)![1]} parameters, vocabulary 23; temperature 0.7, top-k 5, seed 3`,
    );
    expect(lines[1]).toBe('prompt: 7 characters, then 30 generated; ▌ marks where the prompt ends');
    const text = lines.slice(2).join('\n').replace(/\n$/, '');
    expect(text.startsWith('Call me▌')).toBe(true);
    expect([...text].length).toBe(7 + 1 + 30);
    const raw = cli([
      'sample',
      '--checkpoint',
      ck,
      '--prompt',
      'Call me',
      '--tokens',
      '30',
      '--temperature',
      '0.7',
      '--top-k',
      '5',
      '--seed',
      '3',
      '--raw',
    ]);
    expect(raw.out).toBe(text.replace('▌', '') + '\n');
    const other = cli([
      'sample',
      '--checkpoint',
      ck,
      '--prompt',
      'Call me',
      '--tokens',
      '30',
      '--temperature',
      '0.7',
      '--top-k',
      '5',
      '--seed',
      '4',
      '--raw',
    ]);
    expect(other.out).not.toBe(raw.out);
    const bad = cli(['sample', '--checkpoint', ck, '--prompt', 'Call Z']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--prompt: character 'Z' (U+005A) at offset 5 is not in the vocabulary of 23 characters");
    const topk = cli(['sample', '--checkpoint', ck, '--prompt', 'Call', '--top-k', '25']);
    expect(topk.code).toBe(2);
    expect(topk.err).toContain('--top-k must be at most the vocabulary size 23, got 25');
  }, 60_000);

  it('an older checkpoint (config without layer sizes or plan) rebuilds its model: sample and --resume work', async () => {
    const old = { ffw: 'pkm' as const, vocabSize: 23, dim: 16, depth: 1, heads: 2, contextLength: 16, seed: 1 };
    manualSeed(1);
    const { model } = buildModel(old);
    const { tokenizer, train } = loadCorpus(corpus);
    expect(tokenizer.vocabSize).toBe(23);
    const path = join(dir, 'old', 'checkpoint.safetensors');
    mkdirSync(dirname(path), { recursive: true });
    const optimizer = new AdamW(weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 3e-3, betas: [0.9, 0.95] });
    const loader = new BatchLoader(train, { contextLength: 16, batchSize: 4, seed: 1 });
    await saveCheckpoint(path, { model, optimizer, step: 0, config: old, tokenizer, loader });
    const s = cli(['sample', '--checkpoint', path, '--prompt', 'Some', '--tokens', '5', '--raw']);
    expect(s.err).toBe('');
    expect([...s.out.trimEnd()].length).toBe(9);
    const r = cli([
      '--resume',
      path,
      '--corpus',
      corpus,
      '--steps',
      '2',
      '--batch',
      '4',
      '--eval-batches',
      '1',
      '--quiet',
      '--sample',
      '0',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('records no training plan');
    expect((await readCheckpoint(path)).config).toMatchObject({ ...old, pkm: layerDefaults(16).pkm, train: { steps: 2 } });
  }, 60_000);
});
