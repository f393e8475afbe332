// The BGP side of a PoP: supervises gobgpd (restarting it when it dies), follows its peer
// events, and polls the BFD helper. It owns no VIP state; it tells the agent when the
// session's usability or gobgpd's reachability changed, and when gobgpd (re)connected, so
// the agent can reconcile. The agent sees it through the `Speaker` interface, which tests fake.
import { isIP } from 'node:net';
import type { Pop } from '../config/index.js';
import { BirdClient, GobgpClient, PeerLiveness, startGobgpd, type AnnouncedPath, type Sidecar } from '../bgp/index.js';
import type { Logger } from '../observability/index.js';
import { emit } from '../contract/index.js';
import type { AgentMetrics } from './metrics.js';
import type { AgentStatus } from './status.js';

/** What the announcer needs from gobgpd. */
export interface PathClient {
  listLocalPaths(): Promise<AnnouncedPath[]>;
  addPath(p: AnnouncedPath): Promise<unknown>;
  deletePath(p: AnnouncedPath): Promise<void>;
}

export interface SpeakerEvents {
  /** Session usability or gobgpd reachability changed. */
  onLiveness(): void;
  /** gobgpd answers (again): its RIB may be empty, reconcile. */
  onConnected(): void;
  /** gobgpd exited: nothing is announced any more. */
  onGobgpdExit(): void;
}

export interface Speaker {
  readonly client: PathClient;
  /** A trusted session: gobgpd has it Established and BFD (if watched) agrees. */
  readonly sessionUp: boolean;
  readonly apiUp: boolean;
  status(): AgentStatus['bgp'];
  start(events: SpeakerEvents): void;
  stop(): Promise<void>;
}

