// The page: a form for the model, the controls, and the views. Everything heavy happens in the
// worker (./worker.ts); this thread only sends requests and draws what comes back.
import type { Event, LayerSnapshot, ReadyInfo, Request, TokenRoute } from './protocol.js';
import { DEFAULT_SPEC, sameExceptBackend, validateSpec, type LabSpec, type SpecProblem } from './spec.js';
import { drawLineChart, sig3 } from './ui/charts.js';
import { drawHeatmap } from './ui/heatmap.js';
import { drawRoute } from './ui/route-view.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('spec-form');

/** What the page knows; `window.routingLab` exposes it for the curious (and for the browser tests). */
const lab = {
  spec: structuredClone(DEFAULT_SPEC) as LabSpec,
  info: null as ReadyInfo | null,
  training: false,
  step: 0,
  losses: [] as [number, number][],
  evals: [] as [number, number][],
  /** The layer's figures over time, one point per snapshot (each over the same rolling window). */
  usage: [] as [number, number][],
  kl: [] as [number, number][],
  dead: [] as [number, number][],
  balance: [] as [number, number][],
  dropped: [] as [number, number][],
  lastRoute: null as TokenRoute | null,
  lastSnapshot: null as LayerSnapshot | null,
  /** The route and layer snapshot the views show (they draw only while on screen). */
  shownRoute: null as TokenRoute | null,
  shownSnapshot: null as LayerSnapshot | null,
  lastLoaded: null as { name: string; step: number; valLoss: number; note: string } | null,
  lastError: null as string | null,
  stepMs: [] as number[],
  events: 0,
  /** Longest time the page spent handling one worker message, per message type (ms). */
  handlerMs: {} as Record<string, number>,
  /** Longest time one frame's drawing took (ms). */
  drawMs: 0,
  handlerLog: null as [string, number][] | null,
};
(window as unknown as { routingLab: typeof lab }).routingLab = lab;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (r: Request, transfer: Transferable[] = []) => worker.postMessage(r, transfer);

// ---------------------------------------------------------------- the form

function field(name: string): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | null {
  return form.elements.namedItem(name) as HTMLInputElement | null;
}

function setForm(spec: LabSpec): void {
  const m = spec.model;
  (form.querySelector(`input[name=ffw][value=${m.ffw}]`) as HTMLInputElement).checked = true;
  const values: Record<string, string | number> = {
    dim: m.dim,
    depth: m.depth,
    heads: m.heads,
    contextLength: m.contextLength,
    seed: m.seed,
    batchSize: spec.train.batchSize,
    lr: spec.train.lr,
    warmupSteps: spec.train.warmupSteps,
    evalEvery: spec.train.evalEvery,
    evalBatches: spec.train.evalBatches,
    backend: spec.backend,
  };
  for (const kind of ['moe', 'pkm', 'peer'] as const) {
    for (const [k, v] of Object.entries(m[kind])) values[`${kind}.${k}`] = v === Infinity ? '∞' : (v as string | number);
  }
  for (const [k, v] of Object.entries(values)) {
    const f = field(k);
    if (f) f.value = String(v);
  }
  const corpus = form.querySelector(`input[name=corpus][value=${spec.corpus.kind}]`) as HTMLInputElement;
  corpus.checked = true;
  showLayerOptions();
}

function num(name: string): number {
  const raw = (field(name)?.value ?? '').trim();
  if (raw === '∞' || /^inf(inity)?$/i.test(raw) || raw === '') return name.endsWith('capacityFactor') ? Infinity : NaN;
  return Number(raw);
}

