// The GoBGP API definitions the agent speaks (gobgp/api/gobgp-agent.proto) are pinned to the
// gobgpd version setup installs: that version is the binary's, and every method, message,
// field and enum value in our file is the same (name, number, type, streaming) as in GoBGP's
// own protos of that version (Debian's golang-github-osrg-gobgp-dev). The agent tests then
// speak them to the real gobgpd.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/dns.js';

const OURS = join(ROOT, 'gobgp', 'api');
const UPSTREAM = '/usr/share/gocode/src/github.com/osrg/gobgp/api';

function load(dir: string, files: string[]): protobuf.Root {
  const root = new protobuf.Root();
  // google/protobuf/* come with protobufjs; everything else is beside the files.
  root.resolvePath = (origin, target) =>
    target.startsWith('google/') ? protobuf.util.path.resolve(origin, target) : join(dir, target.replace(/^.*\//, ''));
  root.loadSync(
    files.map((f) => join(dir, f)),
    { keepCase: true },
  );
  root.resolveAll();
  return root;
}

/** Every type under apipb, by full name. */
function types(root: protobuf.Root): Map<string, protobuf.ReflectionObject> {
  const out = new Map<string, protobuf.ReflectionObject>();
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const o of ns.nestedArray) {
      out.set(o.fullName, o);
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o as protobuf.NamespaceBase);
    }
  };
  walk(root.lookup('apipb') as protobuf.Namespace);
  return out;
}

describe('GoBGP API definitions', () => {
  it('are pinned to the gobgpd version setup installs', () => {
    const pinned = readFileSync(join(OURS, 'VERSION'), 'utf8').trim();
    expect(execFileSync('gobgpd', ['--version'], { encoding: 'utf8' })).toContain(`version ${pinned}`);
    const dev = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'golang-github-osrg-gobgp-dev'], {
      encoding: 'utf8',
    });
    expect(dev.startsWith(`${pinned}-`)).toBe(true);
  });

  it('match GoBGP protos of that version: every method, message, field and enum value', () => {
    expect(existsSync(join(UPSTREAM, 'gobgp.proto')), 'run bash scripts/setup.sh').toBe(true);
    const ours = types(load(OURS, ['gobgp-agent.proto']));
    const theirs = types(load(UPSTREAM, ['gobgp.proto', 'attribute.proto', 'capability.proto']));
    let fields = 0;
    for (const [name, o] of ours) {
      const t = theirs.get(name);
      expect(t, name).toBeDefined();
      if (o instanceof protobuf.Type) {
        for (const f of o.fieldsArray) {
          const u = (t as protobuf.Type).fields[f.name];
          expect(u, `${name}.${f.name}`).toBeDefined();
          expect([u?.id, u?.resolvedType?.fullName ?? u?.type, u?.repeated], `${name}.${f.name}`).toEqual([
            f.id,
            f.resolvedType?.fullName ?? f.type,
            f.repeated,
          ]);
          fields++;
        }
      } else if (o instanceof protobuf.Enum) {
        for (const [k, v] of Object.entries(o.values)) expect((t as protobuf.Enum).values[k], `${name}.${k}`).toBe(v);
      } else if (o instanceof protobuf.Service) {
        for (const m of o.methodsArray) {
          const u = (t as protobuf.Service).methods[m.name];
          expect(u, `${name}.${m.name}`).toBeDefined();
          expect(
            [
              u?.resolvedRequestType?.fullName,
              u?.resolvedResponseType?.fullName,
              !!u?.requestStream,
              !!u?.responseStream,
            ],
            `${name}.${m.name}`,
          ).toEqual([
            m.resolvedRequestType?.fullName,
            m.resolvedResponseType?.fullName,
            !!m.requestStream,
            !!m.responseStream,
          ]);
        }
      }
    }
    expect(fields).toBeGreaterThan(50);
  });
});
