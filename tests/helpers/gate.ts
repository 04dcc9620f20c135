/**
 * What the gate's end-to-end tests share: a steps-mode change on a harness's fleet, and readers
 * of the gate's report (one contract's verdict, every contract's status).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import type { ChangeResult } from '../../core/change.ts';
import type { ContractVerdict } from '../../core/gate.ts';
import type { Harness } from './harness.ts';

/** Repo name → its steps, each a shell command. */
export type Steps = Record<string, string[]>;

/** Runs a steps-mode change on the harness's fleet; `what` goes into its title and description. */
export async function stepsChange(h: Harness, id: string, what: string, steps: Steps): Promise<ChangeResult> {
  const file = join(h.fleet.root, `${id}.yaml`);
  const repos = Object.entries(steps).map(([name, commands]) => ({
    name,
    steps: commands.map((run, i) => ({ name: `step ${i + 1}`, run })),
  }));
  await writeFile(
    file,
    stringify({ id, title: `${what}: ${id}`, description: `${what.toLowerCase()} fixture change`, repos }),
  );
  return h.run(await h.changeInput(file));
}

/** The verdict on one contract; a report without it fails the test with the whole report. */
export function verdictOf(result: ChangeResult, contract: string): ContractVerdict {
  const v = result.gate?.contracts.find((c) => c.contract === contract);
  if (!v) throw new Error(`no verdict for ${contract}: ${JSON.stringify(result.gate)}`);
  return v;
}

/** A matcher for text that contains `part` (typed, so it can sit inside object matchers). */
export const containing = (part: string): unknown => expect.stringContaining(part);

/** Each contract's status, by name. */
export const contractStatuses = (result: ChangeResult): Record<string, string> =>
  Object.fromEntries((result.gate?.contracts ?? []).map((c) => [c.contract, c.status]));

/** A step that edits a file in place with a Python expression over `text`; it fails when nothing changed. */
export const editStep = (file: string, expression: string): string =>
  `python3 - <<'PY'\nfrom pathlib import Path\np = Path(${JSON.stringify(file)})\nold = p.read_text()\ntext = old\ntext = ${expression}\nassert text != old, "nothing changed in ${file}"\np.write_text(text)\nPY`;
