/**
 * A small XML 1.0 well-formedness checker and parser for the tests (no package, no regular
 * expressions): elements, attributes, character and entity references, comments, CDATA, the XML
 * declaration. It throws on the first error (a tag left open or closed by another name, an
 * attribute given twice or unquoted, a raw '<' or '&', a character XML cannot hold, text after
 * the root), and returns the tree with references decoded. No DTD: a DOCTYPE is an error.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly (XmlElement | string)[];
}

export class XmlError extends Error {}

const isNameStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === ':' || c.charCodeAt(0) >= 0xc0;
const isNameChar = (c: string) => isNameStart(c) || (c >= '0' && c <= '9') || c === '-' || c === '.' || c === '\u00b7';
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

export function parseXml(text: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => {
    throw new XmlError(`${why} at offset ${i}`);
  };
  for (const ch of text) if (!isXmlChar(ch.codePointAt(0)!)) fail(`character U+${ch.codePointAt(0)!.toString(16)} is not allowed in XML`);
  const starts = (s: string) => text.startsWith(s, i);
  const expect = (s: string) => {
    if (!starts(s)) fail(`expected '${s}'`);
    i += s.length;
  };
  const spaces = () => {
    const from = i;
    while (i < text.length && isSpace(text[i])) i++;
    return i > from;
  };
  const name = () => {
    const from = i;
    if (i >= text.length || !isNameStart(text[i])) fail('expected a name');
    while (i < text.length && isNameChar(text[i])) i++;
    return text.slice(from, i);
  };
  const until = (end: string, what: string) => {
    const at = text.indexOf(end, i);
    if (at < 0) fail(`${what} never ends`);
    const body = text.slice(i, at);
    i = at + end.length;
    return body;
  };
  const reference = () => {
    expect('&');
    const body = until(';', 'a reference');
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (named[body] !== undefined) return named[body];
    if (body.startsWith('#')) {
      const hex = body.startsWith('#x');
      const digits = body.slice(hex ? 2 : 1);
      if (!digits.length) fail(`empty character reference`);
      for (const d of digits) if (!(hex ? '0123456789abcdefABCDEF' : '0123456789').includes(d)) fail(`bad character reference &${body};`);
      const cp = parseInt(digits, hex ? 16 : 10);
      if (!isXmlChar(cp)) fail(`character reference &${body}; names a character XML cannot hold`);
      return String.fromCodePoint(cp);
    }
    return fail(`unknown entity &${body};`);
  };
  /** Comments and processing instructions, with the spaces between them. */
  const misc = () => {
    for (;;) {
      spaces();
      if (starts('<!--')) {
        i += 4;
        const body = until('-->', 'a comment');
        if (body.includes('--')) fail("'--' inside a comment");
      } else if (starts('<?')) {
        i += 2;
        if (name().toLowerCase() === 'xml') fail('an XML declaration after the start');
        until('?>', 'a processing instruction');
      } else return;
    }
  };
  const attrValue = () => {
    const q = text[i];
    if (q !== '"' && q !== "'") fail('an attribute value must be quoted');
    i++;
    let v = '';
    while (text[i] !== q) {
      if (i >= text.length) fail('an attribute value never ends');
      if (text[i] === '<') fail("a raw '<' in an attribute value");
      if (text[i] === '&') v += reference();
      else v += text[i++];
    }
    i++;
    return v;
  };
  const element = (): XmlElement => {
    expect('<');
    const tag = name();
    const attrs: Record<string, string> = {};
    for (;;) {
      const spaced = spaces();
      if (starts('/>')) {
        i += 2;
        return { name: tag, attrs, children: [] };
      }
      if (starts('>')) {
        i++;
        break;
      }
      if (!spaced) fail('expected a space before an attribute');
      const a = name();
      if (a in attrs) fail(`attribute ${a} given twice`);
      spaces();
      expect('=');
      spaces();
      attrs[a] = attrValue();
    }
    const children: (XmlElement | string)[] = [];
    let textRun = '';
    const flush = () => {
      if (textRun) children.push(textRun);
      textRun = '';
    };
    for (;;) {
      if (i >= text.length) fail(`<${tag}> is never closed`);
      if (starts('</')) {
        i += 2;
        const closing = name();
        if (closing !== tag) fail(`<${tag}> closed by </${closing}>`);
        spaces();
        expect('>');
        flush();
        return { name: tag, attrs, children };
      }
      if (starts('<!--')) {
        i += 4;
        if (until('-->', 'a comment').includes('--')) fail("'--' inside a comment");
      } else if (starts('<![CDATA[')) {
        i += 9;
        textRun += until(']]>', 'a CDATA section');
      } else if (starts('<?')) {
        i += 2;
        until('?>', 'a processing instruction');
      } else if (starts('<')) {
        flush();
        children.push(element());
      } else if (text[i] === '&') textRun += reference();
      else if (starts(']]>')) fail("']]>' in text");
      else textRun += text[i++];
    }
  };
  if (starts('<?xml')) {
    i += 5;
    if (!isSpace(text[i])) fail('expected a space in the XML declaration');
    const decl = until('?>', 'the XML declaration');
    if (!decl.includes('version=')) fail('the XML declaration names no version');
  }
  misc();
  if (starts('<!DOCTYPE')) fail('a DOCTYPE (not expected here)');
  const root = element();
  misc();
  if (i !== text.length) fail('content after the root element');
  return root;
}

/** The child elements of an element, optionally only those of a name. */
export function elements(e: XmlElement, name?: string): XmlElement[] {
  return e.children.filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name));
}

/** The text of an element (its own text children, joined). */
export function textOf(e: XmlElement): string {
  return e.children.filter((c): c is string => typeof c === 'string').join('');
}
