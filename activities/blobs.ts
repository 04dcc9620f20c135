/**
 * What page workflows read and store by reference (core/blobs.ts, core/pages.ts): a page's
 * tasks and the change they share, the results of the run before, and what a page leaves for
 * the coordinator's later stages.
 */
import type { BlobRef, BlobStore } from '../core/blobs.ts';
import type { SharedChange, SmallResult } from '../core/pages.ts';
import type { RepoTask } from '../core/repo.ts';
import { fatal } from './errors.ts';

export interface ReadPageInput {
  shared: BlobRef;
  tasks: BlobRef;
  previous: BlobRef | null;
  results: BlobRef | null;
}

export interface PageContent {
  shared: SharedChange;
  tasks: RepoTask[];
  previous: SmallResult[] | null;
  results: SmallResult[] | null;
}

export function createBlobActivities(blobs: BlobStore | undefined) {
  const store = (): BlobStore => {
    if (!blobs)
      throw fatal('InvalidInput', 'this worker has no blob store: changes in pages need a worker of this version');
    return blobs;
  };
  return {
    async readPage(input: ReadPageInput): Promise<PageContent> {
      const s = store();
      const [shared, tasks, previous, results] = await Promise.all([
        s.get<SharedChange>(input.shared),
        s.get<RepoTask[]>(input.tasks),
        input.previous ? s.get<SmallResult[]>(input.previous) : null,
        input.results ? s.get<SmallResult[]>(input.results) : null,
      ]);
      return { shared, tasks, previous, results };
    },

    async storeBlob(value: unknown): Promise<BlobRef> {
      return store().put(value);
    },
  };
}
