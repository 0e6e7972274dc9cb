// Describes how two JSON values differ, path by path, for "checkpoint does not match" messages.

/** Up to `limit` differences between `saved` and `given`, as 'path: saved X, given Y'. */
export function configDiff(saved: unknown, given: unknown, limit = 5): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (out.length >= limit) return;
    const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
    if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
      for (const k of keys) walk(a[k], b[k], path ? `${path}.${k}` : k);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push(`${path || '(root)'}: checkpoint has ${JSON.stringify(a) ?? 'nothing'}, given ${JSON.stringify(b) ?? 'nothing'}`);
    }
  };
  // Compare the JSON forms: what was saved is what JSON can represent.
  walk(JSON.parse(JSON.stringify(saved ?? null)), JSON.parse(JSON.stringify(given ?? null)), '');
  return out;
}
