/**
 * How many sandboxes a change had created per repo, from the Docker engine's own event stream,
 * watched live from before the run: dockerd keeps only a short backlog of past events, which a
 * busy engine overwrites within a minute.
 */
import Docker from 'dockerode';
import { LABEL_CHANGE, LABEL_OWNER, LABEL_REPO } from '../../activities/sandbox/docker.ts';

export interface CreationWatch {
  /** Creations so far per repo; the gate's own sandboxes (gate-<round>-<check>-<repo>) redo no work and are left out. */
  counts(): Promise<Record<string, number>>;
  /** The owner label (`host:pid` of the worker) of each creation per repo, in order. */
  owners(): Promise<Record<string, string[]>>;
  stop(): void;
}

export async function watchCreations(changeId: string, docker = new Docker()): Promise<CreationWatch> {
  const stream = (await docker.getEvents({
    filters: { type: ['container'], event: ['create'], label: [`${LABEL_CHANGE}=${changeId}`] },
  })) as NodeJS.ReadableStream & { destroy(): void };
  const counts: Record<string, number> = {};
  const owners: Record<string, string[]> = {};
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim())) {
      const event = JSON.parse(line) as { Action?: string; Actor?: { Attributes?: Record<string, string> } };
      const repo = event.Actor?.Attributes?.[LABEL_REPO] ?? '?';
      if (event.Action === 'create' && !repo.startsWith('gate-')) {
        counts[repo] = (counts[repo] ?? 0) + 1;
        (owners[repo] ??= []).push(event.Actor?.Attributes?.[LABEL_OWNER] ?? '?');
      }
    }
  });
  return {
    async counts() {
      // The events of the last moments may still be on their way.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { ...counts };
    },
    async owners() {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return Object.fromEntries(Object.entries(owners).map(([repo, list]) => [repo, [...list]]));
    },
    stop: () => stream.destroy(),
  };
}
