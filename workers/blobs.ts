/**
 * The blob store (core/blobs.ts) on Temporal: a blob is the input of a `blobWorkflow` named
 * after its sha256, which completes at once; reading it reads that workflow's first event. The
 * worker hands one to its activities, the client makes one to store a change's pages.
 */
import { createHash } from 'node:crypto';
import {
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { blobWorkflowId, MAX_BLOB_BYTES, type BlobRef, type BlobStore } from '../core/blobs.ts';

/** What reading the history of a workflow that is not there answers (gRPC status NOT_FOUND). */
const GRPC_NOT_FOUND = 5;

/** Blobs read lately, by sha256: pages are read by every attempt of a page workflow. */
const CACHE_ENTRIES = 64;

export function temporalBlobStore(client: Client, taskQueue: string): BlobStore {
  const cache = new Map<string, string>();
  const remember = (sha: string, text: string) => {
    cache.set(sha, text);
    if (cache.size > CACHE_ENTRIES) cache.delete(cache.keys().next().value ?? '');
  };
  return {
    async put(value: unknown): Promise<BlobRef> {
      const text = JSON.stringify(value);
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_BLOB_BYTES)
        throw new Error(`a blob of ${bytes} bytes is over the ${MAX_BLOB_BYTES}-byte limit; store it in smaller pages`);
      const sha256 = createHash('sha256').update(text).digest('hex');
      if (!cache.has(sha256)) {
        try {
          await client.workflow.start('blobWorkflow', {
            workflowId: blobWorkflowId(sha256),
            taskQueue,
            args: [text],
            // The same content stored again (a retry, a resume, another change) is the same blob.
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
        remember(sha256, text);
      }
      return { sha256, bytes };
    },

    async get<T>(ref: BlobRef): Promise<T> {
      let text = cache.get(ref.sha256);
      if (text === undefined) {
        const history = await client.workflow
          .getHandle(blobWorkflowId(ref.sha256))
          .fetchHistory()
          .catch((err: unknown) => {
            if (
              err instanceof WorkflowNotFoundError ||
              (isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND)
            )
              throw new Error(
                `blob ${ref.sha256} is not stored in this namespace: it was never stored here, or kept past the namespace's retention`,
              );
            throw err;
          });
        const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        if (!payload) throw new Error(`blob ${ref.sha256} has no content`);
        text = defaultPayloadConverter.fromPayload<string>(payload);
        if (createHash('sha256').update(text).digest('hex') !== ref.sha256)
          throw new Error(`blob ${ref.sha256} does not match its content`);
        remember(ref.sha256, text);
      }
      return JSON.parse(text) as T;
    },
  };
}
