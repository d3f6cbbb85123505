/** Capacity over the page's lifetime: samples kept in memory, drawn as an inline SVG line chart. */
export interface Sample {
  atMs: number;
  readyRunners: number;
  freeSlots: number;
}

const MAX_SAMPLES = 240;

export class History {
  private readonly samples = new Map<string, Sample[]>();

  record(model: string, sample: Sample): void {
    const list = this.samples.get(model) ?? [];
    list.push(sample);
    if (list.length > MAX_SAMPLES) list.shift();
    this.samples.set(model, list);
  }

  of(model: string): Sample[] {
    return this.samples.get(model) ?? [];
  }

  /** Sums over models per poll (samples of one poll share `atMs`). */
  total(): Sample[] {
    const byTime = new Map<number, Sample>();
    for (const list of this.samples.values()) {
      for (const s of list) {
        const sum = byTime.get(s.atMs) ?? { atMs: s.atMs, readyRunners: 0, freeSlots: 0 };
        byTime.set(s.atMs, { atMs: s.atMs, readyRunners: sum.readyRunners + s.readyRunners, freeSlots: sum.freeSlots + s.freeSlots });
      }
    }
    return [...byTime.values()].sort((a, b) => a.atMs - b.atMs);
  }
}

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  return element;
}

/** Two lines (ready runners, free slots) on a shared y axis starting at 0. */
export function capacityChart(samples: Sample[], title: string, width = 320, height = 96): SVGSVGElement {
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    class: 'chart',
    role: 'img',
    'aria-label': title,
    preserveAspectRatio: 'none'
  });
  const label = svg('title', {});
  label.textContent = title;
  root.append(label);
  const pad = 4;
  // Room above the top line for the scale label.
  const top = height > 48 ? 16 : pad;
  const max = Math.max(1, ...samples.map((s) => Math.max(s.readyRunners, s.freeSlots)));
  const x = (i: number): number => (samples.length <= 1 ? width - pad : pad + (i * (width - 2 * pad)) / (samples.length - 1));
  const y = (v: number): number => height - pad - (v * (height - pad - top)) / max;
  root.append(svg('line', { x1: pad, x2: width - pad, y1: y(0), y2: y(0), class: 'axis' }));
  for (const [key, cls] of [
    ['readyRunners', 'line-ready'],
    ['freeSlots', 'line-free']
  ] as const) {
    const points = samples.map((s, i) => `${x(i).toFixed(1)},${y(s[key]).toFixed(1)}`).join(' ');
    root.append(
      svg('polyline', { points: samples.length === 1 ? `${pad},${y(samples[0]?.[key] ?? 0)} ${points}` : points, class: cls, fill: 'none' })
    );
  }
  if (height > 48) {
    const scale = svg('text', { x: pad, y: 11, class: 'chart-label' });
    scale.textContent = `max ${max}`;
    root.append(scale);
  }
  return root;
}
