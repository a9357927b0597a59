/**
 * XML 1.0 escaping for junit.xml, written here rather than taken from a dependency: it is a dozen
 * lines and the one subtle part (characters XML 1.0 cannot carry at all) is ours to decide.
 */

/**
 * C0 controls other than tab/LF/CR, lone surrogates, U+FFFE and U+FFFF. XML 1.0 forbids them even
 * as character references, and a device console is full of them (ESP-IDF colours its log lines
 * with ESC sequences), so one of them in a failure message would make a CI server reject the
 * whole file. With the `u` flag the surrogate range matches only unpaired halves.
 */
const ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/gu;

/** Replaced by a visible `\x1b` (not dropped), so a reader still sees that something was there. */
export function replaceIllegal(s: string): string {
  return s.replace(ILLEGAL, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Element content. `>` is escaped too, so a `]]>` in a message cannot end anything. */
export function xmlText(s: string): string {
  return replaceIllegal(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A double-quoted attribute value. Tab, CR and LF become character references because a parser
 * turns literal ones into spaces (attribute-value normalisation) and a multi-line message would
 * arrive as one line.
 */
export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

/** ` name="value"` for each defined attribute, in the order given. */
export function xmlAttrs(attrs: Record<string, string | number | undefined>): string {
  let out = '';
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined) out += ` ${name}="${xmlAttr(String(value))}"`;
  }
  return out;
}
