// chart.js — the sparkline of recent compound scores, drawn as inline SVG.

import { formatScore, svg } from "./render.js";

const WIDTH = 320;
const HEIGHT = 64;
const PADDING = 6;
/** How many of the most recent scores the sparkline shows. */
const SPARKLINE_POINTS = 40;

/** Maps a score in -1..+1 to a y coordinate (+1 at the top). */
function yFor(score) {
  const clamped = Math.min(Math.max(score, -1), 1);
  return PADDING + ((1 - clamped) / 2) * (HEIGHT - 2 * PADDING);
}

/**
 * Draws `scores` (oldest first) into `container`. With fewer than two scores
 * there is no trend to draw, so it says so in words instead.
 */
export function renderSparkline(container, scores) {
  container.replaceChildren();
  const recent = scores.slice(-SPARKLINE_POINTS);
  if (recent.length < 2) {
    const empty = document.createElement("p");
    empty.className = "trend__empty";
    empty.textContent = "Analyse two or more texts to see a trend.";
    container.append(empty);
    return;
  }

  const step = (WIDTH - 2 * PADDING) / (recent.length - 1);
  const points = recent.map((score, index) => [PADDING + index * step, yFor(score)]);
  const line = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  const last = recent[recent.length - 1];
  const average = recent.reduce((sum, score) => sum + score, 0) / recent.length;

  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "sparkline",
    role: "img",
    "aria-label": `${recent.length} recent scores, latest ${formatScore(last)}, average ${formatScore(average)}`,
    preserveAspectRatio: "none",
  });
  const zeroY = yFor(0);
  const area = `${PADDING},${zeroY} ${line} ${points[points.length - 1][0].toFixed(1)},${zeroY}`;
  chart.append(
    svg("rect", { class: "sparkline__band sparkline__band--positive", x: 0, y: 0, width: WIDTH, height: zeroY }),
    svg("rect", { class: "sparkline__band sparkline__band--negative", x: 0, y: zeroY, width: WIDTH, height: HEIGHT - zeroY }),
    svg("line", { class: "sparkline__zero", x1: 0, x2: WIDTH, y1: zeroY, y2: zeroY }),
    svg("polygon", { class: "sparkline__area", points: area }),
    svg("polyline", { class: "sparkline__line", points: line, "vector-effect": "non-scaling-stroke" }),
  );
  container.append(chart);
}
