/**
 * `fgo live` (the agent on this host) and `fgo replay` (re-run a journal through the engine).
 */
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { Agent } from '../live/agent.ts';
import { startApi, type ApiHandle } from '../serve/api.ts';
import type { AgentPort } from '../serve/agent-port.ts';
import { isLoopback, ListenError, parseListen } from '../serve/listen.ts';
import { StreamHistory } from '../serve/stream-history.ts';
import { LiveConfigError, parseLiveConfig, type LiveConfig } from '../live/config.ts';
import { API_LIMITS } from '../serve/limits.ts';
import { startMetricsListener, type MetricsListener } from '../serve/metrics-server.ts';
import { checkRoots, resolveRoots, type HostRoots, type RootOptions } from '../formats/host/roots.ts';
import { loadOrCreateToken } from '../serve/token.ts';
import { locate, readJson } from '../formats/jsonfile.ts';
import { InputError } from '../formats/errors.ts';
import { addRootOptions } from './host-roots.ts';
import { registerReplayCommand } from './replay.ts';

interface LiveOptions extends RootOptions {
  config: string;
  mode?: 'adopt' | 'pool';
  enforce?: boolean;
  listen?: string;
  metricsListen?: string;
  stateDir?: string;
  json?: boolean;
}

/** Read, override from the command line, validate; every problem located in the file. */
export function loadLiveConfig(
  file: string,
  over: { mode?: 'adopt' | 'pool'; listen?: string; metricsListen?: string; stateDir?: string } = {},
): LiveConfig {
  const { value, text } = readJson(file);
  const doc =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? ({ ...(value as object) } as Record<string, unknown>)
      : value;
  if (doc && typeof doc === 'object') {
    if (over.mode) (doc as Record<string, unknown>).mode = over.mode;
    if (over.listen) (doc as Record<string, unknown>).listen = over.listen;
    if (over.metricsListen) (doc as Record<string, unknown>).metrics_listen = over.metricsListen;
    if (over.stateDir) (doc as Record<string, unknown>).state_dir = resolve(over.stateDir);
  }
  try {
    return parseLiveConfig(doc, dirname(resolve(file)));
  } catch (e) {
    if (e instanceof LiveConfigError) throw new InputError(locate(file, text, e.problems));
    throw e;
  }
}

/**
 * SIGTERM/SIGINT: stop taking work (new schedule requests get 503 with Retry-After), let requests
 * in flight finish for up to the drain timeout, stop the agent (which answers any still waiting
 * with 503 as it stops its workers), and only then close the API, so no waiting client is reset.
 */
async function shutdown(
  sig: string,
  api: ApiHandle,
  agent: Agent,
  log: (line: string) => void,
  scrape?: MetricsListener,
): Promise<void> {
  log(`${sig}: draining (new requests get 503; requests in flight get up to ${API_LIMITS.drain_timeout_ms} ms)`);
  const left = await api.drain();
  if (left > 0)
    log(`${left} request(s) still in flight after ${API_LIMITS.drain_timeout_ms} ms: answered 503 as the agent stops`);
  await agent.stop();
  await api.close();
  await scrape?.close();
}

/** The config and roots `fgo live` runs with: a bad flag, root or listen address exits 2. */
function liveInputs(o: LiveOptions): { cfg: LiveConfig; roots: HostRoots } {
  if (o.mode && o.mode !== 'adopt' && o.mode !== 'pool')
    throw new InputError([`--mode: "${o.mode}" is not adopt or pool`], 2);
  const cfg = loadLiveConfig(o.config, {
    mode: o.mode,
    listen: o.listen,
    metricsListen: o.metricsListen,
    stateDir: o.stateDir,
  });
  const roots = resolveRoots(o);
  const problems = checkRoots(roots);
  if (problems.length) throw new InputError(problems, 2);
  for (const [key, value] of [
    ['listen', cfg.listen],
    ['metrics_listen', cfg.metrics_listen],
  ] as const) {
    try {
      if (value !== undefined) parseListen(value);
    } catch (e) {
      throw new InputError([`${key}: ${(e as Error).message}`], 2);
    }
  }
  return { cfg, roots };
}

interface Serving {
  agent: Agent;
  api: ApiHandle;
  scrape?: MetricsListener;
}

/** The API (and the /metrics listener) bound, then the agent built and started; a refusal exits 1. */
async function startServing(
  cfg: LiveConfig,
  roots: HostRoots,
  enforce: boolean,
  version: string,
  log: (line: string) => void,
): Promise<Serving> {
  let token: string, created: boolean;
  try {
    ({ token, created } = loadOrCreateToken(cfg.token_file as string));
  } catch (e) {
    throw new InputError([`cannot start: ${(e as Error).message}`], 1);
  }
  // The API is bound before the agent exists, so a taken port fails before any worker, cgroup or
  // journal segment is made. The agent is built synchronously right after, before any request
  // can be handled, so the port below never sees it missing.
  let agent: Agent | undefined;
  const the = () => agent as Agent;
  // What the agent has published, for a dashboard opened later (serve/stream-history.ts), and
  // the decision counts /v1/state reports, as `fgo sim --serve` does.
  const history = new StreamHistory();
  const port: AgentPort = {
    mode: cfg.mode,
    get metrics() {
      return the().metrics;
    },
    schedule: (b) => the().schedule(b),
    state: () => ({ ...(the().state() as object), decisions: history.decisions() }),
    subscribe: (l) => the().subscribe(l),
    history: () => history.message(),
  };
  let api: ApiHandle;
  let scrape: MetricsListener | undefined;
  try {
    api = await startApi(port, { listen: cfg.listen, token, log });
  } catch (e) {
    if (e instanceof ListenError) throw new InputError([e.message], 1);
    throw e;
  }
  try {
    if (cfg.metrics_listen !== undefined) scrape = await startMetricsListener(() => port.metrics, cfg.metrics_listen);
  } catch (e) {
    await api.close();
    if (e instanceof ListenError) throw new InputError([`metrics_listen: ${e.message}`], 1);
    throw e;
  }
  try {
    agent = new Agent({ config: cfg, roots, enforce, version, log });
  } catch (e) {
    await api.close();
    await scrape?.close();
    // Setup refusals (state dir, cgroups) are the operator's to fix: say what, no stack.
    throw new InputError([`cannot start: ${(e as Error).message}`], 1);
  }
  agent.subscribe((m) => history.record(m));
  if (created) log(`created API token ${cfg.token_file} (mode 0600)`);
  agent.start();
  return { agent, api, scrape };
}

