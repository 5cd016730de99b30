// YAML text to a document, in time and stack that grow with the text: the nesting is
// bounded before the tree is built, and duplicate keys are found by one pass with a set.
// The yaml package's own check compares each key with every earlier key of its mapping
// (40,000 keys took 15 s), and its tree building recurses once per level (1,000 levels
// overflowed the stack).
import { Composer, CST, isMap, isScalar, isSeq, Lexer, Parser, YAMLParseError, type Document, type LineCounter } from 'yaml';
import { quote, type ConfigPath } from './errors.js';

/** Far above any real config (a joblog mapping rule is about 7 levels deep), far below the stack's limit. */
export const MAX_NESTING_DEPTH = 64;

export interface ParseProblem {
  offset: number;
  /** The YAML path, when the problem has one. */
  path?: ConfigPath;
  message: string;
}

export type ParsedYaml = { doc: Document; duplicateKeys: ParseProblem[] } | { tooDeep: ParseProblem };

const TOO_DEEP = `expected at most ${MAX_NESTING_DEPTH} levels of nesting, found more`;

/**
 * Parses `text` as the yaml package's parseDocument does (merge keys on), but refuses a
 * nesting deeper than MAX_NESTING_DEPTH before composing, and reports duplicate keys itself.
 */
export function parseYaml(text: string, lineCounter: LineCounter): ParsedYaml {
  const parser = new Parser(lineCounter.addNewLine);
  // As Parser.parse does: the first line starts at 0.
  lineCounter.addNewLine(0);
  const tokens: CST.Token[] = [];
  // Flow brackets are counted as they are lexed: the parser slows down with each open one
  // (two million `[` took 17 s), and a bracket costs one byte, so only they go that deep.
  let flowDepth = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (lexeme === '[' || lexeme === '{') {
      if (++flowDepth > MAX_NESTING_DEPTH) return { tooDeep: { offset: parser.offset, message: TOO_DEEP } };
    } else if (lexeme === ']' || lexeme === '}') {
      flowDepth = Math.max(0, flowDepth - 1);
    }
    for (const token of parser.next(lexeme)) tokens.push(token);
  }
  for (const token of parser.end()) tokens.push(token);

  const tooDeep = deepestBeyondLimit(tokens);
  if (tooDeep) return { tooDeep };

  const composer = new Composer({ merge: true, uniqueKeys: false });
  let doc: Document | undefined;
  for (const composed of composer.compose(tokens, true, text.length)) {
    if (!doc) {
      doc = composed;
    } else {
      doc.errors.push(new YAMLParseError([composed.range[0], composed.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; expected one'));
      break;
    }
  }
  return { doc: doc!, duplicateKeys: duplicateKeys(doc!, lineCounter) };
}

/** The first collection nested deeper than the limit, walked with a stack of our own. */
function deepestBeyondLimit(tokens: CST.Token[]): ParseProblem | undefined {
  const pending: Array<{ token: CST.Token | null | undefined; depth: number; path: ConfigPath }> = [];
  for (const token of tokens) if (token.type === 'document') pending.push({ token: token.value, depth: 0, path: [] });
  while (pending.length > 0) {
    const { token, depth, path } = pending.pop()!;
    if (!token || (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')) continue;
    if (depth + 1 > MAX_NESTING_DEPTH) return { offset: token.offset, path, message: TOO_DEEP };
    const isList = token.type === 'block-seq' || (token.type === 'flow-collection' && token.start.source === '[');
    token.items.forEach((item, index) => {
      const keyText = item.key ? scalarText(item.key) : undefined;
      const itemPath = isList ? [...path, index] : [...path, keyText ?? index];
      if (item.key) pending.push({ token: item.key, depth: depth + 1, path: itemPath });
      if (item.value) pending.push({ token: item.value, depth: depth + 1, path: itemPath });
    });
  }
  return undefined;
}

function scalarText(token: CST.Token): string | undefined {
  if (token.type !== 'scalar' && token.type !== 'single-quoted-scalar' && token.type !== 'double-quoted-scalar' && token.type !== 'block-scalar') {
    return undefined;
  }
  return CST.resolveAsScalar(token)?.value;
}

/** Each key written again in the same mapping, at the second writing, with the line of the first. */
function duplicateKeys(doc: Document, lineCounter: LineCounter): ParseProblem[] {
  const problems: ParseProblem[] = [];
  const visit = (node: unknown, path: ConfigPath): void => {
    if (isMap(node)) {
      const firstAt = new Map<string, number>();
      node.items.forEach((pair, index) => {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        const segment = key ?? index;
        if (key !== undefined) {
          const first = firstAt.get(key);
          const offset = pair.key && isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0;
          if (first === undefined) {
            firstAt.set(key, offset);
          } else {
            const firstLine = lineCounter.linePos(first).line;
            problems.push({ offset, path: [...path, key], message: `expected each key once per mapping, found ${quote(key)} again (first on line ${firstLine})` });
          }
        }
        visit(pair.value, [...path, segment]);
      });
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => visit(item, [...path, index]));
    }
  };
  visit(doc.contents, []);
  return problems;
}
