import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import pino, { type DestinationStream, type Logger } from 'pino';
import { loadMetricsConfig, type MetricsConfig, type ServerConfig, useKerberosAcceptorKeytab } from '@openrms/config';
import { KerberosNegotiateAcceptor, LdapDirectory } from '@openrms/directory';
import { isPrincipalMemberOf as askPeer } from '@openrms/soap';
import { ClusterRuntime } from '@openrms/issuance';
import { createSignOnThrottle } from '@openrms/jobs';
import { openStore, type Store } from '@openrms/store';
import { Admission } from './admission';
import { createApp } from './create-app';
import { drainHttpServer } from './drain-http-server';
import { type InProcessJobs, startInProcessJobs } from './in-process-jobs';
import { openServerQueues, type ServerQueues } from './queue-routes';
import { rateLimitedLog } from './rate-limited-log';
import { rootForwards, soapRoutes } from './soap-routes';

export interface RunningServer {
  url: string;
  runtime: ClusterRuntime;
  /**
   * Graceful stop: no new connections, requests in flight answered (cut after `graceMs`, default
   * DRAIN_GRACE_MS), then jobs, request log, queues and database closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** How long a stopping member waits for requests in flight; the process exits within SHUTDOWN_LIMIT_MS (stop-on-signals). */
export const DRAIN_GRACE_MS = 8_000;

/** Fields that must never be written out, should one ever be logged by mistake. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'password',
  'keyPassword',
  'token',
  'bindPassword',
  'credentials',
  '*.authorization',
  '*.bindPassword',
  '*.credentials',
  '*.password',
  '*.keyPassword',
  '*.token',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  // Secrets never reach the logger; redaction is a second fence.
  const opts = { level, redact: REDACT, base: { app: 'openrms-server' } };
  return destination ? pino(opts, destination) : pino(opts);
}

export interface ServerExtras {
  /** The /metrics bearer token; RMS_METRICS_TOKEN when not given. */
  metrics?: MetricsConfig;
  /** Redis of the BullMQ queues: dashboard, queue metrics and a readiness check. Without it jobs run in-process. */
  queues?: { redisUrl: string; prefix?: string };
  /** A server already listening (`serve --setup`): it is handed this member's app instead of a new socket being opened. */
  server?: Server;
  /** Without Redis, run the SLC renewal and expiry sweep here (default); false: a supervisor runs them. */
  inProcessJobs?: boolean;
  /** Under a supervisor: /metrics sums every worker (see createApp). */
  metricsBridge?: Parameters<typeof createApp>[0]['metricsBridge'];
}

/**
 * Opens the database, unwraps the cluster key (a wrong password fails here, before any socket is
 * opened) and starts listening. Resolves once the server accepts connections.
 */
