// Where a JSON text stops being valid, as line and column, so a 400 can point at the mistake
// (JSON.parse names a position for some errors only, and words it differently across versions).

export interface JsonErrorLocation {
  line: number;
  column: number;
  /** What was found there: a character, or "end of input". */
  found: string;
}

/** The first invalid spot of `text`, or null when it is valid JSON. */
export function locateJsonError(text: string): JsonErrorLocation | null {
  let at = 0;
  const fail = (): never => {
    throw at;
  };
  const space = () => {
    while (at < text.length && " \t\n\r".includes(text[at])) at++;
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[at] !== ch) fail();
      at++;
    }
  };
  const string = () => {
    at++; // the opening quote
    while (at < text.length) {
      const ch = text[at];
      if (ch === '"') return at++;
      if (ch < " ") fail();
      if (ch === "\\") {
        at++;
        if (text[at] === "u") {
          at++;
          for (let i = 0; i < 4; i++, at++) if (!/[0-9a-fA-F]/.test(text[at] ?? "")) fail();
          continue;
        }
        if (!'"\\/bfnrt'.includes(text[at] ?? "x")) fail();
      }
      at++;
    }
    fail();
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at));
    if (!match) fail();
    at += match![0].length;
  };
  const value = (): void => {
    space();
    const ch = text[at];
    if (ch === "{") {
      at++;
      space();
      if (text[at] === "}") return void at++;
      for (;;) {
        space();
        if (text[at] !== '"') fail();
        string();
        space();
        if (text[at] !== ":") fail();
        at++;
        value();
        space();
        if (text[at] === ",") at++;
        else if (text[at] === "}") return void at++;
        else fail();
      }
    }
    if (ch === "[") {
      at++;
      space();
      if (text[at] === "]") return void at++;
      for (;;) {
        value();
        space();
        if (text[at] === ",") at++;
        else if (text[at] === "]") return void at++;
        else fail();
      }
    }
    if (ch === '"') return void string();
    if (ch === "t") return literal("true");
    if (ch === "f") return literal("false");
    if (ch === "n") return literal("null");
    number();
  };
  try {
    value();
    space();
    if (at < text.length) fail();
    return null;
  } catch (offset) {
    if (typeof offset !== "number") throw offset;
    const before = text.slice(0, offset).split("\n");
    return {
      line: before.length,
      column: before.at(-1)!.length + 1,
      found: offset >= text.length ? "end of input" : JSON.stringify(text[offset]),
    };
  }
}
