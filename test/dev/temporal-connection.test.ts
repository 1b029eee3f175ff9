/** How the production processes connect to Temporal: plain, TLS with a private CA, mTLS, or an API key. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { temporalConnectionOptions } from '../../src/temporal-connection';

let dir: string;
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'temporal-tls-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('temporalConnectionOptions', () => {
  it('connects in plain text when nothing is configured', () => {
    expect(temporalConnectionOptions('temporal:7233', loadConfig({}))).toEqual({ address: 'temporal:7233' });
  });

  it('reads the client certificate pair, the CA and the server name for mTLS', () => {
    const config = loadConfig({
      TEMPORAL_TLS_CERT_PATH: file('client.pem', 'CERT'),
      TEMPORAL_TLS_KEY_PATH: file('client.key', 'KEY'),
      TEMPORAL_TLS_CA_PATH: file('ca.pem', 'CA'),
      TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal.internal',
    });
    const options = temporalConnectionOptions('temporal:7233', config);
    expect(options.tls?.clientCertPair?.crt.toString()).toBe('CERT');
    expect(options.tls?.clientCertPair?.key.toString()).toBe('KEY');
    expect(options.tls?.serverRootCACertificate?.toString()).toBe('CA');
    expect(options.tls?.serverNameOverride).toBe('frontend.temporal.internal');
    expect(options.apiKey).toBeUndefined();
  });

  it('turns TLS on with a CA alone (server-side TLS, no client certificate)', () => {
    const options = temporalConnectionOptions('t:7233', loadConfig({ TEMPORAL_TLS_CA_PATH: file('ca2.pem', 'CA2') }));
    expect(options.tls).toEqual({ serverRootCACertificate: Buffer.from('CA2') });
  });

  it('sends an API key over TLS (Temporal Cloud)', () => {
    const options = temporalConnectionOptions('ns.acct.tmprl.cloud:7233', loadConfig({ TEMPORAL_API_KEY: 'secret' }));
    expect(options).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: 'secret' });
  });

  it('refuses a certificate without its key, naming the variables', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CERT_PATH: file('lonely.pem', 'CERT') })).toThrow(ConfigError);
    expect(() => loadConfig({ TEMPORAL_TLS_KEY_PATH: file('lonely.key', 'KEY') })).toThrow(
      /TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together/,
    );
  });

  it('names the variable when a file cannot be read', () => {
    const config = loadConfig({ TEMPORAL_TLS_CA_PATH: path.join(dir, 'missing.pem') });
    expect(() => temporalConnectionOptions('t:7233', config)).toThrow(
      /^TEMPORAL_TLS_CA_PATH: cannot read .*missing\.pem/,
    );
  });
});