/** The startup line on stderr, and with --json the addresses on stdout for scripts. */
function announce(s: Serving, cfg: LiveConfig, o: LiveOptions, version: string, log: (line: string) => void): void {
  const { agent, api, scrape } = s;
  const hostPort = (a: { host: string; port: number }) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  const where = hostPort(api);
  const scrapeAt = scrape && hostPort(scrape);
  log(
    `fgo ${version} live: ${cfg.mode} mode, ${o.enforce ? 'ENFORCING' : 'dry run (add --enforce to act)'}, ${agent.topology.nodes.length} node(s), API on http://${where}${isLoopback(api.host) ? '' : ' (NOT loopback)'}, journal ${agent.journal.dir}${scrapeAt ? `, GET /metrics also on ${scrapeAt}` : ''}`,
  );
  if (o.json)
    console.log(
      JSON.stringify({
        listening: where,
        ...(scrapeAt ? { metrics_listening: scrapeAt } : {}),
        mode: cfg.mode,
        enforce: !!o.enforce,
        state_dir: cfg.state_dir,
        journal: agent.journal.dir,
        pid: process.pid,
      }),
    );
}

/** Resolves once SIGINT or SIGTERM has drained and stopped everything (shutdown above). */
function untilStopped(s: Serving, log: (line: string) => void): Promise<void> {
  return new Promise<void>((done) => {
    const bye = (sig: string) => {
      process.off('SIGINT', bye).off('SIGTERM', bye); // a second signal ends the process at once
      void shutdown(sig, s.api, s.agent, log, s.scrape)
        .catch((e: unknown) => {
          log(`${sig}: stopping failed: ${(e as Error).message}`);
          process.exitCode = 1;
        })
        .then(done);
    };
    process.on('SIGINT', bye).on('SIGTERM', bye);
  });
}

async function runLive(o: LiveOptions, version: string): Promise<void> {
  const { cfg, roots } = liveInputs(o);
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const s = await startServing(cfg, roots, !!o.enforce, version, log);
  announce(s, cfg, o, version, log);
  await untilStopped(s, log);
}

export function registerLiveCommands(program: Command, version: string): void {
  const cmd = program
    .command('live')
    .description(
      'run the agent on this host: sample PSI and load, place (adopt mode) or serve (pool mode) fragments, journal every decision; dry-run unless --enforce',
    )
    .requiredOption('--config <file>', 'live config JSON (see live/examples/adopt.json and pool.json)')
    .option(
      '--mode <mode>',
      'adopt (manage running processes chosen by rules) or pool (warm worker processes from the config); overrides the config',
    )
    .option(
      '--enforce',
      'really pin processes (cpusets, affinity, page migration); without it the agent prints and journals what it would do',
    )
    .option(
      '--listen <host:port>',
      'API address (default from the config, 127.0.0.1:9464); a non-loopback address exposes the API beyond this host',
    )
    .option(
      '--metrics-listen <host:port>',
      'also serve GET /metrics (only) on this address, e.g. 0.0.0.0:9466 for a Prometheus off this host (default from the config: none)',
    )
    .option('--state-dir <dir>', 'journal, token and demand trace (default from the config)');
  addRootOptions(cmd, {
    fsRoot: "read DIR as / (a dump of another machine); enforcement still acts on this host's processes",
    sysfsRoot: 'directory standing for /sys (topology, node memory, online CPUs)',
    procfsRoot: 'directory standing for /proc',
    cgroupRoot: 'mount point of the cpuset hierarchy (default: found through /proc/mounts)',
  })
    .option(
      '--json',
      'print one JSON line {"listening","metrics_listening"?,"mode","enforce","state_dir","journal","pid"} on stdout once the API listens',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ fgo live --config live/examples/adopt.json               # dry run: prints what it would pin',
        '  $ sudo fgo live --config live/examples/adopt.json --enforce',
        '  $ fgo live --config live/examples/pool.json --listen 127.0.0.1:9464',
        '  $ curl -H "Authorization: Bearer $(cat STATE_DIR/token)" -H "Content-Type: application/json" \\',
        '      -d \'{"profile":"echo","priority":"normal","payload":{"work_ms":20},"wait":true}\' http://127.0.0.1:9464/v1/schedule',
        '',
        'API: POST /v1/schedule (bearer token from STATE_DIR/token, created 0600 on first start), GET /v1/state,',
        'GET /metrics (Prometheus), GET /healthz, WebSocket /v1/stream (decisions and pressure samples).',
        'The journal (STATE_DIR/journal/) holds every observation and decision; `fgo replay` checks it.',
      ].join('\n'),
    )
    .action((o: LiveOptions) => runLive(o, version));

  registerReplayCommand(program);
}