function readForm(): LabSpec {
  const ffw = (form.querySelector('input[name=ffw]:checked') as HTMLInputElement).value as LabSpec['model']['ffw'];
  const str = (name: string) => field(name)!.value;
  const corpusKind = (form.querySelector('input[name=corpus]:checked') as HTMLInputElement).value;
  const text = (field('text') as HTMLTextAreaElement).value;
  return {
    model: {
      ffw,
      dim: num('dim'),
      depth: num('depth'),
      heads: num('heads'),
      contextLength: num('contextLength'),
      seed: num('seed'),
      moe: {
        numExperts: num('moe.numExperts'),
        topK: num('moe.topK'),
        hidden: num('moe.hidden'),
        router: str('moe.router') as 'topk',
        balance: str('moe.balance') as 'loss',
        capacityFactor: num('moe.capacityFactor'),
        numShared: num('moe.numShared'),
      },
      pkm: {
        numExperts: num('pkm.numExperts'),
        heads: num('pkm.heads'),
        topK: num('pkm.topK'),
        dimKey: num('pkm.dimKey'),
        queryNorm: str('pkm.queryNorm') as 'batch',
      },
      peer: {
        numExperts: num('peer.numExperts'),
        heads: num('peer.heads'),
        topK: num('peer.topK'),
        dimKey: num('peer.dimKey'),
        queryNorm: str('peer.queryNorm') as 'batch',
        scoreFn: str('peer.scoreFn') as 'softmax',
      },
    },
    train: {
      batchSize: num('batchSize'),
      lr: num('lr'),
      warmupSteps: num('warmupSteps'),
      evalEvery: num('evalEvery'),
      evalBatches: num('evalBatches'),
    },
    corpus: corpusKind === 'text' ? { kind: 'text', text, name: textName } : { kind: corpusKind as 'excerpt' | 'book' },
    backend: str('backend') as LabSpec['backend'],
  };
}

let textName = 'pasted text';

function showLayerOptions(): void {
  const ffw = (form.querySelector('input[name=ffw]:checked') as HTMLInputElement).value;
  for (const fs of form.querySelectorAll<HTMLFieldSetElement>('fieldset.layer-options')) fs.hidden = fs.dataset.kind !== ffw;
}

/** Checks the form; shows each problem next to the form and marks its field. Returns the spec when valid. */
function checkForm(): LabSpec | null {
  const spec = readForm();
  const problems: SpecProblem[] = validateSpec(spec, spec.corpus.kind === 'text' ? spec.corpus.text.length : null);
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
  const list = $('problems');
  list.replaceChildren(
    ...problems.map((p) => {
      const f = p.field === 'corpus' ? field('text') : field(p.field);
      if (f instanceof HTMLElement) f.classList.add('invalid');
      const li = document.createElement('li');
      li.textContent = p.message;
      return li;
    }),
  );
  $<HTMLButtonElement>('apply').disabled = problems.length > 0;
  return problems.length ? null : spec;
}

form.addEventListener('input', () => {
  showLayerOptions();
  checkForm();
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const spec = checkForm();
  if (spec) configure(spec);
});

