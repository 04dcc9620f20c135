/**
 * `whileDockerAnswers`: the sandbox activities' heartbeat follows the Docker engine's answers,
 * and an engine that goes silent fails the work with DockerUnresponsive without waiting for it.
 * A stand-in engine whose ping answers, hangs or is refused, on short intervals.
 */
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { whileDockerAnswers } from '../../activities/sandbox/docker.ts';

function engine(ping: () => Promise<unknown>): Docker {
  return { ping } as unknown as Docker;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('whileDockerAnswers', () => {
  it('heartbeats while the engine answers and returns what the work returns', async () => {
    const beats: unknown[] = [];
    const result = await whileDockerAnswers(
      engine(() => Promise.resolve('OK')),
      async ({ signal }) => {
        await sleep(200);
        return signal.aborted ? 'aborted' : 'done';
      },
      {
        ctx: { heartbeat: (details) => beats.push(details) },
        details: () => ({ bytes: 7 }),
        everyMs: 10,
        timeoutMs: 1000,
      },
    );
    expect(result).toBe('done');
    expect(beats.length).toBeGreaterThan(0);
    expect(beats[0]).toEqual({ bytes: 7 });
  });

  it('gives up on a silent engine: DockerUnresponsive, the work told to stop, no heartbeat', async () => {
    let beats = 0;
    let seen: AbortSignal | null = null;
    const work = whileDockerAnswers(
      engine(() => new Promise(() => undefined)),
      ({ signal }) => {
        seen = signal;
        return new Promise<string>(() => undefined); // a call stuck on the engine
      },
      { ctx: { heartbeat: () => beats++ }, everyMs: 10, timeoutMs: 60 },
    );
    const err = await work.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('DockerUnresponsive');
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).message).toMatch(/did not answer/);
    expect((seen as AbortSignal | null)?.aborted).toBe(true);
    expect(beats).toBe(0);
  });

  it('a refused ping is an answer: no heartbeat, no DockerUnresponsive; the work fails on its own', async () => {
    let beats = 0;
    const err = await whileDockerAnswers(
      engine(() => Promise.reject(new Error('connect ECONNREFUSED'))),
      async () => {
        await sleep(200);
        throw new Error('connect ECONNREFUSED');
      },
      { ctx: { heartbeat: () => beats++ }, everyMs: 10, timeoutMs: 60 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('connect ECONNREFUSED');
    expect(beats).toBe(0);
  });
});
