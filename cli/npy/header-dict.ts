// The header of a .npy file is a Python dict literal, which numpy reads with ast.literal_eval. This is a
// parser for the part of Python's literal syntax numpy writes there: a dict with string keys whose values
// are strings, True/False, or tuples of non-negative integers ('()', '(n,)', '(a, b, …)'), with any
// whitespace and trailing commas. Anything else is refused, as is a key given twice (Python would keep
// the last silently, so a file could mean two things), so a header is either read as numpy reads it or
// not read at all. One pass over the text, each character looked at a bounded number of times: linear.

export type HeaderValue = string | boolean | readonly number[];

/** Python's whitespace between tokens (numpy pads with spaces and ends the header with '\n'). */
const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f', '\v']);

/** The dict's entries in file order; throws an Error saying what is wrong and at which character. */
export function parseHeaderDict(text: string): Map<string, HeaderValue> {
  const parser = new Parser(text);
  const dict = parser.dict();
  parser.end();
  return dict;
}

/** A value as Python would print it, for error messages: 'abc', True, (1, 2). */
export function showHeaderValue(value: HeaderValue): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return `(${value.join(', ')}${value.length === 1 ? ',' : ''})`;
}

class Parser {
  #pos = 0;

  constructor(private readonly text: string) {}

  dict(): Map<string, HeaderValue> {
    this.#expect('{');
    const entries = new Map<string, HeaderValue>();
    while (this.#peek() !== '}') {
      const keyAt = this.#pos;
      if (!this.#atQuote()) this.#fail('expected a string key or \'}\'');
      const key = this.#string();
      if (entries.has(key)) this.#fail(`duplicate key '${key}'`, keyAt);
      this.#expect(':');
      entries.set(key, this.#value());
      if (!this.#commaOr('}')) break;
    }
    this.#expect('}');
    return entries;
  }

  end(): void {
    if (this.#peek() !== undefined) this.#fail(`unexpected ${JSON.stringify(this.text[this.#pos])} after the dict`);
  }

  #value(): HeaderValue {
    const c = this.#peek();
    if (this.#atQuote()) return this.#string();
    if (c === '(') return this.#tuple();
    if (this.text.startsWith('True', this.#pos) && !isNameChar(this.text[this.#pos + 4])) return this.#word(true);
    if (this.text.startsWith('False', this.#pos) && !isNameChar(this.text[this.#pos + 5])) return this.#word(false);
    return this.#fail('expected a string, True, False or a tuple of integers');
  }

  #word(value: boolean): boolean {
    this.#pos += value ? 4 : 5;
    return value;
  }

  /** 'abc' or "abc". Escapes are refused: numpy's headers never need them, and refusing them keeps
   *  every string exactly its characters. */
  #string(): string {
    const quote = this.text[this.#pos]!;
    const start = this.#pos;
    const close = this.text.indexOf(quote, start + 1);
    const body = close < 0 ? this.text.slice(start + 1) : this.text.slice(start + 1, close);
    const newline = /[\n\r]/.exec(body);
    if (close < 0 || newline !== null) this.#fail('unterminated string', start);
    const escape = body.indexOf('\\');
    if (escape >= 0) this.#fail('escape sequences in strings are not supported', start + 1 + escape);
    this.#pos = close + 1;
    return body;
  }

  /** (), (n,), (a, b) or (a, b,): Python's tuple syntax; (n) is just n in Python, so it is refused. */
  #tuple(): number[] {
    const start = this.#pos;
    this.#expect('(');
    const items: number[] = [];
    let commas = 0;
    while (this.#peek() !== ')') {
      items.push(this.#integer());
      if (!this.#commaOr(')')) break;
      commas++;
    }
    this.#expect(')');
    if (items.length === 1 && commas === 0) {
      this.#fail(`(${items[0]}) is not a tuple in Python; a one-element tuple is written (${items[0]},)`, start);
    }
    return items;
  }

  /** A decimal integer as Python writes one: no sign, no leading zeros, no separators. */
  #integer(): number {
    const start = this.#pos;
    let end = start;
    while (end < this.text.length && isDigit(this.text[end])) end++;
    if (end === start) this.#fail('expected a non-negative integer');
    const digits = this.text.slice(start, end);
    if (digits.length > 1 && digits.startsWith('0')) this.#fail(`leading zeros in ${digits}`, start);
    const value = Number(digits);
    if (!Number.isSafeInteger(value)) this.#fail(`${digits} is too large`, start);
    this.#pos = end;
    return value;
  }

  /** After an item: consumes a ',' and says whether another item may follow, or leaves `close` in place. */
  #commaOr(close: string): boolean {
    const c = this.#peek();
    if (c === ',') {
      this.#pos++;
      return true;
    }
    if (c !== close) this.#fail(`expected ',' or '${close}'`);
    return false;
  }

  #expect(token: string): void {
    if (this.#peek() !== token) this.#fail(`expected '${token}'`);
    this.#pos++;
  }

  #atQuote(): boolean {
    const c = this.#peek();
    return c === "'" || c === '"';
  }

  /** The next character after any whitespace (the position moves past the whitespace). */
  #peek(): string | undefined {
    while (this.#pos < this.text.length && WHITESPACE.has(this.text[this.#pos]!)) this.#pos++;
    return this.text[this.#pos];
  }

  #fail(problem: string, at = this.#pos): never {
    const found = at < this.text.length ? `, got ${JSON.stringify(this.text[at])}` : ', got the end of the header';
    const detail = problem.startsWith('expected') ? found : '';
    throw new Error(`${problem} at character ${at}${detail}`);
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isNameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
