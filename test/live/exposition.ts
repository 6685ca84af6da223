/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4) for tests: it refuses
 * what a scrape would refuse or what breaks the conventions (a family's HELP or TYPE twice, a
 * family split over two blocks, a sample outside its family, a series twice).
 */

export interface Family { name: string; type: string; help: string; samples: Map<string, number> }

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
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)((?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not exposition format: ${line}`);
    const [, name, labels, value] = m as unknown as [string, string, string, string];
    const base = current && (name === current.name || (['histogram', 'summary'].includes(current.type) && /_(bucket|sum|count)$/.test(name) && name.replace(/_(bucket|sum|count)$/, '') === current.name));
    if (!current || !base) throw new Error(`sample ${name} outside its family's block (after ${current?.name ?? 'nothing'})`);
    if (seen.has(name + labels)) throw new Error(`series ${name}${labels} twice`);
    seen.add(name + labels);
    current.samples.set(name + labels, Number(value));
  }
  return families;
}
