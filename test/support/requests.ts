/** What end-to-end tests send and how they send a lot of it: request bodies and bounded parallelism. */

/** A real-time instant load of `memberId` (POST /v1/transactions), by default of A$600.00 moved now. */
export const loadBody = (memberId: string, transactionId: string, amountCents = 60_000, occurredAt?: string) => ({
  transactionId,
  memberId,
  kind: 'LOAD',
  amountCents,
  currency: 'AUD',
  channel: 'DEBIT_CARD',
  occurredAt: occurredAt ?? new Date().toISOString(),
});

/** Runs `fn` over `items`, `width` at a time. */
export async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]);
    }),
  );
}