export async function startServer(config: ServerConfig, logger: Logger = createLogger(config.logLevel), extras: ServerExtras = {}): Promise<RunningServer> {
  // metrics-token-env (config.metrics) when set; else RMS_METRICS_TOKEN.
  const metricsConfig = extras.metrics ?? config.metrics ?? loadMetricsConfig();
  let negotiate: KerberosNegotiateAcceptor | undefined;
  if (config.kerberos) {
    // Before any socket and any database: a missing keytab is a start-up error, not a 401 later.
    useKerberosAcceptorKeytab(config.kerberos.keytab, config.kerberos.krb5Config);
    negotiate = new KerberosNegotiateAcceptor({ keytab: config.kerberos.keytab, spn: config.kerberos.spn });
    // Proves the keytab holds the SPN now, not on the first client's request.
    await negotiate.check();
  }
  const store: Store = await openStore(config.databaseUrl, { migrate: false });
  let runtime: ClusterRuntime;
  const directoryErrors = rateLimitedLog(logger, 10_000);
  try {
    runtime = await ClusterRuntime.open({
      store,
      keyPassword: config.keyPassword,
      serverName: config.serverName,
      authSchemes: config.authSchemes,
      ...(negotiate ? { negotiate } : {}),
      ...(config.kerberos ? { kerberosRealm: config.kerberos.realm } : {}),
      directoryFactory: (c) => new LdapDirectory(c),
      stateDir: config.stateDir,
      peerMembership: (peer, q) => askPeer(peer.url, peer.credentials, q, { timeoutMs: 10_000 }),
      hooks: {
        onRequestLogError: (err, stats) => logger.warn({ err: (err as Error)?.message, ...stats }, 'request log write failed; rows kept for retry'),
        onRequestLogDrop: (count, stats) => logger.error({ count, ...stats }, 'request log queue full: oldest rows dropped'),
        onDirectoryError: (reason) => directoryErrors({ reason }, 'directory call failed'),
        onDirectoryChange: (description) => logger.info({ directory: description }, 'directory connection'),
        onRequestLogRecovered: (count) => logger.warn({ count }, 'request-log rows of an earlier run that never reached the database were written now'),
        onPeerError: (domain, reason) => directoryErrors({ peer: domain, reason }, 'group expansion peer did not answer'),
      },
    });
  } catch (e) {
    await store.close();
    throw e;
  }
  // --redis / RMS_REDIS_URL: workers run the jobs and this member only watches the queues.
  const queueTarget = extras.queues ?? (config.jobs.redisUrl ? { redisUrl: config.jobs.redisUrl, ...(config.jobs.prefix ? { prefix: config.jobs.prefix } : {}) } : undefined);
  const jobsMode = queueTarget ? 'redis' : 'in-process';
  const queues: ServerQueues | undefined = queueTarget ? openServerQueues({ ...queueTarget, logger }) : undefined;
  // Failed sign-ons are counted cluster-wide through Redis when this member has it, else per member.
  const signOnThrottle = createSignOnThrottle({ redisUrl: queueTarget?.redisUrl, prefix: queueTarget?.prefix });
  const admission = new Admission(config.admission);
  const app = createApp({ runtime, store, routes: soapRoutes(runtime, { maxBodyBytes: config.maxBodyBytes, logger }),
    forwards: rootForwards(runtime), maxBodyBytes: config.maxBodyBytes, logger, jobs: jobsMode, signOnThrottle, admission,
    ...(metricsConfig.token ? { metricsToken: metricsConfig.token } : {}), ...(queues ? { queues } : {}),
    ...(extras.metricsBridge ? { metricsBridge: extras.metricsBridge } : {}) });
  // Negotiate tokens of people in many groups reach 64 KiB (a Kerberos PAC); Node's default header cap is 16 KiB.
  const serverOptions = { maxHeaderSize: 80 * 1024 };
  const server: Server = extras.server ?? (config.tls ? createHttpsServer({ ...serverOptions, cert: config.tls.cert, key: config.tls.key }, app) : createHttpServer(serverOptions, app));
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  // Longer than a balancer's or a client's idle timeout (HAProxy's is 60 s here; Node's fetch keeps
  // 4 s), so the other side closes an idle connection first and never reuses one we are closing.
  server.keepAliveTimeout = 65_000;
  if (extras.server) {
    // The set-up app steps aside: the next request on any connection reaches this member's app.
    server.removeAllListeners('request');
    server.on('request', app);
  }
  try {
    if (!extras.server) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.listen.port, config.listen.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
  } catch (e) {
    await queues?.close();
    await signOnThrottle.close();
    throw e;
  }
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${addr.port}`;
  logger.info({ url, cluster: runtime.cluster.id, kind: runtime.cluster.kind, server: runtime.serverId, auth: config.authSchemes, ...(config.kerberos ? { spn: config.kerberos.spn } : {}) }, 'OpenRMS server listening');
  let inProcessJobs: InProcessJobs | undefined;
  if (jobsMode === 'in-process' && extras.inProcessJobs !== false) {
    inProcessJobs = startInProcessJobs({ store, keyPassword: config.keyPassword, jobs: config.jobs, logger, serverName: config.serverName, onRenewed: () => runtime.refresh(), renew: (o) => runtime.renewSlcIfDue(o), publishRevocationList: () => runtime.publishRevocationList() });
    logger.info({ jobs: 'in-process', renewalEveryMs: config.jobs.renewalEveryMs, expiryEveryMs: config.jobs.expiryEveryMs }, 'no Redis configured: this server runs the SLC renewal and expiry sweep itself');
  } else if (jobsMode === 'redis' && extras.inProcessJobs !== false) {
    logger.info({ jobs: 'redis' }, 'Redis configured: `rmsctl worker` processes run the SLC renewal and expiry sweep');
  }
  return {
    url,
    runtime,
    async close(graceMs = DRAIN_GRACE_MS) {
      // Stop accepting first and answer what is in flight while the runtime and store still work.
      const { forced } = await drainHttpServer(server, graceMs);
      if (forced) logger.warn({ graceMs }, 'requests still running after the drain period were cut off');
      await inProcessJobs?.close();
      await runtime.close();
      await queues?.close();
      await signOnThrottle.close();
      await store.close();
    },
  };
}
