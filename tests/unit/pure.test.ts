/** Pure pieces: merge order, lanes, PR bodies and their manifest, output capture. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest, renderBody } from '../../activities/forges/body.ts';
import { SweptStderr } from '../../activities/sandbox/leftovers.ts';
import { OutputCapture } from '../../activities/sandbox/output.ts';
import { ProgressPrinter } from '../../cli/progress.ts';
import { inLanes } from '../../core/lanes.ts';
import type { ChangeStatusView } from '../../core/change.ts';
import type { GateReport } from '../../core/gate.ts';
import { mergeOrder } from '../../core/order.ts';

describe('mergeOrder', () => {
  it('puts providers before their consumers and keeps input order otherwise', () => {
    expect(
      mergeOrder([
        { repo: 'web', provides: [], consumes: ['api', 'events'] },
        { repo: 'docs', provides: [], consumes: [] },
        { repo: 'bus', provides: ['events'], consumes: ['api'] },
        { repo: 'api', provides: ['api'], consumes: [] },
      ]),
    ).toEqual(['docs', 'api', 'bus', 'web']);
  });

  it('keeps every repo when contracts form a cycle', () => {
    const order = mergeOrder([
      { repo: 'a', provides: ['x'], consumes: ['y'] },
      { repo: 'b', provides: ['y'], consumes: ['x'] },
      { repo: 'c', provides: [], consumes: [] },
    ]);
    expect(order).toEqual(['c', 'a', 'b']);
  });
});

describe('inLanes', () => {
  it('keeps at most width in flight, starts in input order, returns in input order', async () => {
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const gates = new Map<number, () => void>();
    const run = inLanes([0, 1, 2, 3, 4], 2, async (n) => {
      started.push(n);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => gates.set(n, resolve));
      inFlight--;
      return n * 10;
    });
    // Finish them out of order: 1 first, then the rest as they start.
    const release = async (n: number) => {
      for (let i = 0; i < 50 && !gates.has(n); i++) await Promise.resolve();
      gates.get(n)?.();
    };
    await release(1);
    for (const n of [0, 2, 3, 4]) await release(n);
    expect(await run).toEqual([0, 10, 20, 30, 40]);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('runs one at a time for a width below one, and nothing for no items', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await inLanes(['a', 'b', 'c'], 0, async (x) => {
      most = Math.max(most, ++inFlight);
      await Promise.resolve();
      inFlight--;
      return x.toUpperCase();
    });
    expect(results).toEqual(['A', 'B', 'C']);
    expect(most).toBe(1);
    expect(await inLanes([], 4, () => Promise.resolve(1))).toEqual([]);
  });
});

describe('ProgressPrinter (lines mode)', () => {
  it('prints a line when the change enters the gate, a fix round and publishing, once each', () => {
    const lines: string[] = [];
    const out = {
      write: (text: string) => lines.push(...text.split('\n').filter(Boolean)),
    } as unknown as NodeJS.WriteStream;
    const printer = new ProgressPrinter(out, false);
    const report = {
      round: 0,
      passed: false,
      summary: 'gate blocked: contract api mismatch',
      contracts: [],
      findings: [],
      durationMs: 5,
    } as GateReport;
    const view = (phase: ChangeStatusView['phase'], gate: GateReport | null = null): ChangeStatusView => ({
      changeId: 'c',
      title: 't',
      status: 'running',
      phase,
      startedAt: 0,
      mergeOrder: [],
      plan: null,
      repos: [],
      result: null,
      awaiting: null,
      humans: [],
      gate,
    });
    for (const v of [
      view('running'),
      view('gate'),
      view('gate'),
      view('fixing', report),
      view('gate', report),
      view('publishing'),
      view('publishing'),
    ])
      printer.update(v, 1000);
    expect(lines.map((l) => l.replace(/^\[\s*[\d.]+s\] /, ''))).toEqual([
      '▸ gate (round 0): checking the contracts and scanning the changed repos',
      '▸ fix round: gate blocked: contract api mismatch; the blamed repos work again',
      '▸ gate (round 1): checking the contracts and scanning the changed repos',
      '▸ publishing: opening and linking the pull requests',
    ]);
  });
});

describe('PR bodies', () => {
  const siblings = [
    { repo: 'billing', pullRequest: { number: 3, url: 'u://billing/3' }, commit: 'c'.repeat(40) },
    { repo: 'catalog', pullRequest: { number: 1, url: 'u://catalog/1' }, commit: 'a'.repeat(40) },
  ];

  it('lists every sibling in merge order, marks this one, and carries a manifest', () => {
    const body = renderBody({
      changeId: 'ch',
      repo: 'billing',
      description: 'Why.',
      mergeOrder: ['catalog', 'billing'],
      siblings,
    });
    expect(body.startsWith('Why.')).toBe(true);
    expect(body).toContain('| 1 | catalog | [#1](u://catalog/1) | `aaaaaaaaaaaa` |');
    expect(body).toContain('| 2 | billing (this one) | [#3](u://billing/3) |');
    expect(parseManifest(body)).toEqual({
      changeId: 'ch',
      order: ['catalog', 'billing'],
      repos: [
        { repo: 'catalog', number: 1, url: 'u://catalog/1', commit: 'a'.repeat(40) },
        { repo: 'billing', number: 3, url: 'u://billing/3', commit: 'c'.repeat(40) },
      ],
    });
  });

  it('says the set is being opened before the links exist, and has no manifest yet', () => {
    const body = renderBody({ changeId: 'ch', repo: 'x', description: '', mergeOrder: [], siblings: null });
    expect(body).toContain('being opened');
    expect(parseManifest(body)).toBeNull();
    expect(parseManifest('<!-- lockstep:manifest {broken -->')).toBeNull();
  });
});

describe('SweptStderr', () => {
  const feed = (chunks: string[], believe = true): { out: string; report: unknown } => {
    let out = '';
    const stderr = new SweptStderr((chunk) => (out += chunk.toString('latin1')));
    for (const c of chunks) stderr.write(Buffer.from(c, 'latin1'));
    const report = stderr.end(believe);
    return { out, report };
  };
  const REPORT = '\0lockstep-swept 3 2 0\n';

  it('takes the report off the end, wherever the chunks split it', () => {
    const all = `err\0x\n${REPORT}`;
    for (let cut = 0; cut <= all.length; cut++) {
      expect(feed([all.slice(0, cut), all.slice(cut)])).toEqual({
        out: 'err\0x\n',
        report: { exitCode: 3, killed: 2, alive: 0 },
      });
    }
  });

  it('passes on a report that is not last, is malformed, or is not believed', () => {
    expect(feed([REPORT, 'more'])).toEqual({ out: `${REPORT}more`, report: null });
    expect(feed(['\0lockstep-swept 3 x 0\n'])).toEqual({ out: '\0lockstep-swept 3 x 0\n', report: null });
    expect(feed([`\0lockstep-swept 0 0 0\n${REPORT}`]).report).toEqual({ exitCode: 3, killed: 2, alive: 0 });
    expect(feed([REPORT], false)).toEqual({ out: REPORT, report: null });
    expect(feed(['\0\0\0'])).toEqual({ out: '\0\0\0', report: null });
  });
});

describe('OutputCapture', () => {
  it('counts everything, stores at most the cap, keeps a tail and hashes exactly the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-out-'));
    try {
      const path = join(dir, 'nested', 'cmd.log');
      const capture = await OutputCapture.open(path, 1000, 64);
      for (let i = 0; i < 100; i++) capture.write(Buffer.from(`line ${i} ${'x'.repeat(40)}\n`));
      capture.write(Buffer.from('the end\n'));
      const ref = await capture.close();
      const file = await readFile(path);
      expect(capture.bytes).toBeGreaterThan(4000);
      expect(capture.truncated).toBe(true);
      expect(ref?.bytes).toBe(file.length);
      expect(ref?.sha256).toBe(createHash('sha256').update(file).digest('hex'));
      expect(file.toString()).toContain('output truncated');
      expect(file.length).toBeLessThan(1200);
      const tail = capture.tailText();
      expect(tail).toContain('the end');
      expect(tail).toMatch(/^\[… \d+ bytes before this\]/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replaces invalid UTF-8 in the tail instead of failing', async () => {
    const capture = await OutputCapture.open(null, 100);
    capture.write(Buffer.from([0x66, 0xff, 0xfe, 0x6f]));
    expect(capture.tailText()).toBe('f\uFFFD\uFFFDo');
    expect(await capture.close()).toBeNull();
  });
});
