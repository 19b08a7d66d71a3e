// The dispatcher's wiring, wherever it runs: the rings, the control port, the invoker and the
// dispatcher put together, answering the router's control messages on `port`. It runs in the
// dispatcher thread (thread.ts) or, for a task with one vCPU or less, on the router's main thread
// (ingress/dispatcher-thread.ts), where a second thread adds hops and no parallelism; then both
// rings' ends are on one thread and wake each other without Atomics (core/ring.ts).

import type { RouterConfig } from '../config.ts';
import { EventLoopStats } from '../event-loop-stats.ts';
import { RingConsumer, RingProducer } from '../ring.ts';
import { RingWriter } from '../ring-writer.ts';
import { ChannelServer } from './channel-server.ts';
import { controlTlsFromPem, generateControlTls, loadControlTls } from './control-tls.ts';
import { Dispatcher } from './dispatcher.ts';
import { FunctionDispatchers } from './functions.ts';
import { Invoker } from './invoker.ts';
import type { ToIngress, ToDispatcher, DispatcherInit } from './messages.ts';

/** The control link to the router's main thread: a worker's parentPort or one end of a MessageChannel. */
export interface ControlPort {
  postMessage(m: ToIngress): void;
  on(event: 'message', listener: (m: ToDispatcher) => void): unknown;
  close(): void;
}

/** Starts the dispatcher; it posts `ready` on `port` once the control port listens. */
export async function hostDispatcher(port: ControlPort, init: DispatcherInit): Promise<void> {
  const config: RouterConfig = init.config;
  const post = (m: ToIngress) => port.postMessage(m);
  const log = (line: string) => post({ type: 'log', level: 'warn', line });
  const ring = { sameThread: init.sameThread === true };
  const eventLoop = new EventLoopStats();

  const requests = new RingConsumer(init.requestRing, ring);
  const responses = new RingWriter(new RingProducer(init.responseRing, ring));
  // One function, or several behind routes (functions.ts), each with its own settings and invoker.
  const functions = config.routes
    ? config.routes.functions.map((c, i) => ({ name: config.routes!.spec.functions[i]!.name, config: c }))
    : [{ name: config.functionName, config }];
  const invokers = functions.map(
    (f) =>
      new Invoker({
        functionName: f.config.functionName,
        region: config.region,
        endpoint: config.lambdaEndpoint,
        functionTimeoutMs: f.config.functionTimeoutMs,
      }),
  );

  // Made or read here rather than on the main thread so that the private key stays in the one thread
  // that serves TLS (control-tls.ts). A bad file stops the start with a SettingError naming it.
  const tls = !config.controlTls
    ? null
    : config.tlsCertPem !== undefined && config.tlsKeyPem !== undefined
      ? controlTlsFromPem(config.tlsCertPem, config.tlsKeyPem)
      : config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined
        ? loadControlTls(config.tlsCertFile, config.tlsKeyFile)
        : await generateControlTls();

  // The port to put in the invoke payload is only known once we listen (it may be ephemeral).
  let dispatcher: FunctionDispatchers | undefined;
  const server = new ChannelServer(
    {
      tokenFor: (id) => dispatcher?.tokenFor(id) ?? null,
      accept: (id, index, ws, hello) => dispatcher?.accept(id, index, ws, hello),
      rejected: (status, why) => dispatcher?.rejected(status, why),
      acceptWorker: (id, index, max, ws, up, fn) => dispatcher?.acceptWorker(id, index, max, ws, up, fn),
      servesFunction: (name) => dispatcher?.servesFunction(name) ?? false,
    },
    Math.max(1 << 20, responses.maxPayload + 64),
    config.workerSecret ? Buffer.from(config.workerSecret) : null,
    tls,
    config.multiplex,
  );
  const controlPort = await server.listen(config.controlPort, init.bindHost);
  const routerUrl = `${tls ? 'wss' : 'ws'}://${config.callbackHost}:${controlPort}`;
  const d = new FunctionDispatchers(
    functions.map((f, i) => ({
      name: f.name,
      dispatcher: new Dispatcher(
        { ...f.config, routerUrl, certSha256: tls?.certSha256, startTimeoutMs: 30_000, drainTimeoutMs: 30_000 },
        responses,
        (payload) => invokers[i]!.invoke(payload),
        // Sub-millisecond, for queue wait and time to first byte in the metrics.
        () => performance.timeOrigin + performance.now(),
        log,
        // Several functions: each event says whose it is.
        (event) => post({ type: 'event', event: functions.length > 1 ? { ...event, function: f.name } : event }),
      ),
    })),
    log,
  );
  dispatcher = d;
  if (config.prewarmOnStart) d.prewarm();

  // One bad record must cost one request, never the router: log it and go on.
  const consuming = requests.run((type, slot, payload) => {
    try {
      d.onRecord(type, slot, payload);
    } catch (err) {
      log(`dispatcher: record type ${type} for slot ${slot} failed: ${(err as Error).stack ?? String(err)}`);
    }
  });
  const ticker = setInterval(() => d.tick(), 100);
  const pinger = setInterval(() => d.ping(), config.pingIntervalMs);

  async function shutdown(graceMs: number): Promise<void> {
    d.beginShutdown();
    d.refuseAll();
    const until = Date.now() + graceMs;
    while (!d.idle && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    d.terminateAll();
    clearInterval(ticker);
    clearInterval(pinger);
    requests.stop();
    await consuming;
    responses.close();
    await server.close();
    for (const invoker of invokers) invoker.destroy();
    eventLoop.stop();
    post({ type: 'stopped' });
    port.close();
  }

  port.on('message', (m: ToDispatcher) => {
    switch (m.type) {
      case 'status': {
        const mem = process.memoryUsage();
        post({
          type: 'status',
          id: m.id,
          status: d.status(),
          thread: { heapUsedBytes: mem.heapUsed, arrayBuffersBytes: mem.arrayBuffers, eventLoop: eventLoop.window },
        });
        break;
      }
      case 'drain':
        d.beginShutdown();
        break;
      case 'shutdown':
        void shutdown(m.graceMs);
        break;
    }
  });

  // The fingerprint is what operators pin in container workers (LAMBDA_DISPATCH_RouterCertSha256).
  post({
    type: 'log',
    level: tls ? 'info' : 'warn',
    line:
    tls
      ? `control port ${controlPort}: wss://, certificate SHA-256 ${tls.certSha256} (${tls.source === 'files' ? `from ${config.tlsCertFile}` : tls.source === 'settings' ? 'from LAMBDA_DISPATCH_TlsCert' : 'generated at start'})`
      : `control port ${controlPort}: plain ws:// (LAMBDA_DISPATCH_ControlTls=false): tokens and requests cross the network unencrypted`,
  });
  post({ type: 'ready', controlPort, certSha256: tls?.certSha256 ?? null });
}
