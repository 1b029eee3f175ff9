/** The push channel client: one POST of a notification to NOTIFY_URL; any 2xx is delivery (contract). */
import type { NotificationMessage } from '../domain/records';

export type PushAnswer = { delivered: true } | { delivered: false; error: string };

export async function pushNotification(
  url: string,
  message: NotificationMessage,
  timeoutMs: number,
): Promise<PushAnswer> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        id: message.id,
        type: message.type,
        memberId: message.memberId,
        campaignId: message.campaignId,
        occurredAt: message.occurredAt,
        data: message.data,
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? { delivered: true } : { delivered: false, error: `HTTP ${res.status}` };
  } catch (err) {
    return { delivered: false, error: err instanceof Error ? err.message : String(err) };
  }
}
