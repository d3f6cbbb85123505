/**
 * Version order of model cards: what "latest" means. Labels are free-form (`[A-Za-z0-9][A-Za-z0-9._+-]*`), compared
 * like semantic versions so that `1.10.0` follows `1.9.0`:
 *
 * - a leading `v`/`V` before a digit is ignored (`v1.2` = `1.2`);
 * - `+build` metadata is ignored for order (it only breaks ties, below);
 * - the release part (before the first `-`) is split at `.`; identifiers compare pairwise: numeric ones as numbers
 *   (any length, never overflowing), numeric before alphanumeric, alphanumeric ones by ASCII; when one release is a
 *   prefix of the other, the shorter is lower (`1.0` < `1.0.1`);
 * - a pre-release (after the first `-`) is lower than its release (`2.0.0-rc.1` < `2.0.0`), pre-releases compare by
 *   their `.` identifiers in the same way;
 * - labels still equal (`1.0` and `1.00`, `1.0+a` and `1.0+b`) compare by their text, so the order is total.
 */
export function compareVersions(a: string, b: string): number {
  const x = parts(a);
  const y = parts(b);
  return compareIdentifiers(x.release, y.release) || comparePrerelease(x.prerelease, y.prerelease) || (a === b ? 0 : a < b ? -1 : 1);
}

interface Parts {
  release: string[];
  prerelease: string[] | undefined;
}

function parts(label: string): Parts {
  const trimmed = /^[vV][0-9]/.test(label) ? label.slice(1) : label;
  const plus = trimmed.indexOf('+');
  const core = plus < 0 ? trimmed : trimmed.slice(0, plus);
  const dash = core.indexOf('-');
  const release = dash < 0 ? core : core.slice(0, dash);
  return { release: release.split('.'), prerelease: dash < 0 ? undefined : core.slice(dash + 1).split('.') };
}

const NUMERIC = /^[0-9]+$/;

function compareIdentifier(a: string, b: string): number {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  if (an && bn) {
    const x = a.replace(/^0+(?=.)/, '');
    const y = b.replace(/^0+(?=.)/, '');
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
    return x === y ? 0 : x < y ? -1 : 1;
  }
  if (an !== bn) return an ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

function compareIdentifiers(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const order = compareIdentifier(a[i] as string, b[i] as string);
    if (order !== 0) return order;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function comparePrerelease(a: string[] | undefined, b: string[] | undefined): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return compareIdentifiers(a, b);
}

/** Whether a label names a pre-release (`2.0.0-rc.1`): "latest" prefers releases, as package managers do. */
export function isPrerelease(label: string): boolean {
  return parts(label).prerelease !== undefined;
}
