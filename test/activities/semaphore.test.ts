/** The worker's limit on credit requests in flight. */
import { Semaphore } from '../../src/activities/semaphore';

it('lets at most `limit` run at once, in the order they asked, and frees a slot when one fails', async () => {
  const slots = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const task = (i: number) =>
    slots.run(async () => {
      running += 1;
      peak = Math.max(peak, running);
      order.push(i);
      await new Promise((r) => setTimeout(r, 5));
      running -= 1;
      if (i === 3) throw new Error('refused');
      return i;
    });
  const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(task));
  expect(peak).toBe(2);
  expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  expect(results.map((r) => r.status)).toEqual([
    'fulfilled',
    'fulfilled',
    'fulfilled',
    'rejected',
    'fulfilled',
    'fulfilled',
  ]);
  expect(await slots.run(async () => 'free again')).toBe('free again');
});
