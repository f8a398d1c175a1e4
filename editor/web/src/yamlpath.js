// Where the cursor is in a block-style YAML flow: the keys above it, whether it stands
// where a key or a value goes, and whether it is inside an expression's {braces}. Pure
// (lines of text in, a plain object out), so node's test runner checks it directly
// (editor/web/test/yamlpath.test.js); completion.js turns the answer into suggestions.

const KEY_ONLY = /^(\s*)(-\s+)?([A-Za-z0-9_"'*#-]*)$/;
const KEY_VALUE = /^(\s*)(-\s+)?("[^"]*"|'[^']*'|[A-Za-z0-9_*#-]+)\s*:(\s+|$)(.*)$/;

function indentOf(text) {
  return text.length - text.trimStart().length;
}

function meaningful(text) {
  const trimmed = text.trim();
  return trimmed !== "" && !trimmed.startsWith("#");
}

function unquote(key) {
  return key.replace(/^["']|["']$/g, "");
}

/** The keys that enclose line `index` (0-based) whose own key starts at column `limit`,
 * outermost first, each with the line it is written on; a list item adds "-". */
export function ancestorsOf(lines, index, limit) {
  const found = [];
  for (let i = index - 1; i >= 0 && limit > 0; i--) {
    const text = lines[i];
    if (!meaningful(text)) continue;
    const own = indentOf(text);
    if (own >= limit) continue;
    const match = KEY_VALUE.exec(text);
    const bareItem = /^\s*-\s*$/.test(text);
    if (match && match[2]) {
      const keyIndent = own + match[2].length;
      if (keyIndent < limit) found.unshift({ key: unquote(match[3]), line: i });
      found.unshift({ key: "-", line: i });
      limit = own;
    } else if (match) {
      found.unshift({ key: unquote(match[3]), line: i });
      limit = own;
    } else if (bareItem) {
      found.unshift({ key: "-", line: i });
      limit = own;
    }
  }
  return found;
}

export function parentsOf(lines, index, indent) {
  return ancestorsOf(lines, index, indent).map((a) => a.key);
}

/** The context at a cursor: `{kind: "key"|"value", path, key, prefix, expression, formatter}`. */
export function contextAt(lines, lineIndex, column) {
  const text = lines[lineIndex] || "";
  const before = text.slice(0, column);
  const keyOnly = KEY_ONLY.exec(before);
  if (keyOnly) {
    const indent = keyOnly[1].length + (keyOnly[2] ? keyOnly[2].length : 0);
    const path = parentsOf(lines, lineIndex, indent);
    if (keyOnly[2]) path.push("-");
    return { kind: "key", path, key: null, prefix: keyOnly[3], from: column - keyOnly[3].length };
  }
  const keyValue = KEY_VALUE.exec(before);
  if (keyValue) {
    const indent = keyValue[1].length + (keyValue[2] ? keyValue[2].length : 0);
    const path = parentsOf(lines, lineIndex, indent);
    if (keyValue[2]) path.push("-");
    const key = unquote(keyValue[3]);
    const value = keyValue[5];
    const braces = openBrace(value);
    if (braces !== null) {
      const inside = value.slice(braces + 1);
      const bar = inside.lastIndexOf("|");
      const word = /[A-Za-z_][A-Za-z0-9_]*$/.exec(inside);
      const prefix = word ? word[0] : "";
      return { kind: "value", path, key, prefix, from: column - prefix.length, expression: true, formatter: bar >= 0 && !/[(\s]/.test(inside.slice(bar + 1)) };
    }
    const word = /[A-Za-z0-9_.-]*$/.exec(value);
    const prefix = word ? word[0] : "";
    return { kind: "value", path, key, prefix, from: column - prefix.length, text: value };
  }
  return null;
}

/** Index of the last `{` not closed before the end of `value`, or null. */
function openBrace(value) {
  let depth = 0;
  let open = null;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "{") {
      if (depth === 0) open = i;
      depth += 1;
    } else if (value[i] === "}") {
      depth = Math.max(0, depth - 1);
      if (depth === 0) open = null;
    }
  }
  // `{zh: ..., en: ...}` at the start of a value is YAML's inline mapping, not a template
  if (open === 0 && /^\{\s*[A-Za-z_-]+\s*:/.test(value)) return null;
  return depth > 0 ? open : null;
}

/** The value of `field:` among the direct children of the mapping opened at line `start`. */
export function fieldOfBlock(lines, start, field) {
  const own = indentOf(lines[start]);
  let child = null;
  for (let i = start + 1; i < lines.length; i++) {
    const text = lines[i];
    if (!meaningful(text)) continue;
    const indent = indentOf(text);
    if (indent <= own) break;
    if (child === null) child = indent;
    if (indent !== child) continue;
    const match = KEY_VALUE.exec(text);
    if (match && unquote(match[3]) === field) return match[5].trim().replace(/^["']|["']$/g, "");
  }
  return null;
}

/** The kind (`type:`) of the node the cursor is in, or null. */
export function nodeKindAt(lines, lineIndex, indent) {
  const ancestors = ancestorsOf(lines, lineIndex, indent);
  if (ancestors.length < 2 || ancestors[0].key !== "nodes") return null;
  return fieldOfBlock(lines, ancestors[1].line, "type");
}
