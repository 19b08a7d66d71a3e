// The package's `lambda-dispatch/extension` entry: what a user's function and container worker
// import. createHandler is the Lambda handler around an app; startWorker runs the same app as a
// long-lived worker that registers with the router.

export { createHandler, closeLocalServers, stopAppProcesses, fetchListener } from './handler.ts';
export type {
  App,
  DispatchHandler,
  ExitReason,
  ExtensionOptions,
  FetchHandler,
  HttpEvent,
  HttpEventResult,
  InvocationResult,
  InvokePayload,
  LambdaContext,
  LambdaHandler,
  PortApp,
} from './handler.ts';
export { startWorker, type Worker, type WorkerOptions, type WorkerStatus } from './worker.ts';
