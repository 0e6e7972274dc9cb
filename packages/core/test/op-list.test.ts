import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from '@myriad/core';
import { BEGIN, END, NOT_OPS, PROBES, collectOps, opTable } from './helpers/op-list.js';

// docs/core.md's op table is generated from the code (see helpers/op-list.ts) and must match it:
// a new op, a lost gradient or a new host step changes the table and fails this test. The gradient
// check of every differentiable op is grad-registry.test.ts (through the same probes).
// Regenerate with: MYRIAD_UPDATE_DOCS=1 npx vitest run packages/core/test/op-list.test.ts
const docPath = fileURLToPath(new URL('../../../docs/core.md', import.meta.url));

describe('op list', () => {
  it('has a probe for every op @myriad/core exports (and none for names it does not)', () => {
    const exported = Object.entries(core)
      .filter(([name, v]) => typeof v === 'function' && !NOT_OPS.has(name))
      .map(([name]) => name);
    expect(exported.filter((n) => !(n in PROBES))).toEqual([]);
    expect(Object.keys(PROBES).filter((n) => !exported.includes(n))).toEqual([]);
  });

  it('docs/core.md carries the generated table', () => {
    const doc = readFileSync(docPath, 'utf8');
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    const table = opTable(collectOps());
    if (process.env.MYRIAD_UPDATE_DOCS === '1' && start >= 0 && end > start) {
      writeFileSync(docPath, `${doc.slice(0, start + BEGIN.length)}\n${table}\n${doc.slice(end)}`);
      return;
    }
    expect(start, `docs/core.md lacks the marker ${BEGIN}`).toBeGreaterThanOrEqual(0);
    expect(doc.slice(start + BEGIN.length, end).trim(), 'the op table drifted from the code: rerun with MYRIAD_UPDATE_DOCS=1').toBe(table);
  });

  it('classifies known cases right', () => {
    const ops = new Map(collectOps().map((o) => [o.name, o]));
    expect(ops.get('sin')).toMatchObject({ differentiable: true, kernels: ['unary'], host: [], backward: ['sin'] });
    expect(ops.get('clamp')!.backward).toEqual(['maximum', 'minimum']); // composed: its gradient is theirs
    expect(ops.get('sign')).toMatchObject({ differentiable: false, backward: [] });
    expect(ops.get('argsort')).toMatchObject({ differentiable: false });
    expect(ops.get('reshape')!.kernels).toEqual([]);
    expect(ops.get('dropout')!.host).toEqual(['fromTypedArray']); // noise drawn on the host
    expect(ops.get('tril')!.host).toEqual([]); // its aranges are made by kernels
  });
});
