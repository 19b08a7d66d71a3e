// Headless Chromium for a test, driven over the Chrome DevTools Protocol (CDP) with `ws`: Debian's
// `chromium` package, started in a process group of its own so that close() ends it and every
// process it started, whatever happened in the test.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';

export const CHROMIUM = process.env.CHROMIUM ?? 'chromium';
const START_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 15_000;

export interface Browser {
  /** A CDP session on the page Chromium opened. */
  page: Cdp;
  close(): Promise<void>;
}

/** Fails with what to install when Debian's chromium is not there. */
export function checkChromium(): void {
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(
      `this test needs Chromium (\`${CHROMIUM}\` did not run: ${r.error?.message ?? r.stderr}). ` +
        'Install Debian\'s package: apt-get install -y --no-install-recommends chromium (or set CHROMIUM to its path)',
    );
  }
}

export async function launchChromium(o: { width: number; height: number }): Promise<Browser> {
  checkChromium();
  const profile = mkdtempSync(path.join(tmpdir(), 'lambda-dispatch-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      '--headless=new',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      // root in a container has no user namespace sandbox
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--hide-scrollbars',
      `--window-size=${o.width},${o.height}`,
      'about:blank',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let page: Cdp | undefined;
  const close = async () => {
    page?.close();
    killGroup(child, 'SIGTERM');
    const killed = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
    if (!killed) {
      killGroup(child, 'SIGKILL');
      await Promise.race([exited, sleep(3000)]);
    }
    // Children of the group may outlive the leader by a moment.
    killGroup(child, 'SIGKILL');
    rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    const browserWs = await devToolsUrl(child);
    // The page target about:blank opened; its own websocket speaks for it without a session id.
    const list = (await (await fetch(`http://${new URL(browserWs).host}/json/list`, { signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS) })).json()) as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = list.find((t) => t.type === 'page');
    if (target === undefined) throw new Error(`Chromium has no page target: ${JSON.stringify(list)}`);
    page = await Cdp.connect(target.webSocketDebuggerUrl);
    return { page, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** The browser's websocket, from the line Chromium writes to stderr once it listens. */
function devToolsUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not say where DevTools listens within ${START_TIMEOUT_MS} ms:\n${err}`)), START_TIMEOUT_MS);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited (${code ?? signal}) before DevTools listened:\n${err}`));
    });
  });
}

type Params = Record<string, unknown>;

/** One CDP connection: commands with replies (each with a timeout) and events by name. */
export class Cdp {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: Params) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Map<string, ((params: Params) => void)[]>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: Params; error?: { message: string }; method?: string; params?: Params };
      if (m.id !== undefined) {
        const w = this.waiting.get(m.id);
        if (w === undefined) return;
        this.waiting.delete(m.id);
        clearTimeout(w.timer);
        if (m.error) w.reject(new Error(`CDP: ${m.error.message}`));
        else w.resolve(m.result ?? {});
      } else if (m.method !== undefined) {
        for (const f of this.listeners.get(m.method) ?? []) f(m.params ?? {});
      }
    });
    ws.on('close', () => {
      for (const w of this.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error('CDP connection closed'));
      }
      this.waiting.clear();
    });
  }

  static connect(url: string): Promise<Cdp> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, handshakeTimeout: COMMAND_TIMEOUT_MS });
      ws.once('open', () => resolve(new Cdp(ws)));
      ws.once('error', reject);
    });
  }

  send<T = Params>(method: string, params: Params = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`CDP ${method}: no reply within ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      this.waiting.set(id, { resolve: resolve as (v: Params) => void, reject, timer });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on(method: string, f: (params: Params) => void): void {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), f]);
  }

  /** The value of a page expression (awaited when it is a promise); throws what the page threw. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send<{ result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>('Runtime.evaluate', {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  close(): void {
    this.ws.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
