export * from './types.ts';
export { check } from './bfs.ts';
export { replayPath, findAction, ReplayError, type Replayed, type ReplayedStep } from './replay.ts';
export { randomWalks, type RandomOptions, type RandomResult } from './random.ts';
export { fingerprint, collisionProbability } from './fingerprint.ts';
export { FingerprintSet } from './fpset.ts';
export { ParentLinks } from './parents.ts';
