/**
 * What deploy/ and the Dockerfile promise, checked without a container runtime (this machine has
 * none, so the image itself is not built here): the image the manifests name is the one the
 * Dockerfile builds, its COPY sources exist and .dockerignore keeps every file the CLI loads, the
 * manifests run its entrypoint with flags `fgo` knows, the DaemonSet's config is a valid live config
 * whose metrics listener is the port Prometheus scrapes, and every metric the Grafana dashboard
 * queries is one the agent exposes, with labels it has.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, parseListen } from '../../serve/listen.ts';
import { parseLiveConfig } from '../../live/config.ts';
import { fedMetrics, parseExposition, type Family } from './exposition.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const MANIFESTS = ['deploy/daemonset.yaml', 'deploy/tune-job.yaml'];

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): { op: string; args: string }[] {
  return read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ op: l.split(/\s+/)[0]!.toUpperCase(), args: l.slice(l.indexOf(' ') + 1).trim() }));
}
const instruction = (op: string) => dockerfile().filter((i) => i.op === op);

/** .dockerignore as a predicate; only the pattern forms it uses (path prefixes, **\/*.EXT) are understood. */
function dockerignored(): (path: string) => boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const p of patterns)
    expect(p, 'a .dockerignore pattern this test understands').toMatch(/^(\*\*\/\*\.[a-z]+|[A-Za-z0-9._/-]+)$/);
  return (path) =>
    patterns.some((p) => (p.startsWith('**/*') ? path.endsWith(p.slice(4)) : path === p || path.startsWith(`${p}/`)));
}

/** Files the CLI loads from bin/fgo.mjs on: relative imports and `new URL('…', import.meta.url)` references. */
function loadedFiles(): Set<string> {
  const seen = new Set<string>();
  const queue = ['bin/fgo.mjs'];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!/\.(ts|mjs|js)$/.test(file) || statSync(join(ROOT, file)).isDirectory()) continue;
    const text = read(file);
    const refs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']*)'/g)].map((m) => m[1]!);
    for (const r of refs) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), r)).replace(/\/$/, '');
      expect(existsSync(join(ROOT, target)), `${file} refers to ${r}`).toBe(true);
      queue.push(target);
    }
  }
  return seen;
}

/** The YAML list under `key:` at the given indentation (`- item` lines), as strings. */
function yamlList(block: string, key: string): string[] {
  const m = new RegExp(`^( *)${key}:\\n((?:\\1  - .*\\n|\\1    #.*\\n|\\1  #.*\\n)+)`, 'm').exec(block);
  return m
    ? m[2]!
        .split('\n')
        .filter((l) => /^\s*- /.test(l))
        .map((l) => l.replace(/^\s*- /, '').trim())
    : [];
}

/** Long options `fgo ARGS --help` lists. */
function knownFlags(...args: string[]): Set<string> {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/fgo.mjs'), ...args, '--help'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return new Set([...r.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!));
}

