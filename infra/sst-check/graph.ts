// Queries over a synthesized resource graph, failing with what was there when the query misses.

import type { SynthResource } from './harness.ts';

export class Graph {
  constructor(readonly resources: SynthResource[]) {}

  all(type: string, name?: RegExp): SynthResource[] {
    return this.resources.filter((r) => r.type === type && (!name || name.test(r.name)));
  }

  one(type: string, name?: RegExp): SynthResource {
    const found = this.all(type, name);
    if (found.length !== 1) {
      const names = this.all(type).map((r) => r.name);
      throw new Error(`expected one ${type}${name ? ` named ${name}` : ''}, found ${found.length} (of ${type}: ${names.join(', ') || 'none'})`);
    }
    return found[0]!;
  }

  has(type: string, name?: RegExp): boolean {
    return this.all(type, name).length > 0;
  }

  /** The id the mocked provider gave a resource (what other resources reference it by). */
  idOf(type: string, name?: RegExp): string {
    return String(this.one(type, name).id);
  }
}
