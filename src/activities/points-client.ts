/** The loyalty points API client: one HTTP attempt, its answer classified per the contract. */

export type CreditAnswer =
  | { kind: 'CREDITED'; creditId: string; replay: boolean }
  | { kind: 'REJECTED'; status: number; detail: string }
  | { kind: 'UNAVAILABLE'; detail: string };

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
  return NON_RETRYABLE.has(res.status)
    ? { kind: 'REJECTED', status: res.status, detail }
    : { kind: 'UNAVAILABLE', detail };
}