describe('Dockerfile', () => {
  it('builds on Node 20 (Debian bookworm slim) and installs the locked production dependencies', () => {
    expect(instruction('FROM').map((i) => i.args)).toEqual(['node:20-bookworm-slim']);
    expect(JSON.parse(read('package.json')).engines.node).toBe('>=20.19'); // the node:20 tag is the newest 20.x
    expect(instruction('RUN')[0]!.args).toMatch(/^npm ci --omit=dev\b/);
    expect(instruction('WORKDIR').map((i) => i.args)).toEqual(['/opt/fgo']);
  });

  it('copies sources that exist, and .dockerignore leaves out none of the files the CLI loads', () => {
    const ignored = dockerignored();
    for (const { args } of instruction('COPY')) {
      const parts = args.split(/\s+/).filter((a) => !a.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
        expect(src === '.' || !ignored(src), `COPY ${src} is in .dockerignore`).toBe(true);
      }
    }
    const files = loadedFiles();
    expect(files.size).toBeGreaterThan(100); // the whole CLI, not a regex that stopped at bin/
    // node_modules is not copied but installed in the image (the dashboard's vega assets come from there).
    expect([...files].filter((f) => ignored(f) && f !== 'node_modules' && !f.startsWith('node_modules/'))).toEqual([]);
    for (const needed of ['package.json', 'package-lock.json', '.npmrc']) expect(ignored(needed), needed).toBe(false);
    for (const left of ['node_modules', '.git', 'test/live/deploy.test.ts']) expect(ignored(left), left).toBe(true);
  });

  it('is the image the manifests name, tagged with the package version', () => {
    const images = MANIFESTS.flatMap((f) => [...read(f).matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]!));
    expect(images.length).toBe(3); // the DaemonSet, the sweep and the merge Job
    expect(new Set(images).size).toBe(1);
    const [name, tag] = images[0]!.split(':');
    expect(tag).toBe(JSON.parse(read('package.json')).version);
    expect(read('Dockerfile')).toContain(`docker build -t ${name}:${tag} `);
  });

  it('has the entrypoint the manifests run, with subcommands and flags fgo knows', () => {
    const entrypoint = JSON.parse(instruction('ENTRYPOINT')[0]!.args) as string[];
    expect(entrypoint).toEqual(['node', '/opt/fgo/bin/fgo.mjs']);
    expect(existsSync(join(ROOT, entrypoint[1]!.replace('/opt/fgo/', '')))).toBe(true);
    const containers = MANIFESTS.flatMap((f) =>
      read(f)
        .split(/\n(?= +- name: \S+\n +(?:# .*\n +)*image:)/)
        .slice(1),
    );
    expect(containers.length).toBe(3);
    for (const c of containers) {
      expect(JSON.parse(/^\s+command: (\[.*\])$/m.exec(c)![1]!)).toEqual(entrypoint);
      const args = yamlList(c, 'args');
      const words = args.filter((a) => !a.startsWith('-') && !a.startsWith('/'));
      const flags = args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
      expect(['live', 'tune']).toContain(words[0]);
      const known = knownFlags(...words);
      for (const f of flags) expect(known.has(f), `fgo ${words.join(' ')} ${f}`).toBe(true);
    }
  }, 120_000);
});

describe('deploy/daemonset.yaml', () => {
  const y = read('deploy/daemonset.yaml');
  const configJson = () => {
    const m = /^ {2}config\.json: \|\n((?: {4}.*\n|\n)+)/m.exec(y);
    return JSON.parse(m![1]!.replace(/^ {4}/gm, '')) as Record<string, unknown>;
  };

  it('carries a valid live config: the API on the loopback, GET /metrics alone on the pod IP', () => {
    const cfg = parseLiveConfig(configJson(), '/etc/fgo');
    expect(isLoopback(parseListen(cfg.listen).host)).toBe(true);
    expect(cfg.metrics_listen).toBe('0.0.0.0:9466');
    expect(y).toMatch(/^\s+hostNetwork: false$/m); // 0.0.0.0 is the pod's network, not the node's
  });

  it('tells Prometheus to scrape the port the metrics listener binds', () => {
    const port = String(parseListen(configJson().metrics_listen as string).port);
    expect(/^\s+containerPort: (\d+)$/m.exec(y)?.[1]).toBe(port);
    expect(/^\s+prometheus\.io\/port: "(\d+)"$/m.exec(y)?.[1]).toBe(port);
    expect(/^\s+prometheus\.io\/scrape: "(\w+)"$/m.exec(y)?.[1]).toBe('true');
    expect(/^\s+prometheus\.io\/path: (\S+)$/m.exec(y)?.[1]).toBe('/metrics');
  });
});

describe('deploy/grafana-dashboard.json', () => {
  type Target = { expr?: string };
  type Panel = {
    id: number;
    type: string;
    gridPos: { x: number; y: number; w: number; h: number };
    datasource?: { uid: string };
    targets?: Target[];
  };
  const dash = JSON.parse(read('deploy/grafana-dashboard.json')) as {
    schemaVersion: number;
    panels: Panel[];
    templating: { list: { definition?: string }[] };
  };
  let families: Map<string, Family>;
  beforeAll(async () => {
    families = parseExposition(await fedMetrics().text());
  });

  const labelsOf = (f: Family) =>
    new Set([...f.samples.keys()].flatMap((k) => [...k.matchAll(/([a-zA-Z_]\w*)="/g)].map((m) => m[1]!)));
  /** The family a series name belongs to: itself, or a histogram's _bucket/_sum/_count. */
  const familyOf = (name: string) => families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  /** Labels Prometheus adds to every scraped series. */
  const TARGET_LABELS = ['instance', 'job'];

  /** A PromQL expression's series selectors (name and matcher labels) and grouping labels. */
  function parsePromQL(expr: string): { selectors: { name: string; labels: string[] }[]; grouping: string[] } {
    const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
      m[1]!
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    let rest = expr.replace(/\b(?:by|without)\s*\([^)]*\)/g, ' ').replace(/\[[^\]]*\]/g, ' ');
    const selectors: { name: string; labels: string[] }[] = [];
    rest = rest.replace(/([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}/g, (_, name: string, matchers: string) => {
      selectors.push({
        name,
        labels: [...matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)].map((m) => m[1]!),
      });
      return ' ';
    });
    // Whatever identifier is left and not a function call is a bare series name.
    for (const m of rest.matchAll(/\b([a-zA-Z_:][\w:]*)\b(?!\s*\()/g)) selectors.push({ name: m[1]!, labels: [] });
    return { selectors, grouping };
  }

  it('is a schema-39 dashboard whose panels all use the datasource variable and do not overlap', () => {
    expect(dash.schemaVersion).toBe(39);
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    const cells = new Set<string>();
    for (const p of dash.panels) {
      if (p.type !== 'row') expect(p.datasource?.uid, `panel ${p.id}`).toBe(`\${datasource}`); // Grafana's variable, literally
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let yy = p.gridPos.y; yy < p.gridPos.y + p.gridPos.h; yy++) {
          expect(cells.has(`${x},${yy}`), `panel ${p.id} overlaps at ${x},${yy}`).toBe(false);
          cells.add(`${x},${yy}`);
        }
      }
    }
  });

  it('queries only metrics the agent exposes, with labels they have, and shows every fgo metric', () => {
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    expect(exprs.length).toBeGreaterThan(15);
    const used = new Set<string>();
    for (const expr of exprs) {
      const { selectors, grouping } = parsePromQL(expr);
      const available = new Set([...TARGET_LABELS, 'le']);
      for (const s of selectors) {
        const f = familyOf(s.name);
        expect(f, `${s.name} in ${expr}`).toBeDefined();
        used.add(f!.name);
        const labels = new Set([...labelsOf(f!), ...TARGET_LABELS]);
        for (const l of labels) available.add(l);
        for (const l of s.labels) expect(labels.has(l), `label ${l} of ${s.name} in ${expr}`).toBe(true);
      }
      for (const l of grouping) expect(available.has(l), `by (${l}) in ${expr}`).toBe(true);
      if (expr.includes('histogram_quantile')) expect(expr).toMatch(/_bucket\{/);
    }
    for (const v of dash.templating.list) {
      const m = /^label_values\((\w+), (\w+)\)$/.exec(v.definition ?? '');
      if (m) expect(families.has(m[1]!) && TARGET_LABELS.includes(m[2]!), v.definition).toBe(true);
    }
    expect([...families.keys()].filter((n) => n.startsWith('fgo_') && !used.has(n))).toEqual([]);
  });
});
