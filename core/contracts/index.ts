/** The pure contract checks the gate calls: read a document, diff it, check a consumer, read a proto copy, tell
 * pre-existing drift from what a change did. */
export {
  lineFinder,
  lineOfPointer,
  parseContractDocument,
  type LineFinder,
  type ParsedDocument,
  type ParseLimits,
} from './parse.ts';
export { diffOpenApi } from './openapi.ts';
export { bundleExternalRefs, type LoadedDocument } from './pointer.ts';
export { checkOpenApiConsumer, resolveOperation } from './consumer.ts';
export { describeEntry, readPact, unwrapMatchers, type PactEntry, type ReadPact } from './pact.ts';
export { diffJsonSchema } from './json-schema.ts';
export { copyLayout, copyProblem, locateInProto, protoImports, type CopyLayout, type ProtoReader } from './copies.ts';
export { problemIdentity, splitPreExisting } from './drift.ts';
export {
  FieldPath,
  OperationUse,
  OperationUses,
  type ConsumerFiles,
  type ContractProblem,
  type OpenApiUsage,
  type ProblemHandle,
} from './types.ts';
export {
  affects,
  describeHit,
  protoHandle,
  usageOfCopy,
  usageOfPact,
  usageOfProtoCopy,
  usageOfUses,
  type DeclaredUsage,
} from './usage.ts';
