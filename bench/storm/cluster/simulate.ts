/**
 * One cluster storm: N clients on virtual time, each the shipped client's decision path (the storm lab's
 * `ours` strategy: `ReconnectPlanner` with `ResilientSocket`'s defaults and `closeOutcome`), M nodes (each
 * the lab's {@link ServerModel}) behind a {@link Balancer}, with admission per node or one shared schedule.
 * Same life of a client as the single-server lab (`../simulate.ts`); what differs is where an attempt goes
 * (the balancer picks a node per attempt), that a crash drops only the clients on that node, and which
 * admission and budget a node applies (see {@link AdmissionMode}).
 *
 * Memory: per client a planner (the shipped class, as in the single-server lab) plus typed arrays (status,
 * stability, generation, node); events are three numbers in the lab's typed-array heap. One million clients
 * take about 1 GB and tens of seconds on one core.
 */
import { type Random, seededRandom } from "../../../src/env.js";
import type { ReconnectBudget } from "../../../src/server/budget.js";
import { EventQueue } from "../engine.js";
import { ADMIT, BUCKET_MS, REFUSE, type ServerModel } from "../server-model.js";
import { ours, type WireHint } from "../strategies.js";
import { Balancer, type BalancerSpec, balancerLabel } from "./balancer.js";
import type { AdmissionMode, ClusterAction, ClusterConfig, ClusterScenario } from "./config.js";
import { type ClusterResult, type ClusterSeries, summariseCluster } from "./metrics.js";
import { buildNodes } from "./nodes.js";

const ATTEMPT = 0;
const OPEN = 1;
const STABLE = 2;
const TICK = -1;
/** Scenario action j is target ACTION_BASE - j; a node k's restart RESTART_BASE - k. */
const ACTION_BASE = -2;
const RESTART_BASE = -1_000_000;

const WAITING = 0;
const OPENING = 1;
const CONNECTED = 2;

/** The shipped client with a server that speaks hints: what every simulated client runs. */
export const CLUSTER_CLIENT = ours("ours-hints", "ours with hints", true);

export interface ClusterRunSpec {
  readonly config: ClusterConfig;
  readonly scenario: ClusterScenario;
  readonly balancer: BalancerSpec;
  readonly admission: AdmissionMode;
}

export interface ClusterRun {
  readonly result: ClusterResult;
  readonly series: ClusterSeries;
}

