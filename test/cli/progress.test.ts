/** The settle progress bar: rate, ETA, the line, and when it is written. No terminal, no real clock. */
import {
  BYTES,
  etaSeconds,
  formatBar,
  formatDuration,
  formatProgress,
  percent,
  ProgressDisplay,
  ProgressMeter,
  ratePerSecond,
  RECORDS,
} from '../../src/cli/progress';

describe('rate and ETA', () => {
  it('measures units per second between the oldest and the newest sample', () => {
    expect(ratePerSecond([])).toBeUndefined();
    expect(ratePerSecond([{ at: 0, done: 0 }])).toBeUndefined();
    expect(
      ratePerSecond([
        { at: 0, done: 0 },
        { at: 1_000, done: 300 },
        { at: 2_000, done: 1_000 },
      ]),
    ).toBe(500);
    expect(
      ratePerSecond([
        { at: 5, done: 0 },
        { at: 5, done: 10 },
      ]),
    ).toBeUndefined();
  });

  it('knows the time left only while there is progress', () => {
    expect(etaSeconds(250, 1_000, 50)).toBe(15);
    expect(etaSeconds(250, 1_000, undefined)).toBeUndefined();
    expect(etaSeconds(250, 1_000, 0)).toBeUndefined();
    expect(etaSeconds(1_000, 1_000, undefined)).toBe(0);
  });

  it('forgets samples older than the window, so the rate follows the current speed', () => {
    const meter = new ProgressMeter(10_000);
    meter.record(0, 0);
    meter.record(10_000, 5_000); // 2,000/s at first
    meter.record(10_000, 15_000); // then a stall
    meter.record(10_000, 25_000);
    expect(meter.rate()).toBe(0);
    expect(meter.eta(20_000)).toBeUndefined();
    meter.record(15_000, 30_000);
    expect(meter.rate()).toBeCloseTo(333.333);
    expect(meter.eta(20_000)).toBeCloseTo(15);
  });
});

describe('formatting', () => {
  it('writes durations like terminals do', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(7.2)).toBe('0:08');
    expect(formatDuration(245)).toBe('4:05');
    expect(formatDuration(3_723)).toBe('1:02:03');
  });

  it('rounds percent down, so 100% means done', () => {
    expect(percent(0, 10)).toBe(0);
    expect(percent(999, 1_000)).toBe(99);
    expect(percent(1_000, 1_000)).toBe(100);
    expect(percent(0, 0)).toBe(100);
  });

  it('fills the bar in proportion', () => {
    expect(formatBar(0, 100, 10)).toBe('[░░░░░░░░░░]');
    expect(formatBar(55, 100, 10)).toBe('[█████░░░░░]');
    expect(formatBar(100, 100, 10)).toBe('[██████████]');
    expect(formatBar(0, 0, 4)).toBe('[████]');
  });

  it('shows records processed of total, percent, rate and ETA', () => {
    const state = { label: 'settling', done: 4_500, total: 10_000, unit: RECORDS, rate: 1_234.4, eta: 4.5 };
    expect(formatProgress(state, { bar: false })).toBe(
      'settling:  45% 4,500/10,000 records · 1,234 records/s · ETA 0:05',
    );
    expect(formatProgress(state, { bar: true })).toBe(
      'settling [██████████░░░░░░░░░░░░░░]  45% 4,500/10,000 records · 1,234 records/s · ETA 0:05',
    );
    expect(formatProgress({ ...state, rate: undefined, eta: undefined }, { bar: false })).toBe(
      'settling:  45% 4,500/10,000 records · – records/s · ETA –:––',
    );
    expect(
      formatProgress(
        {
          label: 'uploading',
          done: 3 * 1024 * 1024,
          total: 12 * 1024 * 1024,
          unit: BYTES,
          rate: 1.5 * 1024 * 1024,
          eta: 6,
        },
        { bar: false },
      ),
    ).toBe('uploading:  25% 3.0/12.0 MB · 1.5 MB/s · ETA 0:06');
  });
});

describe('ProgressDisplay', () => {
  const target = (isTTY: boolean, columns?: number) => {
    const written: string[] = [];
    let now = 0;
    return {
      written,
      tick: (ms: number) => (now += ms),
      write: (text: string) => written.push(text),
      isTTY,
      columns,
      now: () => now,
    };
  };
  const at = (done: number) => ({ label: 'settling', done, total: 100, unit: RECORDS });

  it('redraws one line in place on a terminal and ends it once', () => {
    const t = target(true, 200);
    const display = new ProgressDisplay(t);
    display.update(at(10));
    t.tick(1_000);
    display.update(at(20));
    t.tick(1_000);
    display.update(at(100));
    display.finish();
    expect(t.written).toHaveLength(4);
    expect(t.written.slice(0, 3).every((w) => w.startsWith('\r') && !w.includes('\n'))).toBe(true);
    expect(t.written[2]).toContain('100/100 records');
    expect(t.written[3]).toBe('\n');
  });

  it('pads over a longer previous line and cuts lines to the terminal width', () => {
    const t = target(true, 40);
    const display = new ProgressDisplay(t);
    display.update({ ...at(10), rate: 1_000_000 });
    t.tick(1_000);
    display.update(at(20));
    expect(t.written[0]).toHaveLength(1 + 39);
    expect(t.written[1]).toHaveLength(1 + 39);
  });

  it('redraws a terminal at most every 100 ms, but always shows the end', () => {
    const t = target(true, 200);
    const display = new ProgressDisplay(t);
    display.update(at(10));
    t.tick(50);
    display.update(at(20));
    display.update(at(100));
    expect(t.written.map((w) => /(\d+)\/100/.exec(w)?.[1])).toEqual(['10', '100']);
  });

  it('writes plain lines at most every 2 s when stderr is not a terminal', () => {
    const t = target(false);
    const display = new ProgressDisplay(t);
    display.update(at(10));
    t.tick(1_000);
    display.update(at(20));
    t.tick(1_000);
    display.update(at(30));
    t.tick(1_999);
    display.update(at(40));
    display.finish();
    expect(t.written).toEqual([
      'settling:  10% 10/100 records · – records/s · ETA –:––\n',
      'settling:  30% 30/100 records · – records/s · ETA –:––\n',
    ]);
  });

  it('writes the final count to a log at once, and only once', () => {
    const t = target(false);
    const display = new ProgressDisplay(t);
    display.update(at(10));
    t.tick(500);
    display.update(at(100));
    t.tick(500);
    display.update(at(100));
    display.finish();
    expect(t.written.map((w) => /(\d+)\/100/.exec(w)?.[1])).toEqual(['10', '100']);
  });
});
