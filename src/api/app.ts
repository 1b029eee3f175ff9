/** The HTTP edge: `createApp(deps)` builds the express app; `main.ts` listens and shuts down. */
import express, { type Request } from 'express';
import { pinoHttp } from 'pino-http';
import type { Registry } from 'prom-client';
import type { MemberView } from '../domain/view';
import type { Logger } from '../logger';
import { httpServerSpans } from '../telemetry/http';
import { RETRY_AFTER_SECONDS } from './dependencies';
import { ApiError, CallerGone, errorBody, errorHandler, logFailure, parse, toApiError, unknownRoute } from './errors';
import {
  createHttpMetrics,
  registerCampaignGauges,
  registerDependencyGauge,
  registerReconcileGauges,
  registerStreamsGauge,
} from './metrics';
import { buildOpenApiDocument } from './openapi';
import * as s from './schemas';
import type { Service } from './service';

export interface AppDeps {
  service: Service;
  logger: Logger;
  metricsRegistry?: Registry;
  /** The Temporal SDK's metrics, served after the app's on /metrics (see telemetry/temporal.ts). */
  sdkMetrics?: () => Promise<string>;
  /** REPORT_METRICS_MAX_AGE: how old the campaign figures on /metrics may get (default 30 s). */
  reportMetricsMaxAgeMs?: number;
  /** EVENTS_HEARTBEAT: a comment line this often keeps proxies from closing an idle member stream (default 15 s). */
  eventsHeartbeatMs?: number;
  /** EVENTS_MAX_STREAMS: member streams one API instance holds open at most (default 10,000). */
  eventsMaxStreams?: number;
}

/** The backtest's streamed answer: a JSON object a line (progress, then the result). */
const NDJSON = 'application/x-ndjson';
/** The reconnection delay a member stream asks of its EventSource. */
const EVENTS_RETRY_MS = 2_000;
/** How often a streamed backtest reports progress at most. */
const PROGRESS_EVERY_MS = 250;

/** JSON bodies only, up to 1 MiB (settlement files have their own route). */
const JSON_LIMIT = '1mb';

const callerId = (req: Request): string | undefined => req.get('x-caller-id') ?? undefined;

