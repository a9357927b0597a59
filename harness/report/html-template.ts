/**
 * The one way report.html is put together: an `html` tagged template that escapes every value
 * put into it unless that value is itself `html`. A device can print anything, and its text
 * reaches titles, notes, failure messages and console lines, so escaping is not left to each
 * call site to remember.
 */

/** Markup that is already safe: made by `html` (or `raw`, for text hilt wrote itself). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

/** Hilt's own markup or script, never text that came from a device or a results file. */
export function raw(text: string): Html {
  return new Html(text);
}

function render(v: Value): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/**
 * Text for element content and quoted attribute values. Control characters other than tab and
 * newline are shown as `\x1b` rather than passed on (a console is full of colour codes), and
 * lone surrogates as `\ud800`, so the file is always valid UTF-8.
 */
export function escapeHtml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F]|[\uD800-\uDFFF]/gu, (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    })
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * JSON for a `<script type="application/json">` block: `<`, `>` and `&` as \u escapes, so no
 * string in it can close the script element or open a comment, and U+2028/2029 for old parsers.
 */
export function scriptJson(value: unknown): Html {
  return raw(JSON.stringify(value)
    .replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029'));
}
