/**
 * The requests and connections of a change's egress logs (one JSON line each, every phase), read
 * from this host's log folder, where the worker that ran the repo's commands wrote them
 * (`lockstep audit <changeId> --egress`).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EgressRecord } from '../../activities/egress/proxy.ts';
import { egressLogPath } from '../../activities/egress/sandbox.ts';

export interface EgressLogLine extends EgressRecord {
  repo: string;
}

/** Every line of the change's egress logs (of `repo` only, when given), oldest first; repos without a log have none. */
export async function readEgressLogs(logDir: string, changeId: string, repo?: string): Promise<EgressLogLine[]> {
  const repos = repo
    ? [repo]
    : await readdir(join(logDir, changeId), { withFileTypes: true }).then(
        (d) =>
          d
            .filter((e) => e.isDirectory())
            .map((e) => e.name)
            .sort(),
        () => [],
      );
  const lines: EgressLogLine[] = [];
  for (const name of repos) {
    const text = await readFile(egressLogPath(logDir, { changeId, repo: name }), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        lines.push({ repo: name, ...(JSON.parse(line) as EgressRecord) });
      } catch {
        // A line cut by a worker that died mid-write: the rest of the log still reads.
      }
    }
  }
  return lines.sort((a, b) => a.at.localeCompare(b.at));
}
