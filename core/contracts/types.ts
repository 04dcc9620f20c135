/**
 * The one shape every contract check returns, and the forms in which a consumer declares what it
 * uses of a provider's OpenAPI document. Pure: no I/O here or in the checks of this folder.
 */
import { z } from 'zod';

export interface ContractProblem {
  /** breaking: the provider changed incompatibly; mismatch: a consumer's usage does not fit the provider's head; invalid: a document could not be read. */
  kind: 'breaking' | 'mismatch' | 'invalid';
  /** Stable id, e.g. 'response-property-removed', 'request-property-became-required', 'operation-removed'. */
  rule: string;
  /** Path in the repo, e.g. 'openapi.yaml'. */
  file: string;
  /**
   * JSON pointer into that document, following `$ref`s and `allOf` as if they were written
   * inline (the place a reader of the operation would look). For line-based documents (proto
   * and text copies) it is `L<line>`.
   */
  location: string;
  /**
   * The line of `location` in `file` when the document is YAML or JSON text (set by the gate, which
   * has the text): at the head, or at the base for what the head no longer has.
   */
  line?: number;
  /** One line a person understands, naming the operation and the field. */
  message: string;
  /** Set by callers. */
  repo?: string;
  /** For mismatches: the consuming repo. */
  consumer?: string;
  /** What the finding is about, in terms a consumer's declared usage can be matched against. */
  handle?: ProblemHandle;
}

/**
 * The structured subject of a finding. Kept to a few short strings: findings travel through
 * workflow history.
 */
export interface ProblemHandle {
  /**
   * `<METHOD> <path template>` for OpenAPI ('GET /products/{id}'; methods joined by '|' when a
   * whole path went), the message's full name for protobuf ('orders.v1.Order'), '' for a
   * document without operations (a JSON Schema).
   */
  operation: string;
  /** Which way the data flows: what the consumer reads, or what it sends. */
  side: 'response' | 'request';
  /** Dotted property path ('products.price'; arrays walked through), '' for the whole operation or body. */
  field: string;
  /** The old and new shape, e.g. 'number' → 'object', 'enum a, b' → 'enum a, b, c', 'required' → 'optional'. */
  before?: string;
  after?: string;
  /** For a response enum that gained values: the new values (JSON, at most eight), so a consumer that already allows them is spared. */
  added?: string[];
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'] as const;
export type HttpMethod = (typeof METHODS)[number];
export const HTTP_METHODS: readonly HttpMethod[] = METHODS;

/** A dotted path of property names in a response body; arrays are walked through without naming them. */
export const FieldPath = z
  .string()
  .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'use property names joined by ".", e.g. "price.amount"');

/** One operation a consumer calls, the response fields it reads (in the 2xx response body), and what it sends. */
export const OperationUse = z
  .object({
    operation: z
      .string()
      .regex(
        /^(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) \/\S*$/,
        'use "<METHOD> <path template>", e.g. "GET /products/{id}"',
      ),
    fields: z.array(FieldPath).default([]),
    /**
     * Request body fields and parameters (`query:<name>`, `header:<name>`) it sends. Without it,
     * every request change of the operation counts against the consumer.
     */
    sends: z
      .array(
        z
          .string()
          .regex(
            /^((query|header|path|cookie):[^\s]+|[^.\s:]+(\.[^.\s]+)*)$/,
            'use a dotted body field such as "item.qty", or "query:<name>" / "header:<name>"',
          ),
      )
      .optional(),
  })
  .strict();
export type OperationUse = z.infer<typeof OperationUse>;

/** What a consumer of an OpenAPI contract lists in config when it declares its usage inline. */
export const OperationUses = z.array(OperationUse).min(1, 'list at least one operation');
export type OperationUses = z.infer<typeof OperationUses>;

/**
 * How a consumer declares its usage of an OpenAPI contract, as the gate hands it to
 * `checkOpenApiConsumer` (documents already read and parsed by the caller).
 */
export type OpenApiUsage =
  /** The consumer's own copy of the provider's document: everything in it must still hold. */
  | { form: 'copy'; document: unknown }
  /** A Pact file (v2, v3 or the HTTP interactions of v4) written by the consumer's tests. */
  | { form: 'pact'; pact: unknown }
  /** Operations and response fields listed in config. */
  | { form: 'uses'; uses: readonly OperationUse[] };

/** File names for the problems of a consumer check: the provider's document and the consumer's copy or pact. */
export interface ConsumerFiles {
  provider: string;
  /** The consumer's copy or Pact file; for `uses`, where the list lives (e.g. 'repos.config.json'). */
  consumer: string;
}
