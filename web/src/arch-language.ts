// .arch highlighting for CodeMirror: a StreamLanguage over the lexer's tokens. A tensor name's
// shape suffix (the capitals after the last underscore: `_BLD` of `x_BLD`) is its own token, so
// the letters that are the type stand apart from the name.
import { StreamLanguage, type StringStream } from '@codemirror/language';

const KEYWORDS = new Set(['model', 'dims', 'variant', 'input', 'param', 'block', 'if', 'elif', 'else', 'repeat']);
const SUFFIXED = /^([A-Za-z_][A-Za-z0-9_]*?)(_[A-Z*]+)(?![A-Za-z0-9_])/;

interface State {
  suffixNext: string | null;
  defining: boolean; // after `block` or `model`: the next name is a definition
}

function token(stream: StringStream, state: State): string | null {
  if (state.suffixNext) {
    stream.pos += state.suffixNext.length;
    state.suffixNext = null;
    return 'typeName';
  }
  if (stream.eatSpace()) return null;
  if (stream.match(/^#.*/)) return 'comment';
  if (stream.match(/^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/)) return 'number';
  if (stream.match(/^(->|<=|>=|==|!=|[-+*/@%^=<>~:,|])/)) return 'operator';
  if (stream.match(/^[()[\]]/)) return 'bracket';
  const suffixed = stream.match(SUFFIXED, false) as RegExpMatchArray | null;
  if (suffixed?.[1] && suffixed[1].length > 0) {
    stream.pos += suffixed[1].length;
    state.suffixNext = suffixed[2]!;
    return 'variableName';
  }
  const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
  if (word) {
    const w = word[0];
    if (KEYWORDS.has(w)) {
      state.defining = w === 'block' || w === 'model' || w === 'variant';
      return 'keyword';
    }
    if (state.defining) {
      state.defining = false;
      return 'variableName.definition';
    }
    if (/^[A-Z]$/.test(w)) return 'typeName'; // a dim letter
    if (stream.match(/^\s*\(/, false)) return 'variableName.function';
    return 'variableName';
  }
  stream.next();
  return null;
}

export const archLanguage = StreamLanguage.define<State>({
  name: 'arch',
  startState: () => ({ suffixNext: null, defining: false }),
  token,
  languageData: { commentTokens: { line: '#' } },
});
