// Keeps the layering in docs/ARCHITECTURE.md true. It reads the sources as text, builds the import
// graph of every non-test .ts/.mjs file under the project's folders and checks:
//   (a) no import cycle between files (type-only imports count: a cycle of types is still a knot);
//   (b) the folder rules: core/ imports only core/; ingress/ only core/ and itself; extension/
//       only core/ and itself (it ships inside the user's function, so it cannot carry the router);
//   (c) no source file over MAX_LINES lines unless its opening comment says why, on a line that
//       starts with LONG_MARKER;
//   (d) no file refers to a design document or tracker outside the repository.
// Each failure names the files (and the cycle's path) so that it can be fixed where it is.
//   node --import tsx --test test/architecture.test.ts

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['core', 'ingress', 'extension', 'infra', 'bench', 'demo', 'test'] as const;
const SKIP_DIRS = new Set(['node_modules', '.sst', 'dist', '.git']);
const MAX_LINES = 400;
const LONG_MARKER = 'Long because';

type Folder = (typeof FOLDERS)[number];

/** What each folder may import besides itself; a folder not listed may import anything. */
const ALLOWED: Partial<Record<Folder, readonly Folder[]>> = {
  core: [],
  ingress: ['core'],
  extension: ['core'],
};

function walk(dir: string, keep: (file: string) => boolean, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    if (SKIP_DIRS.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, keep, out);
    else if (keep(path)) out.push(path);
  }
  return out;
}

const rel = (abs: string) => relative(ROOT, abs).split(sep).join('/');
const isTest = (file: string) => /\.test\.(ts|mjs)$/.test(file);
const isSource = (file: string) => /\.(ts|mjs)$/.test(file) && !file.endsWith('.d.ts');

const SOURCES = FOLDERS.flatMap((f) => walk(join(ROOT, f), (p) => isSource(p) && !isTest(p)));

/**
 * The text with comments and template literals blanked out (quoted strings kept: they carry the
 * specifiers), so a commented-out import, or one in generated code, is no edge. Newlines stay,
 * so positions and line numbers still match the file.
 */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let depth = 0;
      while (j < src.length) {
        const d = src[j]!;
        if (d === '\\') j += 2;
        else if (c === '`' && d === '$' && src[j + 1] === '{') (depth++, (j += 2));
        else if (c === '`' && depth > 0 && d === '}') (depth--, j++);
        else if (d === c && depth === 0) break;
        else if (d === '\n' && c !== '`') break;
        else j++;
      }
      const literal = src.slice(i, j + 1);
      out += c === '`' ? literal.replace(/[^\n]/g, ' ') : literal;
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT_PATTERNS = [
  // import x from '…', import type { A } from '…', import * as x from '…' (possibly over several lines)
  /\bimport\s+(?:type\s+)?[^'"`;()]*?\bfrom\s*['"]([^'"]+)['"]/g,
  // export { a } from '…', export * from '…', export type { A } from '…'
  /\bexport\s+(?:type\s+)?(?:\*|\{[^}]*\})(?:\s+as\s+\w+)?\s*from\s*['"]([^'"]+)['"]/g,
  // import '…' (for its side effects)
  /\bimport\s*['"]([^'"]+)['"]/g,
  // import('…')
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** The relative specifiers a file imports, in order of appearance. */
export function relativeImports(src: string): string[] {
  const code = stripComments(src);
  const found: { at: number; spec: string }[] = [];
  for (const re of IMPORT_PATTERNS) {
    for (const m of code.matchAll(re)) if (m[1]!.startsWith('.')) found.push({ at: m.index, spec: m[1]! });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.spec);
}

