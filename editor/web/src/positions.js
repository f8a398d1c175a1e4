// Diagnostics count lines from 1 and columns in characters (code points) from 1, as
// flowlang's source map does; CodeMirror counts UTF-16 units from 0. These convert.

export function offsetOf(doc, line, column) {
  if (line < 1) return 0;
  if (line > doc.lines) return doc.length;
  const at = doc.line(line);
  let units = 0;
  let chars = 0;
  for (const ch of at.text) {
    if (chars >= column - 1) break;
    units += ch.length;
    chars += 1;
  }
  return at.from + units;
}

export function rangeOf(doc, d) {
  const from = offsetOf(doc, d.line, d.column);
  let to = offsetOf(doc, d.end_line || d.line, d.end_column || d.column + 1);
  if (to <= from) to = Math.min(doc.lineAt(from).to, from + 1);
  if (to === from && from > 0) return { from: from - 1, to: from };
  return { from, to };
}
