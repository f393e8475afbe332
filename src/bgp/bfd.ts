// Whether a BGP session to a neighbor can be trusted, combining gobgpd's session state with
// BFD from a BFD-only BIRD beside it (gobgpd has no BFD). Pure: the agent feeds it states,
// and this is where the agent keeps both (one record per neighbor).
//
// Why: when the link to the router is cut or silently blackholed, the router drops the
// session in ~300 ms (BFD), but gobgpd keeps calling it ESTABLISHED until its hold timer
// (9 s by default). Without BFD the agent would tell DNS "serving" all that time.
// After BFD went down the old TCP session is dead even if gobgpd has not noticed, so the
// session only counts again once BGP has re-established, or once BFD has stayed Up for a
// whole hold time (a router that does not tie BGP to BFD keeps the session).
// A BFD session that has never been Up is ignored: a router without BFD must not make a
// healthy PoP look dead. And BFD that stays down (Down, AdminDown, gone) while the BGP session
// stays Established for 1.5 hold times stops counting: a dead or blackholed link would have
// ended the session by then (the hold timer), so the router has stopped running BFD with us
// (`no neighbor ... bfd`), and the PoP is serving.
/** How many hold times BGP must outlive a BFD failure before BFD is taken to be switched off. */
export const BFD_ABANDONED_HOLD_TIMES = 1.5;
export class PeerLiveness {
  private readonly bfd = new Map<string, string>();
  private readonly bgp = new Map<string, string>();
  private readonly everUp = new Set<string>();
  /** Peers whose BFD went down during the current BGP session -> when BFD came back Up. */
  private readonly stale = new Map<string, number | undefined>();
  /** When BFD last left Up, and when BGP last became Established, per peer. */
  private readonly bfdDownSince = new Map<string, number>();
  private readonly bgpUpSince = new Map<string, number>();

  /** Records a BFD state (undefined = not known: no session or no helper). Returns true on change. */
  setBfd(addr: string, state: string | undefined, now: number): boolean {
    const old = this.bfd.get(addr);
    if (old === state) return false;
    if (state === undefined) this.bfd.delete(addr);
    else this.bfd.set(addr, state);
    if (state === 'Up') {
      this.everUp.add(addr);
      this.bfdDownSince.delete(addr);
    } else if (old === 'Up' || !this.bfdDownSince.has(addr)) this.bfdDownSince.set(addr, now);
    // Only the session gobgpd holds now can outlive a BFD failure unnoticed.
    if (old === 'Up' && state !== undefined && this.bgp.get(addr) === 'ESTABLISHED') this.stale.set(addr, undefined);
    // BFD back Up (or no longer known): start the hold-time clock of a stale session.
    if (this.stale.has(addr) && this.stale.get(addr) === undefined && (state === 'Up' || state === undefined))
      this.stale.set(addr, now);
    return true;
  }

  /** Any BGP state change ends the session BFD saw fail: the next one is fresh. */
  setBgp(addr: string, state: string, now = Date.now()): void {
    if (this.bgp.get(addr) !== state) {
      this.stale.delete(addr);
      if (state === 'ESTABLISHED') this.bgpUpSince.set(addr, now);
    }
    this.bgp.set(addr, state);
  }

  bgpOf(addr: string): string | undefined {
    return this.bgp.get(addr);
  }

  bfdOf(addr: string): string | undefined {
    return this.bfd.get(addr);
  }

  /** Established in gobgpd, and BFD (if known) agrees. */
  usable(addr: string, holdTimeMs: number, now: number): boolean {
    if (this.bgp.get(addr) !== 'ESTABLISHED') return false;
    const bfd = this.bfd.get(addr);
    if (bfd !== undefined && bfd !== 'Up' && this.everUp.has(addr)) {
      const since = Math.max(this.bfdDownSince.get(addr) ?? now, this.bgpUpSince.get(addr) ?? now);
      return now - since >= BFD_ABANDONED_HOLD_TIMES * holdTimeMs;
    }
    if (!this.stale.has(addr)) return true;
    const upSince = this.stale.get(addr);
    return upSince !== undefined && now - upSince >= holdTimeMs;
  }

  /** BFD is down but no longer counts: BGP outlived it (the router stopped running BFD). */
  bfdAbandoned(addr: string, holdTimeMs: number, now: number): boolean {
    const bfd = this.bfd.get(addr);
    return bfd !== undefined && bfd !== 'Up' && this.everUp.has(addr) && this.usable(addr, holdTimeMs, now);
  }

  /** Whether any neighbor's session can be trusted. */
  anyUsable(holdTimeMs: (addr: string) => number, now: number): boolean {
    return [...this.bgp.keys()].some((addr) => this.usable(addr, holdTimeMs(addr), now));
  }

  bgpStates(): Record<string, string> {
    return Object.fromEntries(this.bgp);
  }

  bfdStates(): Record<string, string> {
    return Object.fromEntries(this.bfd);
  }
}
