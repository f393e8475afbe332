// A BGP speaker without gobgpd: an in-memory RIB the agent's announcer reconciles against, and
// session flags a test sets. What the RIB holds is what a real gobgpd would announce.
import type { PathClient, Speaker, SpeakerEvents } from '../../src/agent/index.js';
import { pathSignature, type AnnouncedPath } from '../../src/bgp/index.js';

export class FakeRib implements PathClient {
  paths: AnnouncedPath[] = [];
  async listLocalPaths() {
    return this.paths.map((p) => ({ ...p }));
  }
  async addPath(p: AnnouncedPath) {
    this.paths = [...this.paths.filter((x) => x.prefix !== p.prefix), { ...p }];
  }
  async deletePath(p: AnnouncedPath) {
    this.paths = this.paths.filter((x) => pathSignature(x) !== pathSignature(p));
  }
}

export class FakeSpeaker implements Speaker {
  readonly client = new FakeRib();
  sessionUp = true;
  apiUp = true;
  events?: SpeakerEvents;
  status() {
    return { api: 'fake', apiUp: this.apiUp, gobgpdPid: -1, sessions: {}, bfd: {}, sessionUp: this.sessionUp };
  }
  start(e: SpeakerEvents) {
    this.events = e;
  }
  async stop() {}
}
