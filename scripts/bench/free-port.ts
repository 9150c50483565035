import { createServer, type AddressInfo } from 'node:net';

/** A loopback port that is free now, so the cluster can be provisioned with the URL it will serve on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
