/**
 * The wedge's recovery (`npm run bench -- wedge`): the slow-database scenario of test/workflows/slow-database.test.ts
 * (test/support/wedge.ts) at a larger size, with production's 40 workflow task slots: members keep hearing loads while
 * the worker's PostgreSQL (behind a delay proxy) stalls three times for 9.5 s, then answers 2.5 s late for 30 s. In the
 * same run, on the same servers (the stack of `npm start` without its worker, in this process), the member workflow as
 * it is and as it was before the patch safe-seams, both bundled the same way (test/replay/derived-workflows.ts): the
 * recovery time (the database healthy again → every member's stored view counts everything it was sent) and what the
 * workflow tasks went through (the longest, timed out, failed by cause).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { putCampaign } from '../src/db/campaigns';
import { createPool } from '../src/db/pool';
import { repoRoot } from '../src/dev/tools';
import type { CampaignTerms } from '../src/domain/terms';
import { bundleMemberWorkflow, type Variant } from '../test/replay/derived-workflows';
import { startDelayProxy } from '../test/support/delay-proxy';
import { startTestStack } from '../test/support/stack';
import { slowDatabaseScenario, WEDGE_TEST_SIZE, type WedgeResult, type WedgeSize } from '../test/support/wedge';
import { say, settle } from './lib/common';

export type WedgeOptions = WedgeSize;

export const WEDGE_DEFAULTS: WedgeOptions = {
  ...WEDGE_TEST_SIZE,
  members: 300,
  slots: 40,
  recoveryCapMs: 300_000,
};

export const WEDGE_QUICK: WedgeOptions = {
  members: 10,
  slots: 4,
  warmupMs: 1_000,
  stalls: 1,
  stallMs: 1_500,
  betweenStallsMs: 500,
  lateMs: 500,
  lateForMs: 2_000,
  roundMs: 500,
  recoveryCapMs: 60_000,
};

const CAMPAIGN: CampaignTerms = {
  campaignId: 'bench-wedge',
  targetCents: 50_000,
  rewardPoints: 2_000,
  window: 'P30D',
  grace: 'PT48H',
  currency: 'AUD',
};

/** The code measured: the member workflow as it is, and before the patch safe-seams. */
const VARIANTS: { variant: Variant; label: string; prefix: string }[] = [
  { variant: 'current', label: 'current', prefix: 'now' },
  { variant: 'before-safe-seams', label: 'before safe-seams', prefix: 'before' },
];

export interface WedgeRun extends WedgeResult {
  code: string;
}

export interface WedgeBenchResult {
  runs: WedgeRun[];
}

export async function measureWedge(o: WedgeOptions): Promise<WedgeBenchResult> {
  const under = path.join(repoRoot(), 'dist-bench', 'bundles');
  mkdirSync(under, { recursive: true });
  const bundles: string[] = [];
  for (const v of VARIANTS) {
    say(`wedge: bundling the member workflow (${v.label})…`);
    bundles.push(await bundleMemberWorkflow(v.variant, under));
  }
  say('wedge: starting the stack without its worker, and a proxy in front of its PostgreSQL…');
  const stack = await startTestStack({}, { worker: false });
  const direct = createPool(stack.databaseUrl, 4);
  const url = new URL(stack.databaseUrl);
  const proxy = await startDelayProxy({ host: url.hostname, port: Number(url.port) });
  url.port = String(proxy.port);
  // The worker's pool, as the production worker's (src/workers/main.ts).
  const slow = createPool(url.toString());
  const connection = await NativeConnection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
  const runs: WedgeRun[] = [];
  try {
    await putCampaign(direct, CAMPAIGN);
    for (const [i, v] of VARIANTS.entries()) {
      await settle();
      say(`wedge: ${o.members} members, ${o.slots} workflow task slots, on the code ${v.label}…`);
      const r = await slowDatabaseScenario(
        { client, connection, direct, slow, proxy, campaign: CAMPAIGN },
        bundles[i],
        v.prefix,
        o,
      );
      runs.push({ code: v.label, ...r });
      say(
        `wedge (${v.label}): ${r.caught}/${r.members} caught up ${r.recoverySeconds} s after the database recovered; ` +
          `longest task ${r.shapes.longestTaskMs} ms, ${r.shapes.timedOutTasks} timed out, failed ` +
          JSON.stringify(r.shapes.failedTasks),
      );
    }
  } finally {
    await client.connection.close();
    await connection.close();
    await slow.end();
    await proxy.close();
    await direct.end();
    await stack.destroy();
  }
  return { runs };
}
