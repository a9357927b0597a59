/**
 * A small strict XML 1.0 reader for checking what hilt writes: elements, attributes, text, the
 * five predefined entities and character references. It refuses anything else (comments,
 * CDATA, DOCTYPE) and everything malformed, so a test passing means a real parser would agree.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text, concatenated, entities decoded. */
  text: string;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
/** Anything outside XML 1.0's Char production. */
const NOT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function parseXml(source: string): XmlElement {
  const bad = NOT_CHAR.exec(source);
  if (bad) throw new Error(`character U+${bad[0].charCodeAt(0).toString(16)} is not allowed in XML 1.0 (offset ${bad.index})`);
  let i = 0;
  const fail = (why: string): never => { throw new Error(`${why} at offset ${i}: ${JSON.stringify(source.slice(i, i + 30))}`); };
  const skipSpace = () => { while (i < source.length && ' \t\r\n'.includes(source[i]!)) i++; };
  const name = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(source);
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const decode = (raw: string): string => raw.replace(/&([^;]*);|&/g, (all, ref: string | undefined) => {
    if (ref === undefined) fail('bare &');
    if (ref! in ENTITIES) return ENTITIES[ref!]!;
    const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref!);
    if (!m) fail(`unknown entity ${all}`);
    const code = m![1] ? parseInt(m![1], 16) : parseInt(m![2]!, 10);
    const ch = String.fromCodePoint(code);
    if (NOT_CHAR.test(ch)) fail(`character reference ${all} names a character XML 1.0 forbids`);
    return ch;
  });

  if (source.startsWith('<?xml')) {
    const end = source.indexOf('?>');
    if (end < 0) fail('unterminated XML declaration');
    if (!/^<\?xml version="1\.0"( encoding="UTF-8")?\?>$/.test(source.slice(0, end + 2))) fail('unexpected XML declaration');
    i = end + 2;
  }

  const element = (): XmlElement => {
    if (source[i] !== '<') fail('expected <');
    i++;
    const el: XmlElement = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      skipSpace();
      if (source.startsWith('/>', i)) { i += 2; return el; }
      if (source[i] === '>') { i++; break; }
      if (i === before) fail('expected space between attributes');
      const attr = name();
      if (attr in el.attrs) fail(`duplicate attribute ${attr}`);
      skipSpace();
      if (source[i] !== '=') fail('expected =');
      i++;
      skipSpace();
      const quote = source[i];
      if (quote !== '"' && quote !== "'") fail('expected a quoted value');
      const end = source.indexOf(quote!, i + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = source.slice(i + 1, end);
      if (raw.includes('<')) fail('< in an attribute value');
      // Attribute-value normalisation: literal whitespace becomes a space, references survive.
      el.attrs[attr] = decode(raw.replace(/[\t\n\r]/g, ' '));
      i = end + 1;
    }
    for (;;) {
      const lt = source.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${el.name}>`);
      const raw = source.slice(i, lt);
      if (raw.includes(']]>')) fail(']]> in text');
      el.text += decode(raw);
      i = lt;
      if (source.startsWith('</', i)) {
        i += 2;
        const closing = name();
        if (closing !== el.name) fail(`</${closing}> closes <${el.name}>`);
        skipSpace();
        if (source[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      if (source.startsWith('<!', i) || source.startsWith('<?', i)) fail('comments, CDATA and processing instructions are not expected');
      el.children.push(element());
    }
  };

  skipSpace();
  const root = element();
  skipSpace();
  if (i !== source.length) fail('content after the root element');
  return root;
}

/** Every descendant element with this name, document order. */
export function all(el: XmlElement, name: string): XmlElement[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...all(c, name)]);
}

/** The `<properties>` directly under `el` as a name -> value map. */
export function propertiesOf(el: XmlElement): Record<string, string> {
  const props = el.children.find((c) => c.name === 'properties');
  return Object.fromEntries((props?.children ?? []).map((p) => [p.attrs.name ?? '', p.attrs.value ?? '']));
}
