/**
 * The load balancer in front of the storm lab's cluster: which node an attempt reaches.
 *
 * - `round-robin`: each attempt goes to the next live node in turn (one counter for the whole balancer), so
 *   a client's retries land on a different node each time and every node sees 1 / M of the attempts.
 * - `sticky:K:S`: sticky sessions by a hash of the client (the incident's IP-based stickiness). The hash
 *   space is uneven: K "hot" nodes (nodes 0 … K − 1) hold the share S of it between them, the other M − K
 *   nodes share 1 − S. Offices and carriers behind one NAT address hash as one client, which is how a few
 *   nodes came to take most of the connections and the retries in the incident ("the number of network
 *   connections per server is quite uneven"). A client always reaches its home node while that node is up;
 *   when it is down the client is re-hashed (a second, independent hash) over the live nodes in proportion
 *   to their shares — what consistent hashing with many virtual points per node does — and returns home
 *   when its node is back.
 *
 * The balancer health-checks instantly: it never routes to a node that is down. With every node down an
 * attempt reaches nothing (`-1`) and fails one round trip later, as a balancer's own 503 does.
 */

export type BalancerSpec =
  | { readonly kind: "round-robin" }
  | { readonly kind: "sticky"; readonly hotNodes: number; readonly hotShare: number };

/** `round-robin` or `sticky:K:S` (K hot nodes hold the share S of the hash space). */
export function parseBalancer(text: string, nodes: number): BalancerSpec {
  const value = text.trim();
  if (value === "round-robin") return { kind: "round-robin" };
  const match = /^sticky:(\d+):([0-9.]+)$/.exec(value);
  if (match === null) {
    throw new RangeError(`--balancers: "${text}" is neither round-robin nor sticky:K:S (e.g. sticky:3:0.55)`);
  }
  const hotNodes = Number(match[1]);
  const hotShare = Number(match[2]);
  if (!(hotNodes >= 1 && hotNodes < nodes)) {
    throw new RangeError(`--balancers: K in "${text}" must be an integer >= 1 and < --nodes (${nodes})`);
  }
  if (!(hotShare > 0 && hotShare < 1)) {
    throw new RangeError(`--balancers: S in "${text}" must be a share > 0 and < 1`);
  }
  return { kind: "sticky", hotNodes, hotShare };
}

export function balancerLabel(spec: BalancerSpec): string {
  return spec.kind === "round-robin" ? "round-robin" : `sticky:${spec.hotNodes}:${spec.hotShare}`;
}

/** Each node's share of the hash space (round-robin: even). */
export function hashShares(spec: BalancerSpec, nodes: number): Float64Array {
  const shares = new Float64Array(nodes);
  if (spec.kind === "round-robin") return shares.fill(1 / nodes);
  const { hotNodes, hotShare } = spec;
  for (let k = 0; k < nodes; k++) {
    shares[k] = k < hotNodes ? hotShare / hotNodes : (1 - hotShare) / (nodes - hotNodes);
  }
  return shares;
}

/** A 32-bit integer mix (murmur3's finaliser): the balancer's hash of a client. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The node whose slice of [0, 1) (cumulative shares, last = 1) holds `u`. */
function pick(cumulative: Float64Array, u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (u < (cumulative[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class Balancer {
  readonly spec: BalancerSpec;
  readonly nodes: number;
  readonly shares: Float64Array;
  private readonly cumulative: Float64Array;
  /** Cumulative shares over the live nodes only (a down node's slice has width 0). */
  private readonly liveCumulative: Float64Array;
  private readonly salt: number;
  private next = 0;
  private liveCount: number;
  private readonly up: Uint8Array;

  constructor(spec: BalancerSpec, nodes: number, seed: number) {
    this.spec = spec;
    this.nodes = nodes;
    this.shares = hashShares(spec, nodes);
    this.cumulative = new Float64Array(nodes);
    this.liveCumulative = new Float64Array(nodes);
    let sum = 0;
    for (let k = 0; k < nodes; k++) {
      sum += this.shares[k] as number;
      this.cumulative[k] = sum;
    }
    this.cumulative[nodes - 1] = 1;
    this.salt = mix32(seed ^ 0x5bd1e995);
    this.up = new Uint8Array(nodes).fill(1);
    this.liveCount = nodes;
    this.setLive(this.up);
  }

  private hash(client: number, round: number): number {
    return mix32(mix32(client ^ this.salt) + round * 0x9e3779b9) / 4294967296;
  }

  /** The node a client was connected to before the storm (round-robin: spread evenly, client mod M). */
  home(client: number): number {
    if (this.spec.kind === "round-robin") return client % this.nodes;
    return pick(this.cumulative, this.hash(client, 0));
  }

  /** Tells the balancer which nodes are up (its health check). */
  setLive(up: Uint8Array): void {
    let sum = 0;
    let live = 0;
    for (let k = 0; k < this.nodes; k++) {
      this.up[k] = up[k] as number;
      if (up[k] === 1) {
        sum += this.shares[k] as number;
        live++;
      }
      this.liveCumulative[k] = sum;
    }
    for (let k = 0; k < this.nodes; k++)
      this.liveCumulative[k] = sum > 0 ? (this.liveCumulative[k] as number) / sum : 0;
    this.liveCount = live;
  }

  /** The node this attempt reaches, or -1 when every node is down. */
  route(client: number): number {
    if (this.liveCount === 0) return -1;
    if (this.spec.kind === "round-robin") {
      for (;;) {
        const k = this.next;
        this.next = (this.next + 1) % this.nodes;
        if (this.up[k] === 1) return k;
      }
    }
    const home = pick(this.cumulative, this.hash(client, 0));
    if (this.up[home] === 1) return home;
    // The failover slice: pick() skips zero-width (down) slices since u < 1 = the last live bound.
    const k = pick(this.liveCumulative, this.hash(client, 1));
    return this.up[k] === 1 ? k : this.firstLive();
  }

  private firstLive(): number {
    for (let k = 0; k < this.nodes; k++) if (this.up[k] === 1) return k;
    return -1;
  }
}
