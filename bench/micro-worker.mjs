// Worker entry for the micro-benchmark. On Node 20, tsx's loader hooks do not reach worker threads,
// so the TypeScript worker is loaded through tsx's API (as core/fixtures/ring-consumer-worker.mjs).
import { tsImport } from 'tsx/esm/api';

await tsImport('./micro-worker.ts', import.meta.url);
