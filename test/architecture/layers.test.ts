import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folders of src/ are layers along the data's path: a folder may import the folders below it,
 * never one that imports it back (directly or around a longer cycle), type-only imports included.
 * The README's architecture section lists the order.
 */

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(name) ? [path] : [];
  });
}

/** The top-level unit of src/ a file belongs to: its first folder, or the file itself. */
function unitOf(path: string): string {
  return relative(SRC, path).split(sep)[0];
}

export function folderGraph(files: readonly string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files) {
    const from = unitOf(file);
    if (!graph.has(from)) graph.set(from, new Map());
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = match[1] ?? match[2];
      const target = resolve(dirname(file), spec);
      if (relative(SRC, target).startsWith('..')) continue;
      const to = unitOf(target);
      if (to === from) continue;
      const edges = graph.get(from) as Map<string, string>;
      // keep one example import per edge, for the failure message
      if (!edges.has(to)) edges.set(to, `${relative(SRC, file)} imports ${spec}`);
    }
  }
  return graph;
}

/** Strongly connected components with more than one unit: each is a set of folders that import each other. */
export function cyclesOf(graph: Map<string, Map<string, string>>): string[][] {
  let index = 0;
  const indexes = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    indexes.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!indexes.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, indexes.get(w) as number));
    }
    if (low.get(v) === indexes.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indexes.has(v)) visit(v);
  return out;
}

describe('src/ layers', () => {
  it('finds a cycle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', new Map([['b', 'a/x.ts imports ../b/y.ts']])],
      ['b', new Map([['c', '']])],
      ['c', new Map([['a', '']])],
      ['d', new Map([['a', '']])],
    ]);
    expect(cyclesOf(graph)).toEqual([['a', 'b', 'c']]);
  });

  it('no top-level folder of src/ imports one that imports it back', () => {
    const graph = folderGraph(sourceFiles(SRC));
    expect(graph.size).toBeGreaterThan(10);
    const described = cyclesOf(graph).map((component) =>
      component
        .flatMap((from) => component.filter((to) => graph.get(from)?.has(to)).map((to) => `${from} -> ${to} (${graph.get(from)?.get(to)})`))
        .join('\n'),
    );
    expect(described).toEqual([]);
  });
});
