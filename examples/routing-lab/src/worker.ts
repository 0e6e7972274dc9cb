// The training worker: owns the model and runs every step, evaluation and probe here, so the page's
// main thread only draws. Requests run one at a time through a queue; training re-queues itself one
// step at a time, so a Pause, a click on a character or a Save gets in between two steps.
import { getBackend, nextTask, setBackend } from '@myriad/core';
import { checkpointFromBytes } from '@myriad/train';
import { excerpt, excerptName, bookName, vocabulary } from 'virtual:moby-dick';
import type { Event, Request } from './protocol.js';
import { selectBackend, type ActiveBackend } from './engine/backend.js';
import { Session, WINDOW_STEPS, type CorpusText } from './engine/session.js';
import { resolveModelConfig } from '../../train-lm/src/models.js';
import {
  modelSpecOfConfig,
  sameExceptBackend,
  validateSpec,
  type CliModelConfig,
  type CliTrainPlan,
  type CorpusSpec,
  type LabSpec,
} from './spec.js';

const scope = self as unknown as {
  postMessage(e: Event, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
};
const post = (e: Event, transfer: Transferable[] = []) => scope.postMessage(e, transfer);

let session: Session | null = null;
let backend: ActiveBackend | null = null;
let training = false;
let stepsLeft = 0;
let probeTarget: { text: string; position: number } | null = null;
let queue: Promise<void> = Promise.resolve();
let book: Promise<string> | null = null;
let smoothedMs = 0;

const ROUTE_EVERY = 5;
/** A layer snapshot (the last WINDOW_STEPS steps) every WINDOW_STEPS steps while training, and on every pause. */
const SNAPSHOT_EVERY = WINDOW_STEPS;

function enqueue(where: string, job: () => Promise<void> | void): Promise<void> {
  queue = queue.then(job).catch((e: unknown) => {
    training = false;
    stepsLeft = 0;
    // Status first: the page's "paused" line must not cover the error message.
    post({ type: 'status', training: false, step: session?.step ?? 0 });
    post({ type: 'error', where, message: e instanceof Error ? e.message : String(e) });
  });
  return queue;
}

function loadBook(): Promise<string> {
  book ??= fetch(new URL('../corpus/moby-dick.txt', import.meta.url)).then((r) => {
    if (!r.ok) throw new Error(`the whole book could not be fetched (HTTP ${r.status}); use the bundled excerpt`);
    return r.text();
  });
  return book;
}

async function corpusText(c: CorpusSpec): Promise<CorpusText> {
  const tokenizer = { type: 'char' as const, chars: vocabulary, unknown: 'error' as const };
  if (c.kind === 'excerpt') return { name: excerptName, text: excerpt, tokenizer };
  if (c.kind === 'book') return { name: bookName, text: await loadBook(), tokenizer };
  return { name: c.name, text: c.text, tokenizer: null };
}

/**
 * A session for `spec`, readied by `prepare` (e.g. loading weights into it), which becomes the current
 * one only when all of that succeeded. The backend is chosen before any tensor of the model exists
 * (the running one when the choice is the same); if anything fails, the previous backend is current
 * again, so the model that stays keeps running where its tensors live.
 */
async function buildSession<T>(spec: LabSpec, prepare: (next: Session) => Promise<T>): Promise<{ next: Session; result: T }> {
  const [prevActive, prevCore] = [backend, getBackend()];
  try {
    if (!backend || backend.choice !== spec.backend) backend = await selectBackend(spec.backend, []);
    const next = new Session(spec, await corpusText(spec.corpus), backend);
    const result = await prepare(next);
    session = next;
    smoothedMs = 0;
    return { next, result };
  } catch (e) {
    backend = prevActive;
    setBackend(prevCore);
    throw e;
  }
}

async function configure(spec: LabSpec): Promise<void> {
  training = false;
  stepsLeft = 0;
  // Only the backend changes: the model moves over (weights, Adam state, data position, step) as a
  // checkpoint written on the old backend and loaded on the new one. Anything else starts afresh.
  const moving = session && session.spec.backend !== spec.backend && sameExceptBackend(session.spec, spec) ? await session.save() : null;
  const { next } = await buildSession(spec, async (n) => {
    if (moving) await n.load(moving, 'the model before the backend switch');
  });
  post({ type: 'ready', info: next.info() });
  post({ type: 'status', training: false, step: next.step });
}

async function afterStep(s: Session): Promise<void> {
  if (s.step % s.spec.train.evalEvery === 0) {
    const t0 = performance.now();
    const valLoss = await s.evaluate();
    post({ type: 'eval', step: s.step, valLoss, ms: performance.now() - t0 });
  }
  if (s.step % SNAPSHOT_EVERY === 0 || !training) {
    const snap = await s.snapshot();
    if (snap) post({ type: 'layer', snapshot: snap }, [snap.share.buffer]);
  }
  if (probeTarget && (s.step % ROUTE_EVERY === 0 || !training)) {
    post({ type: 'route', route: await s.probe(probeTarget.text, probeTarget.position) });
  }
}

async function oneStep(): Promise<void> {
  const s = session;
  if (!s) throw new Error('no model yet: press Apply');
  const r = await s.trainStep();
  smoothedMs = smoothedMs === 0 ? r.ms : 0.9 * smoothedMs + 0.1 * r.ms;
  const tokens = s.spec.train.batchSize * s.spec.model.contextLength;
  post({ type: 'step', step: s.step, loss: r.loss, lr: r.lr, ms: r.ms, tokensPerSecond: (tokens * 1000) / smoothedMs, auxLoss: r.auxLoss });
  await afterStep(s);
}

function pump(): void {
  if (!training && stepsLeft === 0) return;
  void enqueue('training', async () => {
    if (!training && stepsLeft === 0) return;
    if (stepsLeft > 0) stepsLeft--;
    await oneStep();
    if (!training && stepsLeft === 0) post({ type: 'status', training: false, step: session?.step ?? 0 });
  })
    // A new task between steps: the page's messages get in, and finalizers return the step's buffers.
    .then(nextTask)
    .then(pump);
}

/**
 * The lab spec a checkpoint was trained with: the lab's own (in `extra`), or the CLI's: its model
 * config read by the CLI's own rules (resolveModelConfig: an older config without a layer block gets
 * the CLI's default sizes) and its plan's batch, lr and evaluation settings.
 */
function specOfCheckpoint(bytes: Uint8Array, name: string, current: LabSpec): LabSpec {
  const ckpt = checkpointFromBytes(bytes, name);
  const extra = ckpt.extra as { spec?: LabSpec };
  if (extra.spec) {
    const spec = {
      ...extra.spec,
      backend: current.backend,
      corpus: extra.spec.corpus?.kind === 'text' ? current.corpus : extra.spec.corpus,
    };
    const problems = validateSpec(spec);
    if (problems.length)
      throw new Error(`${name} records lab settings this page cannot build: ${problems.map((p) => p.message).join('; ')}`);
    return spec;
  }
  const { train: plan, ...raw } = (ckpt.config ?? {}) as { train?: CliTrainPlan };
  let config: CliModelConfig;
  try {
    config = resolveModelConfig(raw) as CliModelConfig;
  } catch (e) {
    throw new Error(`${name} is a Myriad checkpoint but not of an npm run demo model: ${(e as Error).message}`);
  }
  if (ckpt.tokenizer?.type !== 'char') throw new Error(`${name} has no character tokenizer; the lab reads npm run demo's checkpoints`);
  if (plan?.corpus && current.corpus.kind !== 'text') {
    throw new Error(`${name} was trained on ${plan.corpus}; paste that text under "my text", Apply, and load it again`);
  }
  const batchSize = plan?.batchSize ?? ckpt.loader?.batchSize ?? current.train.batchSize;
  const train = plan
    ? {
        ...current.train,
        batchSize,
        lr: plan.lr,
        warmupSteps: plan.warmupSteps,
        evalEvery: Math.max(1, plan.evalEvery),
        evalBatches: plan.evalBatches,
      }
    : { ...current.train, batchSize };
  return {
    model: modelSpecOfConfig(config),
    // The CLI trains on the whole book (its validation windows are the last tenth of it), or a file.
    corpus: plan?.corpus ? current.corpus : { kind: 'book' },
    train,
    backend: current.backend,
  };
}

/** A checkpoint the page cannot load, in words: what is wrong with it, and that the current model stays. */
function loadFailure(name: string, e: unknown): Error {
  const message = e instanceof Error ? e.message : String(e);
  // Our own checks name the file; anything else (a TypeError on a malformed config) is wrapped.
  const known = message.includes(name) && !(e instanceof TypeError || e instanceof RangeError);
  const what = known
    ? message.replace(/^(readCheckpoint|loadCheckpoint): /, '')
    : `${name} could not be read as a routing-lab or npm run demo checkpoint (${message})`;
  return new Error(`${what.replace(/\.?$/, '.')} The current model is kept.`);
}

scope.onmessage = (e: MessageEvent<Request>) => {
  const m = e.data;
  switch (m.type) {
    case 'configure':
      void enqueue('building the model', () => configure(m.spec));
      break;
    case 'train':
      if (!training) {
        training = true;
        post({ type: 'status', training: true, step: session?.step ?? 0 });
        pump();
      }
      break;
    case 'pause':
      training = false;
      stepsLeft = 0;
      void enqueue('pausing', async () => {
        post({ type: 'status', training: false, step: session?.step ?? 0 });
        // The views show the paused model: its route and the layer over the last steps.
        if (!session) return;
        const snap = await session.snapshot();
        if (snap) post({ type: 'layer', snapshot: snap }, [snap.share.buffer]);
        if (probeTarget) post({ type: 'route', route: await session.probe(probeTarget.text, probeTarget.position) });
      });
      break;
    case 'step':
      if (!training) {
        stepsLeft += m.steps;
        post({ type: 'status', training: true, step: session?.step ?? 0 });
        pump();
      }
      break;
    case 'probe':
      probeTarget = { text: m.text, position: m.position };
      void enqueue('routing the token', async () => {
        if (session) post({ type: 'route', route: await session.probe(m.text, m.position) });
      });
      break;
    case 'generate':
      void enqueue('generating', async () => {
        if (!session) throw new Error('no model yet: press Apply');
        post({ type: 'generated', prompt: m.prompt, text: await session.generate(m.prompt, m.tokens, m.temperature, m.topK) });
      });
      break;
    case 'evaluate':
      void enqueue('validating', async () => {
        if (!session) throw new Error('no model yet: press Apply');
        const t0 = performance.now();
        post({ type: 'eval', step: session.step, valLoss: await session.evaluate(), ms: performance.now() - t0 });
      });
      break;
    case 'save':
      void enqueue('saving the checkpoint', async () => {
        if (!session) throw new Error('no model yet: press Apply');
        const bytes = await session.save();
        const name = `routing-lab-${session.spec.model.ffw}-step${session.step}.safetensors`;
        const plan = session.built.plan;
        // A plan records its steps: training on past them changes it (--extend); without one the CLI plans from --steps.
        const resume = plan
          ? `npm run demo -- --resume ${name} --steps ${Math.max(plan.steps + 100, 200)} --extend keep-schedule`
          : `npm run demo -- --resume ${name} --steps ${Math.max(200, session.step + 100)}${session.spec.train.batchSize !== 16 ? ` --batch ${session.spec.train.batchSize}` : ''}`;
        post({ type: 'saved', bytes, name, cliResumable: session.cliResumable, resume }, [bytes.buffer]);
      });
      break;
    case 'load':
      void enqueue(`loading ${m.name}`, async () => {
        training = false;
        stepsLeft = 0;
        let loaded: { next: Session; result: { step: number; note: string } };
        try {
          // The checkpoint's model is built and loaded beside the current one (on the same backend),
          // which it replaces only once every check passed: a bad file leaves the page as it was.
          const spec = { ...specOfCheckpoint(m.bytes, m.name, m.spec), backend: backend?.choice ?? m.spec.backend };
          loaded = await buildSession(spec, (n) => n.load(m.bytes, m.name));
        } catch (e) {
          throw loadFailure(m.name, e);
        }
        const { step, note } = loaded.result;
        post({ type: 'ready', info: loaded.next.info() });
        const valLoss = await loaded.next.evaluate();
        post({ type: 'loaded', name: m.name, step, valLoss, note });
        post({ type: 'eval', step, valLoss, ms: 0 });
        post({ type: 'status', training: false, step });
      });
      break;
  }
};
