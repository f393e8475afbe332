// Subdivision names (as DB-IP's data spells them: "California", "Quebec", "Île-de-France") to
// ISO 3166-2 codes ("US-CA"), from the iso-codes project's table (Debian package `iso-codes`,
// kept current by its maintainers), so `geo` rules such as US-CA work with name-only data.
import { readFileSync } from 'node:fs';

/** Where Debian's iso-codes keeps the table; GTM_ISO_3166_2 points elsewhere. */
export const ISO_3166_2_PATH = '/usr/share/iso-codes/json/iso_3166-2.json';

interface Entry {
  code: string;
  name: string;
  parent?: string;
}

/** Lower case, accents and punctuation removed: "Île-de-France" and "Ile de France" meet. */
export function nameKey(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export class SubdivisionCodes {
  private constructor(
    private readonly byName: Map<string, string>,
    readonly source: string,
  ) {}

  /** The table, or an empty one (with `source` saying why) when the file cannot be read. */
  static load(path = process.env.GTM_ISO_3166_2 ?? ISO_3166_2_PATH): SubdivisionCodes {
    let entries: Entry[];
    try {
      entries = (JSON.parse(readFileSync(path, 'utf8')) as { '3166-2': Entry[] })['3166-2'];
      if (!Array.isArray(entries)) throw new Error('no "3166-2" list');
    } catch (err) {
      return new SubdivisionCodes(new Map(), `unavailable (${path}: ${(err as Error).message})`);
    }
    const byName = new Map<string, string>();
    // Top-level subdivisions first, so a region's name wins over a same-named district inside it.
    const ordered = [...entries.filter((e) => !e.parent), ...entries.filter((e) => e.parent)];
    for (const e of ordered) {
      if (typeof e.code !== 'string' || typeof e.name !== 'string') continue;
      const key = `${e.code.slice(0, 2)}|${nameKey(e.name)}`;
      if (!byName.has(key)) byName.set(key, e.code);
    }
    return new SubdivisionCodes(byName, path);
  }

  get size(): number {
    return this.byName.size;
  }

  /** "US", "California" -> "US-CA"; undefined when the table has no such name in that country. */
  code(country: string, name: string): string | undefined {
    return this.byName.get(`${country}|${nameKey(name)}`);
  }
}
