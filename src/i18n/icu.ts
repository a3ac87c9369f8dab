import { IntlMessageFormat } from 'intl-messageformat';

/**
 * ICU messages (`{name}`, `{n, plural, =0 {…} one {# item} other {# items}}`, `{x, select, …}`)
 * through FormatJS's intl-messageformat, compiled once per locale-file entry at start.
 */

export type Values = Record<string, string | number>;

export interface Message {
  format(values?: Values): string;
  /** The names of the arguments the message reads (the locale-file parity test compares them). */
  readonly args: string[];
}

// The parser's AST, as far as argument names go: every element that reads an argument has it
// in `value` (argument, number, date, time, select, plural); select and plural nest messages.
interface AstElement {
  type: number;
  value?: unknown;
  options?: Record<string, { value: AstElement[] }>;
  children?: AstElement[];
}
const LITERAL = 0;
const POUND = 7;

function argNames(elements: AstElement[], into: Set<string>): Set<string> {
  for (const element of elements) {
    if (element.type !== LITERAL && element.type !== POUND && typeof element.value === 'string') into.add(element.value);
    for (const option of Object.values(element.options ?? {})) argNames(option.value, into);
    if (element.children) argNames(element.children, into);
  }
  return into;
}

/** Compiles `source` for `locale`; a syntax error throws (at load time, not in a request). */
export function compileMessage(source: string, locale: string): Message {
  const message = new IntlMessageFormat(source, locale);
  return {
    format: (values = {}) => String(message.format(values)),
    args: [...argNames(message.getAst() as AstElement[], new Set())].sort(),
  };
}
