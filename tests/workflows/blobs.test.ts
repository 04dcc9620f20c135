/**
 * The blob store on a real Temporal server (workers/blobs.ts): content stored once under its
 * sha256 and read back by any client of the namespace; the same content stored twice is one
 * blob; content over the limit and a blob that is not there are refused with a clear error.
 */
import { describe, expect, it } from 'vitest';
import { blobWorkflowId, MAX_BLOB_BYTES } from '../../core/blobs.ts';
import { temporalBlobStore } from '../../workers/blobs.ts';
import { uniqueSuffix } from '../helpers/temporal.ts';
import { workflowWorker } from '../helpers/workflow-worker.ts';

const queue = `blobs-${uniqueSuffix()}`;
// The blob workflow needs no activity.
const server = workflowWorker(queue, {});

describe('the blob store', () => {
  it('stores content once under its sha256 and reads it back from another store', async () => {
    const value = { tasks: Array.from({ length: 50 }, (_, i) => ({ repo: `svc-${i}`, steps: ['edit'] })) };
    const a = temporalBlobStore(server().client, queue);
    const ref = await a.put(value);
    expect(ref.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ref.bytes).toBe(JSON.stringify(value).length);
    // A fresh store (no cache) reads it from the server.
    expect(await temporalBlobStore(server().client, queue).get(ref)).toEqual(value);
    // Stored again, from another store: the same blob, one workflow.
    expect(await temporalBlobStore(server().client, queue).put(value)).toEqual(ref);
    const runs = [];
    for await (const wf of server().client.workflow.list({ query: `WorkflowId = '${blobWorkflowId(ref.sha256)}'` }))
      runs.push(wf.runId);
    expect(runs).toHaveLength(1);
    await server().client.workflow.getHandle(blobWorkflowId(ref.sha256)).result();
  });

  it('refuses content over the limit and names a missing blob', async () => {
    const store = temporalBlobStore(server().client, queue);
    await expect(store.put('x'.repeat(MAX_BLOB_BYTES + 1))).rejects.toThrow(/smaller pages/);
    await expect(store.get({ sha256: 'f'.repeat(64), bytes: 1 })).rejects.toThrow(/not stored in this namespace/);
  });
});
