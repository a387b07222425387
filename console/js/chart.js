// A time-series line chart (uPlot) that follows its container's width.

import uPlot from '../vendor/uplot/uPlot.esm.js';

const HEIGHT = 180;

/**
 * Draws `column` ({xs: seconds[], ys: number[]}) into `host`. Returns {update(column), destroy()}.
 */
export function lineChart(host, { label, unit, column, colour = '#2563eb' }) {
  const width = Math.max(240, host.clientWidth || 600);
  const opts = {
    width,
    height: HEIGHT,
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    series: [{}, { label: unit ? `${label} (${unit})` : label, stroke: colour, width: 1.5, fill: `${colour}14`, spanGaps: false, points: { show: false } }],
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
