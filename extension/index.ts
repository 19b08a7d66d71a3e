// The package's `lambda-dispatch/extension` entry: what a user's function and container worker
// import. createHandler is the Lambda handler around an app; startWorker runs the same app as a
// long-lived worker that registers with the router.

// handler.ts is the public surface of a function: everything it exports, and only that.
export * from './handler.ts';
export { startWorker, type Worker, type WorkerOptions, type WorkerStatus } from './worker.ts';
