/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: it refuses
 * what a scrape would refuse or what breaks the conventions (a family's HELP or TYPE twice, a
 * family split over two blocks, a sample outside its family, a series twice), and an agent's
 * metrics with every family fed, for tests that check names against what the agent exposes.
 */
import { join } from 'node:path';
import type { Status } from '../../engine/status.ts';
import type { Decision, Observation, PressureView } from '../../engine/types.ts';
import { AgentMetrics } from '../../serve/metrics.ts';
import { readPressure } from '../../live/psi.ts';
import { resolveRoots } from '../../formats/host/roots.ts';

const NE = join(import.meta.dirname, '../fixtures/procfs/node_exporter');

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Map<string, number>;
}

/**
 * The text exposition format parsed strictly: each family's HELP and TYPE (each exactly once,
 * before its samples), its samples by name{labels}; throws on anything else or any repetition.
 */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
      const f = families.get(name) ?? { name, type: '', help: '', samples: new Map() };
      if (kind === 'HELP' ? f.help : f.type) throw new Error(`second # ${kind} for ${name}`);
      if (kind === 'HELP') f.help = rest;
      else f.type = rest;
      if (current !== f && families.has(name)) throw new Error(`family ${name} split in two blocks`);
      families.set(name, f);
      current = f;
      continue;
    }
    // Values as Prometheus parses them; prom-client prints "Nan" for the event-loop lag before its first sample.
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)((?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(
        line,
      );
    if (!m) throw new Error(`not exposition format: ${line}`);
    const [, name, labels, value] = m as unknown as [string, string, string, string];
    const base =
      current &&
      (name === current.name ||
        (['histogram', 'summary'].includes(current.type) &&
          /_(bucket|sum|count)$/.test(name) &&
          name.replace(/_(bucket|sum|count)$/, '') === current.name));
    if (!current || !base)
      throw new Error(`sample ${name} outside its family's block (after ${current?.name ?? 'nothing'})`);
    if (seen.has(name + labels)) throw new Error(`series ${name}${labels} twice`);
    seen.add(name + labels);
    current.samples.set(name + labels, Number(value));
  }
  return families;
}

const view = (v: number) => ({
  value: v,
  level: 'low' as const,
  trend: 'steady' as const,
  velocity_per_s: 0,
  predicted: v,
});
const pressure: PressureView = { cpu: view(0.3), memory: view(0.1), io: view(0) };
const decision = (seq: number, action: Decision['action'], start?: 'warm' | 'cold'): Decision => ({
  seq,
  t_ms: seq,
  request_id: `r${seq}`,
  profile: 'web',
  action,
  ...(start ? { start } : {}),
  reason: 'test',
  confidence: 1,
  pressure,
  scores: [],
  inputs_digest: 'x',
  commands: [],
});

/** An observation whose PSI is node_exporter's fixture (cpu, memory, io as the kernel printed them). */
export function fixtureObservation(): Observation {
  const r = readPressure(resolveRoots({ fsRoot: NE }));
  if (!r.available) throw new Error(r.reason);
  return { t_ms: 1, psi: r.psi, nodes: [{ id: 0, cpu_util: 0.5, mem_free_kb: 2048 }] };
}

/** Every metric method fed once, so every family has samples. */
export function fedMetrics(): AgentMetrics {
  const m = new AgentMetrics();
  m.observeDecision(decision(1, 'place', 'cold'), 0.0004);
  m.observeDecision(decision(2, 'defer'), 0.0002);
  m.observeDecision(decision(3, 'shed'), 0.0001);
  m.observeCommands([{ type: 'stop', fragment: 'f1', reason: 'x' }]);
  m.enforcementError('mbind');
  m.apiRequest('state', 200);
  m.apiConnectionShed('evicted');
  m.observeSample(fixtureObservation());
  m.observeStatus({
    pressure,
    nodes: [{ id: 0, fragments: 3 }],
    pools: [{ profile: 'web', starting: 0, warm: 2, active: 1, draining: 0, stopped: 0, failed: 0 }],
  } as unknown as Status);
  m.observeRequest('web', true, 0.003);
  return m;
}
