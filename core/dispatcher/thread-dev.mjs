// Entry of the dispatcher thread when the router runs from TypeScript sources (npm start, tests).
// On Node 20 tsx's loader hooks do not reach worker threads even though they inherit
// `--import tsx`, so the TypeScript thread is loaded through tsx's own API. The bundled router
// (npm run build) starts its compiled thread directly instead.
import { tsImport } from 'tsx/esm/api';

await tsImport('./thread.ts', import.meta.url);