export function simulateCluster(spec: ClusterRunSpec): ClusterRun {
  const { config, scenario, admission } = spec;
  const { clients: n, nodes: m, nodeCapacity } = config;
  const horizon = scenario.horizonMs;
  // One random source per seed for every run of a matrix: the two admission modes see the same draws.
  const random: Random = seededRandom(Math.imul(config.seed >>> 0, 0x9e3779b1) ^ 0x2545f491);
  const policy = CLUSTER_CLIENT.create(n, random);
  const balancer = new Balancer(spec.balancer, m, config.seed);

  const status = new Uint8Array(n).fill(CONNECTED);
  const stable = new Uint8Array(n).fill(1);
  const generation = new Int32Array(n);
  const nodeOf = new Int16Array(n);
  const connectedOn = new Int32Array(m);
  for (let c = 0; c < n; c++) {
    const k = balancer.home(c);
    nodeOf[c] = k;
    connectedOn[k] = (connectedOn[k] as number) + 1;
  }
  let connected = n;
  let now = 0;

  const {
    servers,
    budgets,
    answerDelayMs: answerDelay,
  } = buildNodes(config, admission, horizon, {
    cluster: () => connected,
    node: (k) => connectedOn[k] as number,
    now: () => now,
  });
  const up = new Uint8Array(m).fill(1);
  /** Nodes the scenario holds down (a kill, an outage): a crash restart does not bring them back. */
  const heldDown = new Uint8Array(m);
  const queue = new EventQueue(Math.min(4 * n + 64, 1 << 22));

  const attemptsOn = new Float64Array(m);
  const admitsAtLastSample = new Float64Array(m);
  const peakAdmitsPerS = new Float64Array(m);
  const peakLoad = new Float64Array(m);
  const series: ClusterSeries = { connected: [], hottestAdmits: [], hottestLoad: [] };
  let attempts = 0;
  let stormClients = 0;
  const reachedAt: (number | undefined)[] = [undefined, undefined, undefined, undefined];
  const lastActionAt = scenario.actions.reduce((latest, a) => Math.max(latest, a.atMs), 0);
  let endMs = horizon;

  const tag = (client: number, kind: number) => ((generation[client] as number) << 2) | kind;
  const scheduleAttempt = (client: number, atMs: number, delayMs: number) => {
    if (!Number.isFinite(delayMs)) return;
    queue.push(atMs + Math.max(0, Math.ceil(delayMs)), client, tag(client, ATTEMPT));
  };

  /** The client's connection (or its admitted, not yet open attempt) ends now; true when it was connected. */
  const dropClient = (client: number): boolean => {
    const st = status[client] as number;
    if (st === WAITING) return false;
    generation[client] = (generation[client] as number) + 1;
    let delay: number;
    if (st === CONNECTED) {
      connected--;
      const k = nodeOf[client] as number;
      connectedOn[k] = (connectedOn[k] as number) - 1;
      delay = policy.onClose(client, now, stable[client] === 1, undefined);
    } else {
      delay = policy.onFailure(client, now, undefined);
    }
    nodeOf[client] = -1;
    status[client] = WAITING;
    stable[client] = 0;
    scheduleAttempt(client, now, delay);
    return st === CONNECTED;
  };

  /** Drops every client on `node` (all nodes when "all"); returns how many were connected. */
  const dropOn = (node: number | "all"): number => {
    let dropped = 0;
    for (let c = 0; c < n; c++) {
      if (node === "all" || nodeOf[c] === node) dropped += dropClient(c) ? 1 : 0;
    }
    return dropped;
  };

  const setUp = (k: number, value: boolean) => {
    up[k] = value ? 1 : 0;
    const server = servers[k] as ServerModel;
    if (value) server.comeUp(now);
    else server.goDown();
    balancer.setLive(up);
  };
  const nodesOf = (node: number | "all") =>
    node === "all" ? Array.from({ length: m }, (_, k) => k) : [node];

  const runAction = (action: ClusterAction) => {
    if (action.kind === "drop-all") {
      stormClients += dropOn("all");
      return;
    }
    for (const k of nodesOf(action.node)) {
      if (action.kind === "down") {
        heldDown[k] = 1;
        if (up[k] === 1) setUp(k, false);
      } else {
        heldDown[k] = 0;
        if (up[k] === 0) setUp(k, true);
      }
    }
    if (action.kind === "down") stormClients += dropOn(action.node);
  };

  const attempt = (client: number) => {
    const wait = policy.beforeAttempt(client, now);
    if (wait > 0) {
      scheduleAttempt(client, now, wait);
      return;
    }
    attempts++;
    const k = balancer.route(client);
    if (k < 0) {
      const at = now + config.rttMs;
      scheduleAttempt(client, at, policy.onFailure(client, at, undefined));
      return;
    }
    attemptsOn[k] = (attemptsOn[k] as number) + 1;
    const server = servers[k] as ServerModel;
    const answer = server.arrive(now);
    if (answer === ADMIT) {
      status[client] = OPENING;
      nodeOf[client] = k;
      queue.push(now + answerDelay, client, tag(client, OPEN));
      return;
    }
    const at = now + (answer === REFUSE ? answerDelay : config.rttMs);
    const payload = answer === REFUSE ? server.lastHint : undefined;
    const hint: WireHint | undefined =
      payload === undefined ? undefined : { payload, source: "connect-error" };
    scheduleAttempt(client, at, policy.onFailure(client, at, hint));
  };

  const targets = () => {
    const base = n - stormClients;
    return [0.5, 0.95, 0.99, 1].map((x) => base + Math.ceil(x * stormClients));
  };
  let goal = targets();

  const open = (client: number) => {
    const k = nodeOf[client] as number;
    status[client] = CONNECTED;
    connected++;
    connectedOn[k] = (connectedOn[k] as number) + 1;
    policy.onOpen(client, now, (budgets[k] as ReconnectBudget).payload(), config.rttMs);
    queue.push(now + CLUSTER_CLIENT.stableAfterMs, client, tag(client, STABLE));
    if (now < scenario.originMs) return;
    for (let j = 0; j < goal.length; j++) {
      if (reachedAt[j] === undefined && connected >= (goal[j] as number)) reachedAt[j] = now;
    }
  };

  const tick = () => {
    for (let k = 0; k < m; k++) {
      const server = servers[k] as ServerModel;
      if (!server.tick(now)) continue;
      // A crash: the node is down and everyone on it dropped; it restarts unless the scenario holds it down.
      up[k] = 0;
      balancer.setLive(up);
      dropOn(k);
      queue.push(now + config.restartMs, RESTART_BASE - k, 0);
    }
    if (now % 1000 === 0) {
      let hottestAdmits = 0;
      let hottestLoad = 0;
      for (let k = 0; k < m; k++) {
        const server = servers[k] as ServerModel;
        const admits = server.admits - (admitsAtLastSample[k] as number);
        admitsAtLastSample[k] = server.admits;
        peakAdmitsPerS[k] = Math.max(peakAdmitsPerS[k] as number, admits);
        peakLoad[k] = Math.max(peakLoad[k] as number, server.loadPerSecond);
        hottestAdmits = Math.max(hottestAdmits, admits);
        hottestLoad = Math.max(hottestLoad, server.loadPerSecond);
      }
      series.connected.push(connected);
      series.hottestAdmits.push(hottestAdmits / nodeCapacity);
      series.hottestLoad.push(hottestLoad / nodeCapacity);
    }
    if (now + BUCKET_MS <= horizon) queue.push(now + BUCKET_MS, TICK, 0);
  };

  // Everyone connected before t = 0, and heard its node's budget then.
  for (let c = 0; c < n; c++)
    policy.onOpen(c, 0, (budgets[nodeOf[c] as number] as ReconnectBudget).payload(), config.rttMs);
  scenario.actions.forEach((action, j) => {
    queue.push(action.atMs, ACTION_BASE - j, 0);
  });
  queue.push(0, TICK, 0);

  while (queue.pop()) {
    if (queue.at > horizon) break;
    now = queue.at;
    const target = queue.target;
    if (target >= 0) {
      const t = queue.tag;
      if (t >> 2 !== generation[target]) continue;
      const kind = t & 3;
      if (kind === ATTEMPT) attempt(target);
      else if (kind === OPEN) open(target);
      else if (kind === STABLE && status[target] === CONNECTED) {
        stable[target] = 1;
        policy.onStable(target, now);
      }
    } else if (target === TICK) {
      tick();
    } else if (target <= RESTART_BASE) {
      const k = RESTART_BASE - target;
      if (heldDown[k] === 0 && up[k] === 0) setUp(k, true);
    } else {
      runAction(scenario.actions[ACTION_BASE - target] as ClusterAction);
      goal = targets();
    }
    if (connected === n && reachedAt[3] !== undefined && now >= lastActionAt) {
      endMs = now;
      break;
    }
  }

  let crashes = 0;
  const crashedNodes: number[] = [];
  servers.forEach((server, k) => {
    crashes += server.crashes;
    if (server.crashes > 0) crashedNodes.push(k);
  });
  return {
    result: summariseCluster({
      scenario: scenario.name,
      balancer: balancerLabel(spec.balancer),
      admission,
      config,
      originMs: scenario.originMs,
      endMs,
      stormClients,
      reachedAt,
      attempts,
      attemptsOn,
      shares: balancer.shares,
      peakAdmitsPerS,
      peakLoad,
      crashes,
      crashedNodes,
      connected,
    }),
    series,
  };
}
