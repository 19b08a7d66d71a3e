// Keeps the written docs true to the code: the message-type table of docs/PROTOCOL.md against
// core/message-types.ts (and which types the channel and the rings carry), the FrameError codes it
// lists against core/frames.ts, and every relative link of README.md and docs/*.md against the tree.
//   node --import tsx --test test/docs.test.ts

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ROUTER_ERRORS } from '../core/errors.ts';
import { FrameType, type FrameError } from '../core/frames.ts';
import { MessageType } from '../core/message-types.ts';
import { Rec } from '../core/records.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROTOCOL = join(ROOT, 'docs', 'PROTOCOL.md');
const ARCHITECTURE = join(ROOT, 'docs', 'ARCHITECTURE.md');

/** The lines of a Markdown section: from the heading whose text matches to the next heading of the same or a higher level. */
function section(markdown: string, heading: RegExp): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^#+\s/.test(l) && heading.test(l));
  assert.ok(start >= 0, `no heading matching ${heading}`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^(#+)\s/.exec(line);
    if (m && m[1]!.length <= level) break;
    out.push(line);
  }
  return out;
}

/** The body rows of the first Markdown table in `lines`, as trimmed cells. */
function tableRows(lines: string[]): string[][] {
  const start = lines.findIndex((l) => l.trimStart().startsWith('|'));
  assert.ok(start >= 0, 'no table');
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.trimStart().startsWith('|')) break;
    rows.push(line.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim()));
  }
  return rows;
}

const unquote = (cell: string) => cell.replace(/^`|`$/g, '');

function yesNo(cell: string, where: string): boolean {
  if (cell === 'yes') return true;
  if (cell === 'no') return false;
  assert.fail(`${where}: expected "yes" or "no", got "${cell}"`);
}

test('PROTOCOL.md: the message-type table is MessageType, and says which the channel (FrameType) and the rings (Rec) carry', () => {
  const rows = tableRows(section(readFileSync(PROTOCOL, 'utf8'), /Message types/));
  const documented = rows.map((r) => ({
    name: unquote(r[0]!),
    number: Number(r[1]),
    channel: yesNo(r[2]!, `${r[0]} channel`),
    ring: yesNo(r[3]!, `${r[0]} ring`),
  }));

  assert.deepEqual(
    Object.fromEntries(documented.map((d) => [d.name, d.number])),
    { ...MessageType },
    'names and numbers in docs/PROTOCOL.md differ from core/message-types.ts',
  );
  assert.equal(new Set(documented.map((d) => d.number)).size, documented.length, 'a number is listed twice');
  assert.deepEqual(
    documented.filter((d) => d.channel).map((d) => d.name).sort(),
    Object.keys(FrameType).sort(),
    'the "channel" column differs from FrameType (core/frames.ts)',
  );
  assert.deepEqual(
    documented.filter((d) => d.ring).map((d) => d.name).sort(),
    Object.keys(Rec).sort(),
    'the "ring" column differs from Rec (core/records.ts)',
  );
  for (const [name, code] of Object.entries(FrameType)) assert.equal(code, MessageType[name as keyof typeof MessageType], `FrameType.${name}`);
  for (const [name, code] of Object.entries(Rec)) assert.equal(code, MessageType[name as keyof typeof MessageType], `Rec.${name}`);
});

// Exactly the codes of FrameError's type: tsc fails this file when a code is added or removed,
// and the test below then holds the doc to it.
const FRAME_ERROR_CODES: Record<FrameError['code'], true> = {
  ERR_FRAME_TRUNCATED: true,
  ERR_FRAME_UNKNOWN_TYPE: true,
  ERR_FRAME_FIELD_TOO_LONG: true,
  ERR_FRAME_INVALID: true,
};

test("ARCHITECTURE.md: the table of the router's own answers is the catalog of core/errors.ts", () => {
  const rows = tableRows(section(readFileSync(ARCHITECTURE, 'utf8'), /The router's own answers/));
  const documented = Object.fromEntries(rows.map((r) => [unquote(r[0]!), Number(r[1])]));
  const catalog = Object.fromEntries(Object.entries(ROUTER_ERRORS).map(([code, e]) => [code, e.status]));
  assert.deepEqual(documented, catalog);
});

test('PROTOCOL.md: the FrameError codes listed are those of core/frames.ts', () => {
  const listed = section(readFileSync(PROTOCOL, 'utf8'), /FrameError codes/)
    .flatMap((l) => [...l.matchAll(/`(ERR_FRAME_[A-Z_]+)`/g)].map((m) => m[1]!))
    .sort();
  assert.deepEqual([...new Set(listed)], listed, 'a code is listed twice');
  assert.deepEqual(listed, Object.keys(FRAME_ERROR_CODES).sort(), 'docs/PROTOCOL.md vs the FrameError type');
  // The source as well: every code the code raises anywhere in core/ is one of the type's.
  const raised = new Set<string>();
  for (const name of readdirSync(join(ROOT, 'core'), { recursive: true, encoding: 'utf8' })) {
    if (!/\.ts$/.test(name) || name.endsWith('.test.ts')) continue;
    for (const m of readFileSync(join(ROOT, 'core', name), 'utf8').matchAll(/'(ERR_FRAME_[A-Z_]+)'/g)) raised.add(m[1]!);
  }
  assert.deepEqual([...raised].sort(), listed, 'codes in core/ sources vs docs/PROTOCOL.md');
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(markdown).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const text = m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Fenced code blocks blanked out (a `#` line in a shell block is no heading). */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, (block) => block.replace(/[^\n]/g, ' '));
}

/** Fenced code blocks and inline code blanked out: a link shown as code is not a link. */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length));
}

/** Relative link targets of a Markdown file: `[text](target)` and `![alt](target)`. */
export function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const m of withoutCode(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    out.push(target);
  }
  return out;
}

test('README.md and docs/*.md: every relative link points to a file that exists (and to a heading that exists)', () => {
  const docsDir = join(ROOT, 'docs');
  const files = [join(ROOT, 'README.md'), ...readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => join(docsDir, f))];
  assert.ok(files.length >= 3, 'README.md, docs/ARCHITECTURE.md and docs/PROTOCOL.md');
  const broken: string[] = [];
  for (const file of files) {
    const markdown = readFileSync(file, 'utf8');
    for (const link of relativeLinks(markdown)) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : resolve(dirname(file), decodeURI(path));
      const where = `${relative(ROOT, file)}: (${link})`;
      if (!existsSync(target)) {
        broken.push(`${where} → no such file`);
        continue;
      }
      if (anchor !== undefined && anchor !== '' && statSync(target).isFile() && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
        broken.push(`${where} → no heading #${anchor} in ${relative(ROOT, target)}`);
      }
    }
  }
  assert.deepEqual(broken, [], `broken links:\n  ${broken.join('\n  ')}`);
});

test('the link and anchor readers', () => {
  const md = [
    '# Top',
    '## 4. Flow control',
    '### `sst dev`',
    '## Top',
    'See [a](docs/A.md), ![c](bench/x.svg "t") and [b](#top-1); [web](https://example.com).',
    '`[code](not/a/link.md)`',
    '```',
    '[in a block](not/either.md)',
    '```',
  ].join('\n');
  assert.deepEqual(relativeLinks(md), ['docs/A.md', 'bench/x.svg', '#top-1']);
  assert.deepEqual([...anchors(md)], ['top', '4-flow-control', 'sst-dev', 'top-1']);
});