export class GobgpSpeaker implements Speaker {
  readonly client: GobgpClient;
  private readonly liveness = new PeerLiveness();
  private sidecar?: Sidecar;
  private gobgpdPid = -1;
  private bfd?: BirdClient;
  private bfdTimer?: NodeJS.Timeout;
  private bfdLost = false;
  private bgpApiUp = false;
  private cancelWatch?: () => void;
  private stopped = false;
  private events!: SpeakerEvents;
  private pingTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly pop: Pop,
    private readonly stateDir: string,
    private readonly wrapper: string,
    private readonly log: Logger,
    private readonly m: AgentMetrics,
  ) {
    this.client = new GobgpClient(pop.bgp.api, pop.bgp.asn, pop.bgp.protoDir);
  }

  get apiUp(): boolean {
    return this.bgpApiUp;
  }

  get sessionUp(): boolean {
    return this.liveness.anyUsable((addr) => this.holdTimeMs(addr), Date.now());
  }

  status() {
    return {
      api: this.pop.bgp.api,
      apiUp: this.bgpApiUp,
      gobgpdPid: this.gobgpdPid,
      sessions: this.liveness.bgpStates(),
      bfd: this.liveness.bfdStates(),
      sessionUp: this.sessionUp,
    };
  }

  start(events: SpeakerEvents): void {
    this.events = events;
    if (this.pop.bgp.manageGobgpd) this.superviseGobgpd();
    this.pingLoop();
    this.watchBgp();
    if (this.pop.bgp.bfdSocket) this.watchBfd(this.pop.bgp.bfdSocket);
  }

  private holdTimeMs(addr: string): number {
    return (this.pop.bgp.neighbors.find((n) => n.address === addr)?.holdTime ?? 9) * 1000;
  }

  private setApiUp(up: boolean): void {
    if (up === this.bgpApiUp) return;
    this.bgpApiUp = up;
    this.events.onLiveness();
  }

  /**
   * Every gRPC call has a deadline, but a frozen gobgpd keeps the event stream open and quiet:
   * ask it something every second, with a one-second deadline, so /healthz and the heartbeat
   * stop saying it is reachable within about two seconds.
   */
  private pingLoop(): void {
    if (this.stopped) return;
    this.pingTimer = setTimeout(async () => {
      const up = await this.client.ping(1000);
      if (this.stopped) return;
      if (!up && this.bgpApiUp) this.log.warn({ api: this.pop.bgp.api }, 'gobgpd does not answer within 1 s');
      // Only a failed ping marks it down; the event stream's reconnect marks it up again.
      if (!up) this.setApiUp(false);
      else if (this.cancelWatch) this.setApiUp(true);
      this.pingLoop();
    }, 1000);
  }

  private superviseGobgpd(retryMs = 1000): void {
    if (this.stopped) return;
    let sc: Sidecar;
    try {
      sc = startGobgpd(this.pop.bgp, this.stateDir, this.wrapper);
    } catch (err) {
      // E.g. the state directory cannot be written: nothing is announced (the safe state), say
      // so, and try again rather than crash the agent.
      this.log.error(
        { err: (err as Error).message, stateDir: this.stateDir, retryMs },
        'cannot start gobgpd; retrying',
      );
      this.retryTimer = setTimeout(() => this.superviseGobgpd(Math.min(30_000, retryMs * 2)), retryMs);
      return;
    }
    this.sidecar = sc;
    void sc.pid.then((pid) => {
      this.gobgpdPid = pid;
      emit(this.log, 'gobgpd.started', { pid, policy: this.pop.bgp.onAgentDeath }, 'gobgpd started');
    });
    void sc.exited.then((code) => {
      this.setApiUp(false);
      this.events.onGobgpdExit();
      if (this.stopped || this.sidecar !== sc) return;
      emit(this.log, 'gobgpd.exited', { code }, 'gobgpd exited; restarting it and re-announcing', 'error');
      setTimeout(() => this.superviseGobgpd(), 200);
    });
  }

  /** Follows peer events; a broken stream (gobgpd restart) reconnects with backoff. */
  private watchBgp(delay = 0): void {
    if (this.stopped) return;
    setTimeout(async () => {
      if (this.stopped) return;
      try {
        for (const p of await this.client.listPeers()) this.setPeer(p.address, p.state);
      } catch {
        this.setApiUp(false);
        if (delay > 0) this.m.grpcErrors.inc({ method: 'ListPeer' });
        return this.watchBgp(Math.min(2000, Math.max(100, delay * 2)));
      }
      this.setApiUp(true);
      this.log.info({ api: this.pop.bgp.api }, 'connected to gobgpd');
      this.events.onConnected();
      this.cancelWatch = this.client.watchPeers(
        (e) => this.setPeer(e.address, e.state),
        (err) => {
          this.setApiUp(false);
          for (const p of Object.keys(this.liveness.bgpStates())) this.setPeer(p, 'UNKNOWN');
          if (!this.stopped) {
            if (err) this.m.grpcErrors.inc({ method: 'WatchEvent' });
            this.log.warn({ err: err?.message }, 'lost the gobgpd event stream; reconnecting');
            this.watchBgp(100);
          }
        },
      );
    }, delay);
  }

  private setPeer(address: string, state: string): void {
    // gobgpd's event stream also reports a peer "<nil>" (its own init events): not a neighbor.
    if (!isIP(address)) return;
    const old = this.liveness.bgpOf(address);
    if (old === state) return;
    const wasUp = this.sessionUp;
    this.liveness.setBgp(address, state);
    this.m.session.set({ peer: address }, state === 'ESTABLISHED' ? 1 : 0);
    if (old !== undefined || state === 'ESTABLISHED')
      emit(this.log, 'bgp.session', { peer: address, from: old, to: state }, 'bgp session state');
    if (this.sessionUp !== wasUp) this.events.onLiveness();
  }

  /**
   * Polls the BFD-only BIRD's control socket every 100 ms (a local unix socket: cheap), so a
   * cut or blackholed link takes the PoP out of DNS in BFD time, not gobgpd's hold time.
   */
  private watchBfd(socket: string): void {
    const poll = async (): Promise<void> => {
      if (this.stopped) return;
      let states: Record<string, string> | undefined;
      try {
        this.bfd ??= await BirdClient.connect(socket, 1000);
        states = await this.bfd.bfdSessions();
        if (this.bfdLost) this.log.info({ socket }, 'BFD helper reachable again');
        this.bfdLost = false;
      } catch (err) {
        if (!this.bfdLost)
          this.log.warn({ socket, err: (err as Error).message }, 'cannot read the BFD helper; using BGP state alone');
        this.bfdLost = true;
        this.bfd?.close();
        this.bfd = undefined;
      }
      const wasUp = this.sessionUp;
      const now = Date.now();
      for (const n of this.pop.bgp.neighbors) {
        const old = this.liveness.bfdOf(n.address);
        // The helper drops a session whose interface address went away: that is Down too.
        const state = states ? (states[n.address] ?? 'Down') : undefined;
        if (this.liveness.setBfd(n.address, state, now)) {
          this.m.bfd.set({ peer: n.address }, state === 'Up' ? 1 : 0);
          emit(this.log, 'bfd.session', { peer: n.address, from: old ?? null, to: state ?? null }, 'bfd session state');
        }
      }
      if (this.sessionUp !== wasUp) {
        this.log.info(
          { sessionUp: this.sessionUp, bgp: this.liveness.bgpStates(), bfd: this.liveness.bfdStates() },
          'bgp session usability changed',
        );
        this.events.onLiveness();
      }
      if (!this.stopped) this.bfdTimer = setTimeout(() => void poll(), states ? 100 : 1000);
    };
    void poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.bfdTimer);
    clearTimeout(this.pingTimer);
    clearTimeout(this.retryTimer);
    this.bfd?.close();
    this.cancelWatch?.();
    const sc = this.sidecar;
    this.sidecar = undefined;
    await sc?.stop();
    this.client.close();
  }
}
