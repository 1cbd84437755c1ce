// A small SVG line chart of latency against batch size (both axes logarithmic).

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function latencyChart(series: Series[], title: string): string {
  const width = 720, height = 440;
  const left = 92, right = 170, top = 50, bottom = 60;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0);
  const xMin = Math.min(...xs), xMax = Math.max(...xs);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const px = (x: number) =>
    left + (Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin)) *
      (width - left - right);
  const py = (y: number) =>
    height - bottom - (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) *
      (height - top - bottom);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="Arial, Helvetica, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left}" y="28" font-size="15" font-weight="bold">${escape(title)}</text>`,
  );
  for (let y = yMin; y <= yMax; y *= 10) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e7eb"/>`,
      `<text x="${left - 8}" y="${py(y) + 4}" text-anchor="end">${
        y >= 1 ? y : y.toFixed(1)
      } ms</text>`,
    );
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    parts.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${top}" y2="${height - bottom}" stroke="#f3f4f6"/>`,
      `<text x="${px(x)}" y="${height - bottom + 18}" text-anchor="middle">${x}</text>`,
    );
  }
  parts.push(
    `<text x="${(left + width - right) / 2}" y="${height - 18}" text-anchor="middle">` +
      `candidates per request</text>`,
    `<text transform="translate(18 ${(top + height - bottom) / 2}) rotate(-90)" ` +
      `text-anchor="middle">p50 latency (log scale)</text>`,
  );
  series.forEach((s, i) => {
    const points = s.points.filter((p) => p.y > 0);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2.5" points="${
        points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")
      }"/>`,
      ...points.map((p) =>
        `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${s.color}"/>`
      ),
      `<line x1="${width - right + 20}" x2="${width - right + 44}" y1="${top + 10 + i * 22}" ` +
        `y2="${top + 10 + i * 22}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${width - right + 50}" y="${top + 14 + i * 22}">${escape(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
