// Entry of the dispatcher worker when the router runs from TypeScript sources (npm start, tests).
// On Node 20 tsx's loader hooks do not reach worker threads even though they inherit
// `--import tsx`, so the TypeScript worker is loaded through tsx's own API. The bundled router
// (npm run build) starts its compiled worker directly instead.
import { tsImport } from 'tsx/esm/api';

await tsImport('./worker.ts', import.meta.url);
