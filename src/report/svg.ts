// The few SVG primitives both charts share: escaping, number formatting, element building and a
// text-width estimate. No DOM: a chart is a string a person opens in a browser.

/** Font stack: DejaVu Sans is what resvg finds on Linux; browsers fall through to their own. */
export const FONT_FAMILY = 'DejaVu Sans, Helvetica, Arial, sans-serif';

/**
 * Escapes text for XML content and attribute values. Characters XML 1.0 forbids outright (C0
 * controls other than tab/newline/CR, lone surrogates, U+FFFE/U+FFFF) become U+FFFD: a token from a
 * byte-level tokenizer may hold any of them, and one of them would make the whole file unreadable.
 */
export function escapeXml(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&#39;';
    else if ((c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) {
      out += '\uFFFD';
    } else out += ch;
  }
  return out;
}

/** A coordinate with at most two decimals, no trailing zeros: keeps files small and diffable. */
export function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

export type Attrs = Record<string, string | number | undefined>;

/** One element. Attribute values are escaped; `children` is already-built SVG (not escaped). */
export function el(name: string, attrs: Attrs, children?: string): string {
  let s = `<${name}`;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    s += ` ${k}="${escapeXml(typeof v === 'number' ? num(v) : v)}"`;
  }
  return children === undefined ? `${s}/>` : `${s}>${children}</${name}>`;
}

/** A text element whose content is escaped. */
export function text(content: string, attrs: Attrs): string {
  return el('text', attrs, escapeXml(content));
}

/**
 * Width of a line of DejaVu Sans text, estimated: layout needs it before any renderer runs.
 * DejaVu Sans averages ~0.6 em for mixed text; narrow glyphs count less so that columns of digits
 * and short words do not get oversized gutters.
 */
export function textWidth(content: string, fontSize: number): number {
  let em = 0;
  for (const ch of content) {
    if ('il.,:;|!\'` '.includes(ch)) em += 0.32;
    else if ('mwMW@'.includes(ch)) em += 0.9;
    else if (ch >= 'A' && ch <= 'Z') em += 0.7;
    else em += 0.6;
  }
  return em * fontSize;
}

/** The opening and closing of a standalone SVG document with a white background. */
export function svgDocument(width: number, height: number, title: string, body: string): string {
  const head = el('svg', {
    xmlns: 'http://www.w3.org/2000/svg',
    width: Math.ceil(width),
    height: Math.ceil(height),
    viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
    role: 'img',
    'font-family': FONT_FAMILY,
  }, '\n' + el('title', {}, escapeXml(title)) + '\n'
    + el('rect', { x: 0, y: 0, width: Math.ceil(width), height: Math.ceil(height), fill: '#ffffff' }) + '\n'
    + body);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${head}\n`;
}

/** A short stable id (FNV-1a) so that several charts inlined in one HTML page do not share clip ids. */
export function stableId(prefix: string, key: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `${prefix}-${(h >>> 0).toString(36)}`;
}
