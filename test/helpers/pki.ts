// A throwaway certificate authority for TLS tests (openssl): a CA, a server certificate for
// 127.0.0.1, and client certificates signed by it.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  ca: string;
  server: { cert: string; key: string };
  client: (name: string) => { cert: string; key: string };
}

export function makePki(dir: string): Pki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = (name: string) => ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  ec('ca');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=gtm test CA', '-days', '2', '-out', 'ca.pem');
  const issue = (name: string, ext: string) => {
    ec(name);
    ssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const server = issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  return { ca: join(dir, 'ca.pem'), server, client: (name) => issue(name, 'extendedKeyUsage=clientAuth\n') };
}
