/**
 * What the request handlers of one API server share (serve/api.ts makes it when the server starts).
 */
import type { IncomingMessage } from 'node:http';
import type { AgentPort } from './agent-port.ts';
import type { InFlight } from './in-flight.ts';
import type { ApiLimits, ConnectionGuard } from './limits.ts';

export interface ApiContext {
  /** The agent behind the API: it decides, the handlers only validate and relay. */
  readonly port: AgentPort;
  readonly limits: ApiLimits;
  /** The bearer token schedule requests (and reserved streams) must present. */
  readonly token: string;
  /** Title of the dashboard page. */
  readonly title: string;
  readonly log: (line: string) => void;
  /** The connection budgets: a connection is marked busy, trusted or idle as its requests go. */
  readonly guard: ConnectionGuard;
  /** Schedule requests past authentication, and whether new ones are refused (draining). */
  readonly work: InFlight;
  /** Whether a request may be answered given its Host header (DNS rebinding, see serve/api.ts). */
  readonly hostAllowed: (req: IncomingMessage) => boolean;
}
