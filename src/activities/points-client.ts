/** The loyalty points API client: one HTTP attempt, its answer classified per the contract. */

export type CreditAnswer =
  | { kind: 'CREDITED'; creditId: string; replay: boolean }
  | { kind: 'REJECTED'; status: number; detail: string }
  /** `retryAfterMs`: how long the API asked us to wait (its `Retry-After`), when it said. */
  | { kind: 'UNAVAILABLE'; detail: string; retryAfterMs?: number };

const NON_RETRYABLE = new Set([400, 404, 409, 422]);

export interface CreditRequest {
  memberId: string;
  campaignId: string;
  points: number;
  idempotencyKey: string;
}

export async function requestCredit(baseUrl: string, timeoutMs: number, req: CreditRequest): Promise<CreditAnswer> {
  let res: Response;
  try {
    res = await fetch(new URL('/v1/credits', baseUrl), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': req.idempotencyKey },
      body: JSON.stringify({
        memberId: req.memberId,
        campaignId: req.campaignId,
        points: req.points,
        reason: 'COLD_MEMBER_ACTIVATION',
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const detail =
      e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `${e.cause?.code ?? e.name}: ${e.message}`;
    return { kind: 'UNAVAILABLE', detail };
  }
  const text = await res.text().catch(() => '');
  if (res.status === 200 || res.status === 201) {
    let creditId: unknown;
    try {
      creditId = (JSON.parse(text) as { creditId?: unknown }).creditId;
    } catch {
      // fall through: a success without a credit id is treated as a transient fault below
    }
    if (typeof creditId === 'string' && creditId.length > 0) {
      return { kind: 'CREDITED', creditId, replay: res.status === 200 };
    }
    return { kind: 'UNAVAILABLE', detail: `HTTP ${res.status} without a creditId` };
  }
  const detail = `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
  if (NON_RETRYABLE.has(res.status)) return { kind: 'REJECTED', status: res.status, detail };
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
  return { kind: 'UNAVAILABLE', detail, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

/** `Retry-After` (RFC 9110): delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
