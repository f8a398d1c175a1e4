// Completion from the real schema (GET api/schema: ivr.editor.vocabulary) and the project
// (the `names` of the last check): node kinds, the keys of each kind, node ids where an
// edge goes, variables, functions and formatters inside expressions, and the service's
// operations, queues, calendars and channels where a node names one.

import { contextAt, nodeKindAt } from "./yamlpath.js";

const EXPRESSION_VALUES = new Set(["expression", "arguments"]);
const NAME_LISTS = {
  operations: (n) => Object.keys(n.operations),
  flows: (n) => n.flows,
  queues: (n) => n.queues,
  calendars: (n) => n.calendars,
  channels: (n) => n.channels,
  languages: (n) => n.languages,
  variables: (n) => Object.keys(n.variables),
};

export function flowCompletion(getSchema, getNames) {
  return (context) => {
    const schema = getSchema();
    if (!schema) return null;
    const names = getNames() || emptyNames();
    const { state, pos } = context;
    const line = state.doc.lineAt(pos);
    const lines = state.doc.toString().split("\n");
    const ctx = contextAt(lines, line.number - 1, pos - line.from);
    if (!ctx) return null;
    if (!context.explicit && ctx.prefix === "" && ctx.kind === "key" && !/^\s*(-\s+)?$/.test(line.text)) return null;
    const options = suggestions(ctx, schema, names, lines, line.number - 1);
    if (!options || options.length === 0) return null;
    return { from: line.from + ctx.from, options, validFor: /^[A-Za-z0-9_.-]*$/ };
  };
}

function emptyNames() {
  return { nodes: {}, variables: {}, operations: {}, flows: [], queues: [], calendars: [], channels: [], languages: [] };
}

function keyOptions(keys, type = "property") {
  return Object.entries(keys).map(([label, spec]) => ({
    label,
    type,
    detail: spec.value,
    info: spec.doc || undefined,
    apply: `${label}: `,
  }));
}

function words(list, type, detail) {
  return list.map((label) => ({ label, type, detail }));
}

function nodeIds(names) {
  return Object.entries(names.nodes).map(([label, kind]) => ({ label, type: "variable", detail: kind }));
}

export function suggestions(ctx, schema, names, lines, lineIndex) {
  const path = ctx.path;
  const inNode = path.length >= 2 && path[0] === "nodes";
  const indent = (lines[lineIndex].length - lines[lineIndex].trimStart().length) + (lines[lineIndex].trimStart().startsWith("- ") ? 2 : 0);
  const kind = inNode ? nodeKindAt(lines, lineIndex, ctx.kind === "key" ? indent : indent) : null;
  const kindSpec = kind ? schema.kinds[kind] : null;

  if (ctx.expression) {
    if (ctx.formatter) return words(Object.keys(schema.formatters), "function", "formatter");
    return expressionWords(schema, names);
  }
  if (ctx.kind === "key") {
    if (path.length === 0) return keyOptions(schema.top, "keyword");
    if (path.length === 2 && path[0] === "nodes") {
      if (!kindSpec) return [{ label: "type", type: "keyword", apply: "type: ", detail: "the node's kind" }];
      return keyOptions(kindSpec.keys);
    }
    if (path.length === 2 && ["inputs", "outputs", "variables"].includes(path[0])) return keyOptions(schema.declaration);
    if (inNode && path.length === 3 && path[2] === "assign") return words(Object.keys(names.variables), "variable", "variable");
    if (inNode && path.length === 3 && path[2] === "args") return operationParams(lines, lineIndex, names);
    if (inNode && path.length === 4 && path[2] === "cases" && path[3] === "-") return keyOptions(schema.case);
    return null;
  }
  // a value
  const key = ctx.key;
  if (path.length === 0) {
    if (key === "start") return nodeIds(names);
    return null;
  }
  if (inNode && path.length === 2) {
    if (key === "type") return Object.entries(schema.kinds).map(([label, spec]) => ({ label, type: "type", info: spec.doc }));
    const spec = kindSpec ? kindSpec.keys[key] : null;
    if (!spec) return null;
    if (spec.value === "edge") return nodeIds(names);
    if (NAME_LISTS[spec.value]) return words(NAME_LISTS[spec.value](names), "constant", spec.value);
    if (EXPRESSION_VALUES.has(spec.value)) return expressionWords(schema, names);
    return null;
  }
  if (inNode && (path[2] === "options" || path[2] === "outcomes") && path.length === 3) return nodeIds(names);
  if (inNode && path[2] === "cases") return key === "next" ? nodeIds(names) : expressionWords(schema, names);
  if (inNode && ["assign", "args", "inputs", "outputs"].includes(path[2])) return expressionWords(schema, names);
  if (path.length === 2 && ["inputs", "outputs", "variables"].includes(path[0]) && key === "type") {
    return words(schema.types, "type", "type");
  }
  return null;
}

function expressionWords(schema, names) {
  return [
    ...Object.entries(names.variables).map(([label, detail]) => ({ label, type: "variable", detail })),
    ...schema.builtins.map((label) => ({ label, type: "variable", detail: "built in" })),
    ...Object.entries(schema.functions).map(([label, spec]) => ({ label, type: "function", detail: `(${spec.args})`, info: spec.doc })),
    ...Object.entries(names.operations).map(([label, params]) => ({ label, type: "function", detail: `operation(${params.join(", ")})` })),
  ];
}

function operationParams(lines, lineIndex, names) {
  for (let i = lineIndex; i >= 0 && i > lineIndex - 40; i--) {
    const match = /^\s*operation:\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(lines[i]);
    if (match && names.operations[match[1]]) return words(names.operations[match[1]], "property", "parameter");
  }
  for (let i = lineIndex + 1; i < lines.length && i < lineIndex + 40; i++) {
    const match = /^\s*operation:\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(lines[i]);
    if (match && names.operations[match[1]]) return words(names.operations[match[1]], "property", "parameter");
  }
  return null;
}
