/**
 * How the production processes reach the Temporal frontend: plain for a cluster inside the network, TLS or mTLS
 * (certificate files, e.g. a mounted Kubernetes Secret), or an API key (Temporal Cloud). The same options serve the
 * worker's and the API's native connections and the replay script's client connection.
 */
import { readFileSync } from 'node:fs';
import type { Config } from './config';

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    clientCertPair?: { crt: Buffer; key: Buffer };
    serverRootCACertificate?: Buffer;
    serverNameOverride?: string;
  };
  apiKey?: string;
}

type TlsConfig = Pick<
  Config,
  | 'TEMPORAL_TLS_CERT_PATH'
  | 'TEMPORAL_TLS_KEY_PATH'
  | 'TEMPORAL_TLS_CA_PATH'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/** Reads the certificate files now, so a wrong path stops the process at boot with the variable's name. */
export function temporalConnectionOptions(address: string, config: TlsConfig): TemporalConnectionOptions {
  const read = (name: keyof TlsConfig): Buffer | undefined => {
    const file = config[name];
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${name}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const crt = read('TEMPORAL_TLS_CERT_PATH');
  const key = read('TEMPORAL_TLS_KEY_PATH');
  const ca = read('TEMPORAL_TLS_CA_PATH');
  const tlsWanted = Boolean(crt ?? ca ?? config.TEMPORAL_TLS_SERVER_NAME ?? config.TEMPORAL_API_KEY);
  return {
    address,
    ...(tlsWanted
      ? {
          tls: {
            ...(crt && key ? { clientCertPair: { crt, key } } : {}),
            ...(ca ? { serverRootCACertificate: ca } : {}),
            ...(config.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME } : {}),
          },
        }
      : {}),
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}