function resolveSpecifier(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}.mjs`, join(base, 'index.ts')];
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

interface Graph {
  edges: Map<string, string[]>;
  unresolved: string[];
}

function buildGraph(files: string[]): Graph {
  const edges = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of files) {
    const targets: string[] = [];
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, spec);
      if (target === null) unresolved.push(`${rel(file)} → ${spec}`);
      else if (!targets.includes(target)) targets.push(target);
    }
    edges.set(file, targets);
  }
  return { edges, unresolved };
}

/** One cycle path per strongly connected component that has one (Tarjan, then a walk inside it). */
export function findCycles(edges: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (edges.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);

  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    // Shortest way back to `start` inside the component (breadth first), as start → … → start.
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of edges.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
          return [...path, start];
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

const topFolder = (abs: string) => rel(abs).split('/')[0] as Folder;

const graph = buildGraph(SOURCES);

test('the import graph is read: sources found and every relative import resolves', () => {
  assert.ok(SOURCES.length > 50, `only ${SOURCES.length} source files found under ${FOLDERS.join(', ')}`);
  assert.ok([...graph.edges.values()].some((t) => t.length > 0), 'no import edge found: the parser is broken');
  assert.deepEqual(graph.unresolved, [], 'relative imports that point to no file');
});

test('(a) no import cycle between files', () => {
  const cycles = findCycles(graph.edges).map((c) => c.map(rel).join(' → '));
  assert.deepEqual(cycles, [], `import cycles:\n  ${cycles.join('\n  ')}`);
});

test('(b) folder rules: core imports only core; ingress only core; extension only core', () => {
  const broken: string[] = [];
  for (const [from, targets] of graph.edges) {
    const folder = topFolder(from);
    const allowed = ALLOWED[folder];
    if (allowed === undefined) continue;
    for (const to of targets) {
      const target = topFolder(to);
      if (target !== folder && !allowed.includes(target)) broken.push(`${rel(from)} → ${rel(to)}`);
    }
  }
  assert.deepEqual(broken, [], `imports across the folder rules:\n  ${broken.join('\n  ')}`);
});

/** The comment lines a file opens with (after a shebang), without their comment markers. */
function openingComment(src: string): string[] {
  const lines = src.split('\n');
  let i = lines[0]?.startsWith('#!') ? 1 : 0;
  const out: string[] = [];
  for (; i < lines.length; i++) {
    const m = /^\s*(?:\/\/|\/\*+|\*\/?)\s?(.*)$/.exec(lines[i]!);
    if (m === null) break;
    out.push(m[1]!.trim());
  }
  return out;
}

test(`(c) no source file over ${MAX_LINES} lines unless its opening comment has a line starting "${LONG_MARKER}"`, () => {
  const long: string[] = [];
  for (const file of SOURCES) {
    const src = readFileSync(file, 'utf8');
    const lines = src.endsWith('\n') ? src.split('\n').length - 1 : src.split('\n').length;
    if (lines <= MAX_LINES) continue;
    if (openingComment(src).some((l) => l.startsWith(LONG_MARKER))) continue;
    long.push(`${rel(file)} (${lines} lines)`);
  }
  assert.deepEqual(long, [], `files over ${MAX_LINES} lines with no "${LONG_MARKER} …" line in their opening comment:\n  ${long.join('\n  ')}`);
});

// Built from parts so that this file does not match itself.
const OUTSIDE_REFERENCES = [
  new RegExp(['DESIGN', '\\s*§'].join(''), 'g'),
  new RegExp(['DESIGN', '\\.md'].join(''), 'gi'),
  /\b(?:issue|ticket)s?\s*#?\s*\d+\b/gi,
];

test('(d) no source or doc points at a document or tracker issue outside the repository', () => {
  const text = (p: string) => /\.(ts|mjs|js|md|json)$/.test(p) || /Dockerfile$/.test(p) || p.endsWith(`${sep}.ci${sep}run`);
  const files = walk(ROOT, (p) => text(p) && !p.endsWith('package-lock.json'));
  assert.ok(files.some((f) => rel(f) === 'README.md'));
  const hits: string[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const re of OUTSIDE_REFERENCES) {
        for (const m of line.matchAll(re)) hits.push(`${rel(file)}:${i + 1}: ${m[0]}`);
      }
    });
  }
  assert.deepEqual(hits, [], `references outside the repository (name the file in the repo, or say it in words):\n  ${hits.join('\n  ')}`);
});

test('the parser sees every form of import and ignores comments and strings', () => {
  const src = [
    "import a from './a.ts';",
    "import type { B } from '../b.ts';",
    'import {',
    '  c,',
    '  d,',
    "} from './cd.ts';",
    "export { e } from './e.ts';",
    "export * from './f.ts';",
    "export type { G } from './g.ts';",
    "import './side-effect.ts';",
    "const h = await import('./h.ts');",
    "// import z from './commented.ts';",
    "/* import y from './block.ts'; */",
    "const s = 'ws://host'; import x from 'node:fs';",
    "const t = `import w from './template.ts'`;",
  ].join('\n');
  assert.deepEqual(relativeImports(src), ['./a.ts', '../b.ts', './cd.ts', './e.ts', './f.ts', './g.ts', './side-effect.ts', './h.ts']);
});

test('cycles are found and reported as a path', () => {
  const e = new Map<string, string[]>([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  assert.deepEqual(findCycles(e).sort(), [
    ['a', 'b', 'c', 'a'],
    ['d', 'd'],
  ]);
});
