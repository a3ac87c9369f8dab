import type { Config } from '../config.ts';

/**
 * Branding (`brand` in config/defaults.ts: BRAND_NAME, BRAND_LOGO_URL, BRAND_COLOR) turned into
 * what pages and e-mails use. The accent colour is the operator's choice, so whatever it is the
 * text on it and the links drawn in it are computed to stay readable (WCAG 2.2 §1.4.3: 4.5:1
 * for text), in the light theme and the dark one.
 */

type Rgb = [number, number, number];

/** The surfaces text sits on in each theme (views/assets/gatehouse.css `--surface`). */
export const SURFACE = { light: '#ffffff', dark: '#1c212b' } as const;
const DARK_TEXT = '#111418';
const LIGHT_TEXT = '#ffffff';
/** WCAG AA for normal text. */
const READABLE = 4.5;

function rgb(hex: string): Rgb {
  let h = hex.replace('#', '');
  if (h.length === 3) h = [...h].map((c) => c + c).join('');
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
}

function hex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0')).join('')}`;
}

/** WCAG 2.2 relative luminance. */
function luminance(color: string): number {
  const [r, g, b] = rgb(color).map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2.2 contrast ratio of two colours, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** Text on a background of `color`: white or near-black, whichever reads better. */
export function textOn(color: string): string {
  return contrast(LIGHT_TEXT, color) >= contrast(DARK_TEXT, color) ? LIGHT_TEXT : DARK_TEXT;
}

/** `color` mixed towards `target` just enough to reach 4.5:1 against `surface` (itself when it already does). */
export function readableOn(color: string, surface: string): string {
  const target = rgb(luminance(surface) > 0.5 ? '#000000' : '#ffffff');
  const from = rgb(color);
  for (let step = 0; step <= 20; step++) {
    const t = step / 20;
    const mixed = hex(from.map((v, i) => v + (target[i]! - v) * t) as Rgb);
    if (contrast(mixed, surface) >= READABLE) return mixed;
  }
  return hex(target);
}

export interface BrandTheme {
  name: string;
  /** Absolute, or a path on this server; only https or a loopback address (the CSP allows those). */
  logoUrl?: string;
  /** Buttons' background, and the text on them. */
  accent: string;
  onAccent: string;
  /** Links and accent text, per theme. */
  link: { light: string; dark: string };
}

/** The theme of a configured brand. */
export function brandTheme(brand: Config['brand']): BrandTheme {
  const accent = brand.color.toLowerCase();
  return {
    name: brand.name,
    ...(brand.logoUrl ? { logoUrl: brand.logoUrl } : {}),
    accent,
    onAccent: textOn(accent),
    link: { light: readableOn(accent, SURFACE.light), dark: readableOn(accent, SURFACE.dark) },
  };
}

/** The stylesheet that lays the brand over views/assets/gatehouse.css (served like it, src/http/assets.ts). */
export function brandCss(theme: BrandTheme): string {
  const vars = (link: string) => `--accent:${theme.accent};--on-accent:${theme.onAccent};--link:${link};`;
  return `:root{${vars(theme.link.light)}}\n@media (prefers-color-scheme: dark){:root{${vars(theme.link.dark)}}}\n`;
}

/**
 * Whether an image address may be shown on our pages (a client's `logo_uri`, the brand logo):
 * https, or http on a loopback address (development); never `data:`, `javascript:` or plain http
 * elsewhere, which the CSP would block anyway (src/security/headers.ts).
 */
export function showableImage(uri: unknown): string | undefined {
  if (typeof uri !== 'string' || !uri) return undefined;
  if (/^\/[^/\\]/.test(uri)) return uri;
  try {
    const url = new URL(uri);
    if (url.protocol === 'https:') return url.href;
    if (url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname)) return url.href;
  } catch {
    // not a URL
  }
  return undefined;
}

/** The image sources the CSP allows for logos, matching showableImage. */
export const LOGO_SOURCES = ['https:', 'http://localhost:*', 'http://127.0.0.1:*'];