const textArea = field('text') as HTMLTextAreaElement;
textArea.addEventListener('dragover', (e) => e.preventDefault());
textArea.addEventListener('drop', (e) => {
  e.preventDefault();
  const file = e.dataTransfer?.files[0];
  if (!file) return;
  if (file.size > 20 * 2 ** 20)
    return say(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MB; the lab takes text files up to 20 MB`, true);
  void file.text().then((text) => {
    if (text.includes('\u0000')) return say(`${file.name} looks like a binary file, not text`, true);
    textArea.value = text;
    textName = file.name;
    (form.querySelector('input[name=corpus][value=text]') as HTMLInputElement).checked = true;
    checkForm();
    say(`${file.name}: ${text.length} characters; press Apply to train on it`);
  });
});

// ---------------------------------------------------------------- controls

function say(message: string, isError = false): void {
  const p = $('message');
  p.textContent = message;
  p.classList.toggle('error', isError);
  if (isError) lab.lastError = message;
}

const BACKEND_NAMES = { cpu: 'the CPU', webgl2: 'WebGL2', webgpu: 'WebGPU' } as const;

/** Set while a backend switch or a checkpoint load is under way: what the page had before it. */
let pending: { kind: 'switch' | 'load'; info: ReadyInfo; name: string } | null = null;

function clearHistory(): void {
  lab.losses = [];
  lab.evals = [];
  lab.usage = [];
  lab.kl = [];
  lab.dead = [];
  lab.balance = [];
  lab.dropped = [];
  lab.stepMs = [];
}

function configure(spec: LabSpec): void {
  // A new backend for the same settings: the worker moves the running model across (its curves stay).
  const switching = lab.info !== null && lab.info.spec.backend !== spec.backend && sameExceptBackend(lab.info.spec, spec);
  pending = switching ? { kind: 'switch', info: lab.info!, name: lab.info!.backend } : null;
  lab.spec = spec;
  if (!switching) clearHistory();
  lab.info = null;
  setButtons();
  $('stat-backend').textContent = 'starting…';
  say(switching ? `moving the model (step ${lab.step}) to ${BACKEND_NAMES[spec.backend]}…` : 'building the model…');
  send({ type: 'configure', spec });
}

function setButtons(): void {
  const ready = lab.info !== null;
  $<HTMLButtonElement>('train').disabled = !ready || lab.training;
  $<HTMLButtonElement>('pause').disabled = !ready || !lab.training;
  $<HTMLButtonElement>('step').disabled = !ready || lab.training;
  $<HTMLButtonElement>('save').disabled = !ready || lab.training;
  $<HTMLButtonElement>('gen').disabled = !ready;
}

$('train').addEventListener('click', () => send({ type: 'train' }));
$('pause').addEventListener('click', () => send({ type: 'pause' }));
$('step').addEventListener('click', () => send({ type: 'step', steps: 1 }));
$('save').addEventListener('click', () => send({ type: 'save' }));
$<HTMLInputElement>('load').addEventListener('change', async (e) => {
  const input = e.target as HTMLInputElement;
  const file = input.files?.[0];
  if (!file) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  input.value = '';
  say(`loading ${file.name}…`);
  // The curves stay until the checkpoint's model is ready; a file that does not load leaves them.
  if (lab.info) pending = { kind: 'load', info: lab.info, name: file.name };
  lab.info = null;
  setButtons();
  send({ type: 'load', bytes, name: file.name, spec: lab.spec }, [bytes.buffer]);
});
$('gen').addEventListener('click', () => {
  const temperature = Number($<HTMLInputElement>('gen-temp').value);
  const tokens = Number($<HTMLInputElement>('gen-tokens').value);
  if (!(temperature >= 0) || !Number.isInteger(tokens) || tokens < 1 || tokens > 2000)
    return say('generate: temperature must be ≥ 0 and characters an integer from 1 to 2000', true);
  $('gen-out').textContent = '…';
  send({ type: 'generate', prompt: $<HTMLInputElement>('gen-prompt').value, tokens, temperature, topK: 20 });
});

// ---------------------------------------------------------------- the route of one token

let probe = { text: '', position: 0 };
let selectedHead = 0;

function drawProbeText(text: string, position: number): void {
  const host = $('probe-text');
  const spans = Array.from(text).map((c, i) => {
    const s = document.createElement('span');
    s.textContent = c === '\n' ? '⏎\n' : c;
    s.dataset.i = String(i);
    if (i === position) s.className = 'selected';
    return s;
  });
  host.replaceChildren(...spans);
}

$('probe-text').addEventListener('click', (e) => {
  const i = (e.target as HTMLElement).dataset.i;
  if (i === undefined) return;
  probeAt(probe.text, Number(i));
});
$<HTMLInputElement>('probe-input').addEventListener('input', (e) => {
  const text = (e.target as HTMLInputElement).value;
  if (text.length) probeAt(text, Array.from(text).length - 1);
});

/**
 * Which views are on screen. A view out of sight is not drawn while it trains: its data is kept and
 * drawn when it scrolls into view, so the main thread only draws what someone can see.
 */
const onScreen = { route: false, layer: false };
const views = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const id = e.target.id as keyof typeof onScreen;
    const was = onScreen[id];
    onScreen[id] = e.isIntersecting;
    if (!was && e.isIntersecting) {
      if (id === 'route' && lab.shownRoute !== lab.lastRoute) renderRoute();
      if (id === 'layer' && lab.lastSnapshot) schedule('layer');
    }
  }
});
views.observe($('route'));
views.observe($('layer'));

function renderRoute(): void {
  if (!lab.lastRoute) return;
  if (!onScreen.route) return;
  lab.shownRoute = lab.lastRoute;
  drawRoute($('route-view'), lab.lastRoute, selectedHead, (h) => {
    selectedHead = h;
    renderRoute();
  });
}

function probeAt(text: string, position: number): void {
  probe = { text, position };
  drawProbeText(text, position);
  send({ type: 'probe', text, position });
}

// ---------------------------------------------------------------- drawing, once per frame at most

let dirty = { loss: false, layer: false };
function schedule(part: keyof typeof dirty): void {
  if (!dirty.loss && !dirty.layer) requestAnimationFrame(draw);
  dirty[part] = true;
}

function draw(): void {
  const t0 = performance.now();
  if (dirty.loss) {
    drawLineChart(
      $('loss-chart'),
      [
        { name: 'train', color: '#1f77b4', points: lab.losses },
        {
          // Before the first validation the legend says when it comes, rather than a bare swatch.
          name: lab.evals.length ? 'validation' : `validation (none yet: every ${lab.spec.train.evalEvery} steps)`,
          color: '#d62728',
          points: lab.evals,
          dots: true,
        },
      ],
      { xLabel: 'step', yLabel: 'loss (nats)' },
    );
  }
  if (dirty.layer && lab.lastSnapshot && onScreen.layer) {
    drawLayer(lab.lastSnapshot);
    lab.shownSnapshot = lab.lastSnapshot;
  }
  dirty = { loss: false, layer: false };
  lab.drawMs = Math.max(lab.drawMs, performance.now() - t0);
}

function drawLayer(s: LayerSnapshot): void {
  const chosen =
    lab.lastRoute?.detail.kind === 'peer' || lab.lastRoute?.detail.kind === 'pkm'
      ? lab.lastRoute.detail.heads.flatMap((h) => h.winners.map((w) => w.expert))
      : lab.lastRoute?.detail.kind === 'moe'
        ? lab.lastRoute.detail.chosen.map((c) => c.expert)
        : [];
  drawHeatmap($<HTMLCanvasElement>('heatmap'), s.share, s.gridWidth, chosen);
  const n = s.numExperts;
  const side = Math.sqrt(n);
  const span = windowLabel(s);
  $('heatmap-caption').textContent =
    `${n} experts${Number.isInteger(side) && s.kind !== 'moe' ? ` on a ${side}×${side} grid (row i, column j = expert i·${side} + j)` : ''}: each cell's share of the gate mass over the window, ${span}. ` +
    'Dark: unused in the window; pale to deep blue: below the uniform share 1/N; orange to red: above it (red ≥ 16×). Green frame: the experts of the token in the route view (a marker, not a usage colour).';
  layerWindowLine().textContent = `Window: ${span}. The heat map, these numbers and the charts' last points all cover it.`;
  const rows: [string, string][] = [
    ['experts N', String(n)],
    ['usage', `${(100 * s.usage).toFixed(1)}%`],
    ['KL unevenness', Number.isFinite(s.unevenness) ? `${s.unevenness.toFixed(3)} nats (max log N = ${Math.log(n).toFixed(2)})` : '–'],
    ['dead experts', `${s.dead} (${pct1((100 * s.dead) / n)})`],
  ];
  if (s.auxLoss !== null) rows.push(['balance loss', s.auxLoss.toFixed(4)]);
  // The applied model's capacity: without a limit nothing is ever dropped, and the page says so.
  const capped = s.droppedFraction !== null && Number.isFinite(lab.info?.spec.model.moe.capacityFactor ?? Infinity);
  if (s.droppedFraction !== null)
    rows.push(['dropped by capacity', capped ? `${(100 * s.droppedFraction).toFixed(2)}% of assignments` : 'none (no capacity limit)']);
  if (s.bias) rows.push(['balancing bias', s.bias.map((b) => b.toFixed(3)).join(' ')]);
  $('layer-stats').replaceChildren(
    ...rows.map(([k, v]) => {
      const d = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = v;
      d.append(dt, dd);
      return d;
    }),
  );
  // Four panels, each with its own axis: shares of the N experts (%), the KL unevenness (nats), for
  // MoE with a balance loss that loss, and for MoE the share of assignments dropped by capacity (% of
  // assignments, not of experts). Each point: a snapshot over the same rolling window.
  const [pctHost, klHost, balanceHost, droppedHost] = layerCharts();
  const empty = 'a point every 10 training steps (and at each pause)';
  drawLineChart(
    pctHost,
    [
      { name: 'usage (in window)', color: '#2ca02c', points: lab.usage, format: pct1 },
      { name: 'dead (never chosen)', color: '#555', points: lab.dead, format: pct1 },
    ],
    { xLabel: 'step', yLabel: '% of experts', height: 150, yMin: 0, yMax: 100, yFormat: (v) => `${v}%`, empty },
  );
  drawLineChart(klHost, [{ name: 'KL unevenness', color: '#9467bd', points: lab.kl, format: (v) => `${sig3(v)} nats` }], {
    xLabel: 'step',
    yLabel: 'KL (nats)',
    height: 130,
    yMin: 0,
    empty,
  });
  balanceHost.hidden = s.auxLoss === null;
  if (s.auxLoss !== null)
    drawLineChart(balanceHost, [{ name: 'balance loss', color: '#ff7f0e', points: lab.balance }], {
      xLabel: 'step',
      yLabel: 'balance loss',
      height: 130,
      yMin: 0,
      empty,
    });
  droppedHost.hidden = !capped;
  if (capped)
    drawLineChart(droppedHost, [{ name: 'dropped by capacity', color: '#8c564b', points: lab.dropped, format: (v) => `${sig3(v)}%` }], {
      xLabel: 'step',
      yLabel: '% of assignments',
      height: 130,
      yMin: 0,
      yFormat: (v) => `${v}%`,
      empty,
    });
}

/** "steps 33–42 (the last 10)": the window a layer snapshot covers. */
function windowLabel(s: LayerSnapshot): string {
  const steps = s.windowFrom === s.step ? `step ${s.step}` : `steps ${s.windowFrom}–${s.step}`;
  return s.windowSteps === 1 ? `${steps} (the last training step)` : `${steps} (the last ${s.windowSteps} training steps)`;
}

const pct1 = (v: number) => `${sig3(Math.round(10 * v) / 10)}%`;

/** The line above the layer's numbers that names their window (created once, before #layer-stats). */
function layerWindowLine(): HTMLElement {
  let line = document.getElementById('layer-window');
  if (!line) {
    line = Object.assign(document.createElement('p'), { id: 'layer-window', className: 'small layer-window' });
    $('layer-stats').before(line);
  }
  return line;
}

/** The layer view's four chart panels (created once inside #usage-chart). */
function layerCharts(): [HTMLElement, HTMLElement, HTMLElement, HTMLElement] {
  const host = $('usage-chart');
  const ids = ['usage-chart-pct', 'usage-chart-kl', 'usage-chart-balance', 'usage-chart-dropped'];
  if (host.children.length !== ids.length || !(host.firstElementChild instanceof HTMLDivElement)) {
    host.replaceChildren(...ids.map((id) => Object.assign(document.createElement('div'), { id })));
  }
  return Array.from(host.children) as [HTMLElement, HTMLElement, HTMLElement, HTMLElement];
}

/**
 * Without cross-origin isolation (a host that does not send COOP/COEP) there is no SharedArrayBuffer:
 * everything works, the kernels run on the worker's one thread.
 */
const isolationNote =
  globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function'
    ? null
    : 'This page is not cross-origin isolated (its host sends no Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy headers), ' +
      'so SharedArrayBuffer is unavailable: the kernels run on one thread of the worker. Everything else works; docs/lab.md lists the headers.';

function showInfo(info: ReadyInfo): void {
  $('stat-backend').textContent = info.backend;
  const note = $('backend-note');
  const notes = [info.backendNote, isolationNote].filter((n) => n !== null);
  note.hidden = notes.length === 0;
  note.textContent = notes.join('\n');
  const c = info.corpus;
  const fmtN = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} K` : String(n));
  $('model-info').textContent =
    `${fmtN(info.parameters)} parameters, ${fmtN(info.activeParameters)} used per token; ${c.name}: ${fmtN(c.characters)} characters, ` +
    `${c.vocabSize} distinct, ${fmtN(c.trainTokens)} for training and ${fmtN(c.validationTokens)} held out. Device: ${info.device}. ` +
    (info.cliResumable
      ? "This is an npm run demo model (the CLI's config and builder): checkpoints move both ways."
      : "This is an npm run demo model (the CLI's config and builder); the CLI resumes a save of it when it trains on the whole book (its corpus).");
  setForm(info.spec);
  lab.spec = info.spec;
  checkForm();
}

// ---------------------------------------------------------------- worker events

worker.addEventListener('error', (e) => say(`the training worker failed to start: ${e.message}`, true));
worker.addEventListener('message', (msg: MessageEvent<Event>) => {
  const e = msg.data;
  lab.events++;
  const t0 = performance.now();
  try {
    handle(e);
  } finally {
    const ms = performance.now() - t0;
    (lab.handlerLog ??= []).push([e.type, Math.round(ms)]);
    lab.handlerMs[e.type] = Math.max(lab.handlerMs[e.type] ?? 0, ms);
  }
});

function handle(e: Event): void {
  switch (e.type) {
    case 'ready': {
      lab.info = e.info;
      lab.step = e.info.step;
      if (pending?.kind === 'load') clearHistory();
      const moved = pending?.kind === 'switch' ? pending.name : null;
      pending = null;
      showInfo(e.info);
      const asked = BACKEND_NAMES[e.info.spec.backend];
      const fellBack =
        e.info.backendNote !== null && e.info.spec.backend !== 'cpu'
          ? `, because ${asked} could not start here (the yellow note says why)`
          : '';
      say(
        moved === e.info.backend && fellBack
          ? `${asked} could not start here (the yellow note says why), so the model stays on ${moved} at step ${e.info.step}, as it was. Press Train.`
          : moved
            ? `moved the model from ${moved} to ${e.info.backend}${fellBack} at step ${e.info.step}: weights, Adam state and data position came along. Press Train.`
            : `ready: ${e.info.spec.model.ffw.toUpperCase()} model on ${e.info.backend}${fellBack}. Press Train.`,
      );
      if (!probe.text) {
        const text = e.info.sample.slice(0, 400);
        probe = { text, position: Math.min(text.length - 1, text.indexOf(' ', 30) + 1 || 40) };
      }
      drawProbeText(probe.text, probe.position);
      send({ type: 'probe', text: probe.text, position: probe.position });
      schedule('loss');
      break;
    }
    case 'status':
      // A status while paused after a step or a pause (not the one that follows 'ready', whose message stays).
      if (!e.training && lab.info && (lab.training || lab.step !== e.step)) say(`paused at step ${e.step}`);
      lab.training = e.training;
      lab.step = e.step;
      if (e.training) say('training…');
      break;
    case 'step':
      lab.step = e.step;
      lab.losses.push([e.step, e.loss]);
      lab.stepMs.push(e.ms);
      $('stat-step').textContent = String(e.step);
      $('stat-loss').textContent = e.loss.toFixed(3);
      $('stat-tps').textContent = String(Math.round(e.tokensPerSecond));
      $('stat-ms').textContent = e.ms.toFixed(0);
      schedule('loss');
      break;
    case 'eval':
      lab.evals = lab.evals.filter(([s]) => s !== e.step);
      lab.evals.push([e.step, e.valLoss]);
      {
        // The validation loss comes every few steps: say which step it is from.
        const at = document.createElement('small');
        at.textContent = `at step ${e.step}`;
        $('stat-val').replaceChildren(e.valLoss.toFixed(4), at);
      }
      schedule('loss');
      break;
    case 'layer':
      lab.lastSnapshot = e.snapshot;
      {
        // Every snapshot covers the same rolling window (the last 10 steps), so each is a point of the
        // charts and the numbers beside the heat map are always the charts' last points.
        const s = e.snapshot;
        const point = (series: [number, number][], y: number) => {
          if (series.at(-1)?.[0] === s.step) series.pop();
          series.push([s.step, y]);
        };
        point(lab.usage, 100 * s.usage);
        point(lab.kl, s.unevenness);
        point(lab.dead, (100 * s.dead) / s.numExperts);
        if (s.auxLoss !== null) point(lab.balance, s.auxLoss);
        if (s.droppedFraction !== null) point(lab.dropped, 100 * s.droppedFraction);
      }
      schedule('layer');
      break;
    case 'route':
      lab.lastRoute = e.route;
      renderRoute();
      if (lab.lastSnapshot) schedule('layer');
      break;
    case 'generated':
      $('gen-out').textContent = '';
      $('gen-out').append(Object.assign(document.createElement('b'), { textContent: e.prompt }), e.text);
      break;
    case 'saved': {
      const url = URL.createObjectURL(new Blob([e.bytes as BlobPart], { type: 'application/octet-stream' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: e.name });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      say(
        e.cliResumable
          ? `saved ${e.name}. Continue it in Node: ${e.resume}`
          : `saved ${e.name}. The lab loads it back; npm run demo resumes a run on its corpus, the whole book: choose "the whole book" to train one it continues.`,
      );
      break;
    }
    case 'loaded':
      lab.lastLoaded = { name: e.name, step: e.step, valLoss: e.valLoss, note: e.note };
      say(`loaded ${e.name} at step ${e.step} (${e.note}); validation loss ${e.valLoss.toFixed(4)}`);
      break;
    case 'error':
      if (pending) {
        // The switch or load failed: the worker kept the model it had; so does the page.
        lab.info = pending.info;
        pending = null;
        showInfo(lab.info);
      }
      say(`${e.where}: ${e.message}`, true);
      if (!lab.info) $('stat-backend').textContent = 'not running';
      break;
  }
  setButtons();
}

// ---------------------------------------------------------------- start

/** Settings from the address, e.g. ?ffw=moe&backend=webgl2&batch=4 (shareable links, and the tests). */
function specFromUrl(spec: LabSpec): LabSpec {
  const q = new URLSearchParams(location.search);
  const s = structuredClone(spec);
  const ffw = q.get('ffw');
  if (ffw === 'dense' || ffw === 'moe' || ffw === 'pkm' || ffw === 'peer') s.model.ffw = ffw;
  const backend = q.get('backend');
  if (backend === 'cpu' || backend === 'webgl2' || backend === 'webgpu') s.backend = backend;
  const int = (k: string) => (q.has(k) ? Number(q.get(k)) : null);
  s.train.batchSize = int('batch') ?? s.train.batchSize;
  s.model.contextLength = int('context') ?? s.model.contextLength;
  s.train.evalEvery = int('evalEvery') ?? s.train.evalEvery;
  s.train.evalBatches = int('evalBatches') ?? s.train.evalBatches;
  s.train.warmupSteps = int('warmup') ?? s.train.warmupSteps;
  s.train.lr = q.has('lr') ? Number(q.get('lr')) : s.train.lr;
  if (q.get('corpus') === 'book') s.corpus = { kind: 'book' };
  // Model sizes by form name: ?dim=16&depth=1&heads=2&peer.numExperts=16&peer.topK=2 (a tiny model).
  const model = s.model as unknown as Record<string, unknown>;
  for (const [key, value] of q) {
    const [a, b] = key.split('.');
    if (b === undefined && ['dim', 'depth', 'heads', 'contextLength', 'seed'].includes(a!)) model[a!] = Number(value);
    const layer = a === 'moe' || a === 'pkm' || a === 'peer' ? (model[a] as Record<string, unknown>) : null;
    if (layer && b !== undefined && b in layer)
      layer[b] = typeof layer[b] === 'string' ? value : value === '∞' || value === 'Infinity' ? Infinity : Number(value);
  }
  return s;
}

const initial = specFromUrl(DEFAULT_SPEC);
setForm(initial);
setButtons();
const ok = checkForm();
if (ok) configure(ok);
drawLineChart($('loss-chart'), [], { xLabel: 'step', yLabel: 'loss (nats)' });
