// A time-series line chart (uPlot) that follows its container's width.

import uPlot from '../vendor/uplot/uPlot.esm.js';

const HEIGHT = 180;

/** Below this many points in view, each point is marked (a line of a few points is hard to see). */
const MARK_POINTS_BELOW = 60;

/**
 * Draws `column` ({xs: seconds[], ys: number[]}) into `host`; the time axis always spans the
 * last `spanMs` up to now. Returns {update(column), destroy()}.
 */
export function lineChart(host, { label, unit, column, spanMs, colour = '#2563eb' }) {
  const width = Math.max(240, host.clientWidth || 600);
  const opts = {
    width,
    height: HEIGHT,
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true, range: () => [(Date.now() - spanMs) / 1000, Date.now() / 1000] } },
    series: [{}, { label: unit ? `${label} (${unit})` : label, stroke: colour, width: 1.5, fill: `${colour}14`, spanGaps: false, points: { show: (u, i, i0, i1) => i1 - i0 < MARK_POINTS_BELOW, size: 5 } }],
    axes: [{ stroke: '#5b6470', grid: { stroke: '#e6e9ee' } }, { stroke: '#5b6470', grid: { stroke: '#e6e9ee' }, size: 56 }],
  };
  const plot = new uPlot(opts, [column.xs, column.ys], host);
  const observer = new ResizeObserver(() => {
    const w = Math.max(240, host.clientWidth);
    if (w && Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: HEIGHT });
  });
  observer.observe(host);
  return {
    update(next) {
      plot.setData([next.xs, next.ys]);
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}