/** The request's media type, without parameters (`req.is` answers null for an empty body, whatever its type). */
const mediaType = (req: Request): string => (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();

/** Only these methods take a body here; a GET with one is answered as if it had none. */
const takesBody = (req: Request): boolean => req.method === 'POST' || req.method === 'PUT';

export function createApp({
  service,
  logger,
  metricsRegistry,
  sdkMetrics,
  reportMetricsMaxAgeMs,
  eventsHeartbeatMs = 15_000,
  eventsMaxStreams = 10_000,
}: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const metrics = createHttpMetrics(metricsRegistry, sdkMetrics);
  registerCampaignGauges(metrics.registry, () => service.campaignReports(), reportMetricsMaxAgeMs);
  registerDependencyGauge(metrics.registry, () => service.ready());
  registerStreamsGauge(metrics.registry, () => service.followers());
  registerReconcileGauges(metrics.registry, () => service.reconciliations());
  const openApi = buildOpenApiDocument();

  // First: everything after it, Temporal client calls included, runs inside the request's span.
  app.use(httpServerSpans());
  app.use(metrics.middleware);
  app.use(pinoHttp({ logger, autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' } }));
  // Before any body is looked at: a method the path does not have is answered as such, whatever the body.
  app.use(methodNotAllowed(openApi.paths ?? {}));
  // Settlement files are streamed straight into PostgreSQL: no body parser, no size limit.
  app.post('/v1/settlements', async (req, res) => {
    if (mediaType(req) !== 'text/csv') {
      req.resume();
      throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the settlement file as text/csv');
    }
    const key = req.get('idempotency-key');
    const idempotencyKey = key === undefined ? undefined : parse(s.BatchId, key, 'header');
    const submittedBy = callerId(req);
    const { created, body } = await service.submitSettlement(req, {
      ...(idempotencyKey ? { idempotencyKey } : {}),
      ...(submittedBy ? { submittedBy } : {}),
    });
    res.status(created ? 202 : 200).json(body);
  });

  const jsonParser = express.json({ limit: JSON_LIMIT, type: ['application/json', 'application/*+json'] });
  app.use((req, res, next) => (takesBody(req) ? jsonParser(req, res, next) : next()));
  app.use((req, _res, next) => {
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (takesBody(req) && hasBody && !req.is(['application/json', 'application/*+json'])) {
      return next(new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json'));
    }
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await service.ready();
    const ok = checks.postgres && checks.temporal;
    if (!ok) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.render());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  app.put('/v1/campaigns/:campaignId', async (req, res) => {
    const { campaignId } = parse(s.CampaignPath, req.params, 'path');
    const terms = parse(s.CampaignTermsBody, req.body ?? {}, 'body');
    const result = await service.putCampaign({ campaignId, ...terms });
    if (result.outcome === 'CONFLICT') {
      throw new ApiError(409, 'CAMPAIGN_TERMS_IMMUTABLE', `campaign ${campaignId} exists with other terms`, [
        { existing: result.campaign },
      ]);
    }
    res.status(result.outcome === 'CREATED' ? 201 : 200).json(result.campaign);
  });

  app.get('/v1/campaigns/:campaignId', async (req, res) => {
    const { campaignId } = parse(s.CampaignPath, req.params, 'path');
    res.json(await service.getCampaign(campaignId));
  });

  app.post('/v1/campaigns/:campaignId/enrollments', async (req, res) => {
    const { campaignId } = parse(s.CampaignPath, req.params, 'path');
    const body = parse(s.EnrollmentBody, req.body ?? {}, 'body');
    const { created, enrollment } = await service.enroll(campaignId, body.memberId, body.enrolledAt);
    res.status(created ? 201 : 200).json(enrollment);
  });

  app.get('/v1/campaigns/:campaignId/members/:memberId', async (req, res) => {
    const { campaignId, memberId } = parse(s.MemberPath, req.params, 'path');
    res.json(memberBody(await service.getMember(campaignId, memberId)));
  });

  /**
   * The member view live, as Server-Sent Events: the view as it stands (unless the caller's Last-Event-ID already is
   * its version), then each newer version as PostgreSQL reports the change (api/live.ts). `id` is the view's version.
   * With `maxSeconds`, the stream ends by itself after that long.
   */
  const streams = new Set<express.Response>();
  app.get('/v1/campaigns/:campaignId/members/:memberId/events', async (req, res) => {
    const { campaignId, memberId } = parse(s.MemberPath, req.params, 'path');
    const header = parse(s.LastEventIdHeader, { lastEventId: req.get('last-event-id') }, 'header');
    // Checked even when the header is there (and wins): bad input is a 400, wherever it is.
    const query = parse(s.MemberEventsQuery, req.query, 'query');
    const lastEventId = header.lastEventId ?? query.lastEventId;
    if (service.followers() >= eventsMaxStreams) {
      throw new ApiError(429, 'TOO_MANY_STREAMS', `this API instance holds ${eventsMaxStreams} member streams open`);
    }
    const open = () => {
      if (res.headersSent) return;
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        // Proxies that buffer (nginx) must pass each event on at once.
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      // How long an EventSource waits before it reconnects (with Last-Event-ID) when the stream breaks.
      res.write(`retry: ${EVENTS_RETRY_MS}\n\n`);
    };
    const unfollow = await service.follow(campaignId, memberId, {
      version: lastEventId ?? -1,
      send: (view) => {
        open();
        res.write(`id: ${view.version}\nevent: member\ndata: ${JSON.stringify(memberBody(view))}\n\n`);
      },
    });
    // The caller hung up while the stream was being set up.
    if (req.socket.destroyed) return unfollow();
    open();
    streams.add(res);
    const heartbeat = setInterval(() => res.write(`: heartbeat ${new Date().toISOString()}\n\n`), eventsHeartbeatMs);
    const ending = query.maxSeconds === undefined ? undefined : setTimeout(() => res.end(), query.maxSeconds * 1_000);
    res.on('close', () => {
      clearInterval(heartbeat);
      clearTimeout(ending);
      unfollow();
      streams.delete(res);
    });
  });
  // The host's shutdown (api/server.ts) ends every stream at once, and closes the listening connection.
  app.locals.onClose = [
    async () => {
      for (const res of streams) res.end();
      await service.close();
    },
  ];

  app.get('/v1/campaigns/:campaignId/members/:memberId/explanation', async (req, res) => {
    const { campaignId, memberId } = parse(s.MemberPath, req.params, 'path');
    res.json(await service.explain(campaignId, memberId));
  });

  app.get('/v1/campaigns/:campaignId/members/:memberId/proof', async (req, res) => {
    const { campaignId, memberId } = parse(s.MemberPath, req.params, 'path');
    res.json(await service.prove(campaignId, memberId));
  });

  app.get('/v1/campaigns/:campaignId/proofs', async (req, res) => {
    const { campaignId } = parse(s.CampaignPath, req.params, 'path');
    const query = parse(s.ProofsQuery, req.query, 'query');
    res.json(await service.proveCampaign(campaignId, query));
  });

  /**
   * A long read of a whole campaign, answered as JSON at the end, or with Accept: application/x-ndjson as a progress
   * line per page and then the result (a failure under way is the stream's last line). A caller that hangs up stops
   * the work at the next page.
   */
  const longRead =
    <P extends { done: number; total: number }, R>(
      run: (req: Request, opts: { signal: AbortSignal; onProgress?: (p: P) => void }) => Promise<R>,
    ): express.RequestHandler =>
    async (req, res) => {
      const abandoned = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) abandoned.abort();
      });
      const streamed = req.accepts(['application/json', NDJSON]) === NDJSON;
      try {
        if (!streamed) {
          res.json(await run(req, { signal: abandoned.signal }));
          return;
        }
        const frame = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
        let last = { at: 0, done: -1 };
        const result = await run(req, {
          signal: abandoned.signal,
          onProgress: (progress) => {
            // The first progress comes once the campaign is found and counted: the answer is 200 from here on.
            if (!res.headersSent) res.status(200).type(NDJSON);
            const now = Date.now();
            const due = last.done < 0 || progress.done === progress.total || now - last.at >= PROGRESS_EVERY_MS;
            if (due && progress.done !== last.done) {
              last = { at: now, done: progress.done };
              frame({ progress });
            }
          },
        });
        frame({ result });
        res.end();
      } catch (err) {
        if (err instanceof CallerGone) return;
        if (!res.headersSent) throw err;
        // Under way: the failure is the stream's last line, in the contract's error shape.
        logFailure(logger, err, toApiError(err), req);
        res.end(`${JSON.stringify(errorBody(err))}\n`);
      }
    };

  app.post(
    '/v1/campaigns/:campaignId/backtest',
    longRead((req, opts) => {
      const { campaignId } = parse(s.CampaignPath, req.params, 'path');
      return service.backtest(campaignId, parse(s.BacktestBody, req.body ?? {}, 'body'), opts);
    }),
  );

  app.post(
    '/v1/campaigns/:campaignId/ledgers/repair',
    longRead((req, opts) => service.repairLedgers(parse(s.CampaignPath, req.params, 'path').campaignId, opts)),
  );

  app.post(
    '/v1/campaigns/:campaignId/reconcile',
    longRead((req, opts) => {
      const { campaignId } = parse(s.CampaignPath, req.params, 'path');
      return service.reconcile(campaignId, parse(s.ReconcileBody, req.body ?? {}, 'body'), opts);
    }),
  );

  app.post('/v1/campaigns/:campaignId/members/:memberId/cancel', async (req, res) => {
    const { campaignId, memberId } = parse(s.MemberPath, req.params, 'path');
    const body = parse(s.CancelBody, req.body ?? {}, 'body');
    const requestedBy = callerId(req);
    const view = await service.cancel(campaignId, memberId, { ...body, ...(requestedBy ? { requestedBy } : {}) });
    res.json(memberBody(view));
  });

  app.post('/v1/campaigns/:campaignId/members/:memberId/schedule', async (req, res) => {
    const { campaignId, memberId } = parse(s.MemberPath, req.params, 'path');
    const body = parse(s.ScheduleChangeBody, req.body ?? {}, 'body');
    const key = req.get('idempotency-key');
    const idempotencyKey = key === undefined ? undefined : parse(s.IdempotencyKey, key, 'header');
    const requestedBy = callerId(req);
    const view = await service.changeSchedule(
      campaignId,
      memberId,
      { ...body, ...(requestedBy ? { requestedBy } : {}) },
      idempotencyKey ? { idempotencyKey } : {},
    );
    res.json(memberBody(view));
  });

  app.post('/v1/operations', async (req, res) => {
    const body = parse(s.OperationBody, req.body ?? {}, 'body');
    const key = req.get('idempotency-key');
    const idempotencyKey = key === undefined ? undefined : parse(s.OperationId, key, 'header');
    const requestedBy = callerId(req);
    const { created, body: answer } = await service.startOperation(
      { ...body, ...(requestedBy ? { requestedBy } : {}) },
      idempotencyKey ? { idempotencyKey } : {},
    );
    res.status(body.dryRun ? 200 : created ? 202 : 200).json(answer);
  });

  app.get('/v1/operations/:operationId', async (req, res) => {
    const { operationId } = parse(s.OperationPath, req.params, 'path');
    res.json(await service.getOperation(operationId));
  });

  app.post('/v1/transactions', async (req, res) => {
    const tx = parse(s.TransactionBody, req.body ?? {}, 'body');
    res.status(202).json(await service.postTransaction(tx));
  });

  app.get('/v1/settlements/:batchId', async (req, res) => {
    const { batchId } = parse(s.BatchPath, req.params, 'path');
    res.json(await service.settlementReport(batchId));
  });

  app.get('/v1/campaigns/:campaignId/report', async (req, res) => {
    const { campaignId } = parse(s.CampaignPath, req.params, 'path');
    res.json(await service.campaignReport(campaignId));
  });

  app.get('/v1/reviews', async (req, res) => {
    const query = parse(s.ReviewsQuery, req.query, 'query');
    res.json({ items: await service.listReviews(query) });
  });

  app.post('/v1/reviews/:id/resolve', async (req, res) => {
    const { id } = parse(s.ReviewPath, req.params, 'path');
    const body = parse(s.ResolveBody, req.body ?? {}, 'body');
    const resolvedBy = callerId(req);
    res.json(await service.resolveReview(id, { ...body, ...(resolvedBy ? { resolvedBy } : {}) }));
  });

  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}

/**
 * A known path asked with a method it does not have: 405 with the methods it has in `Allow` (and OPTIONS answered
 * with them), rather than a 404 that says the resource does not exist. The document is the list of routes.
 */
function methodNotAllowed(paths: Record<string, object>): express.RequestHandler {
  const routes = Object.entries(paths).map(([template, operations]) => {
    const methods = Object.keys(operations).map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    return { pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}/?$`), allow: [...methods, 'OPTIONS'] };
  });
  return (req, res, next) => {
    const route = routes.find((r) => r.pattern.test(req.path));
    if (!route || (req.method !== 'OPTIONS' && route.allow.includes(req.method))) return next();
    res.set('Allow', route.allow.join(', '));
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next(
      new ApiError(
        405,
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on ${req.path} (${route.allow.join(', ')})`,
      ),
    );
  };
}

/** The member view exactly as the contract lists it. */
function memberBody(v: MemberView) {
  return {
    campaignId: v.campaignId,
    memberId: v.memberId,
    // A view answered by a run on code older than holdouts has no group: its member was treated.
    group: v.group ?? 'TREATMENT',
    state: v.state,
    enrolledAt: v.enrolledAt,
    windowEndsAt: v.windowEndsAt,
    evaluatesAt: v.evaluatesAt,
    targetCents: v.targetCents,
    countedCents: v.countedCents,
    instantCents: v.instantCents,
    settledCents: v.settledCents,
    pendingCents: v.pendingCents,
    remainingCents: v.remainingCents,
    ...(v.disqualifiedBy ? { disqualifiedBy: v.disqualifiedBy } : {}),
    ...(v.reward
      ? {
          reward: {
            status: v.reward.status,
            points: v.reward.points,
            idempotencyKey: v.reward.idempotencyKey,
            ...(v.reward.creditId ? { creditId: v.reward.creditId } : {}),
            ...(v.reward.issuedAt ? { issuedAt: v.reward.issuedAt } : {}),
            ...(v.reward.failure ? { failure: v.reward.failure } : {}),
          },
        }
      : {}),
    ...(v.scheduleChanges?.length ? { scheduleChanges: v.scheduleChanges } : {}),
    updatedAt: v.updatedAt,
  };
}
