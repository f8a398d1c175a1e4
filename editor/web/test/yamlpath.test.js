// node --test editor/web/test/: the YAML cursor context that completion relies on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { contextAt, parentsOf, fieldOfBlock, nodeKindAt } from "../src/yamlpath.js";

const FLOW = `flow: orders
languages: [zh, en]
start: ask
nodes:
  ask:
    type: menu
    prompt:
      zh: 请按1
      en: "Press 1 {caller|digits}"
    options:
      "1": done
    on_no_input: 
  route:
    type: branch
    cases:
      - if: total > 1
        next: 
    else: done
  done:
    type: hangup
    
`.split("\n");

test("a top-level key position has no parents", () => {
  const ctx = contextAt(["fl"], 0, 2);
  assert.equal(ctx.kind, "key");
  assert.deepEqual(ctx.path, []);
  assert.equal(ctx.prefix, "fl");
});

test("a node's key position names the node and its kind", () => {
  const lines = [...FLOW];
  lines[11] = "    on_";
  const ctx = contextAt(lines, 11, 7);
  assert.equal(ctx.kind, "key");
  assert.deepEqual(ctx.path, ["nodes", "ask"]);
  assert.equal(ctx.prefix, "on_");
  assert.equal(nodeKindAt(lines, 11, 4), "menu");
});

test("an edge's value position knows its key", () => {
  const ctx = contextAt(FLOW, 11, FLOW[11].length);
  assert.equal(ctx.kind, "value");
  assert.equal(ctx.key, "on_no_input");
  assert.deepEqual(ctx.path, ["nodes", "ask"]);
});

test("a menu option's value is under options", () => {
  const ctx = contextAt(FLOW, 10, FLOW[10].length);
  assert.equal(ctx.key, "1");
  assert.deepEqual(ctx.path, ["nodes", "ask", "options"]);
  assert.equal(ctx.prefix, "done");
});

test("a branch case's next is inside a list item", () => {
  const ctx = contextAt(FLOW, 16, FLOW[16].length);
  assert.equal(ctx.key, "next");
  assert.deepEqual(ctx.path, ["nodes", "route", "cases", "-"]);
});

test("the first key of a list item", () => {
  const ctx = contextAt(FLOW, 15, 11);
  assert.equal(ctx.key, "if");
  assert.deepEqual(ctx.path, ["nodes", "route", "cases", "-"]);
});

test("inside template braces, after a bar, a formatter is wanted", () => {
  const line = FLOW[8];
  const at = line.indexOf("|") + 3;
  const ctx = contextAt(FLOW, 8, at);
  assert.equal(ctx.expression, true);
  assert.equal(ctx.formatter, true);
  assert.equal(ctx.prefix, "di");
});

test("inside template braces, a name is wanted", () => {
  const line = FLOW[8];
  const at = line.indexOf("{") + 4;
  const ctx = contextAt(FLOW, 8, at);
  assert.equal(ctx.expression, true);
  assert.equal(ctx.formatter, false);
  assert.equal(ctx.prefix, "cal");
});

test("an inline mapping is not a template", () => {
  const ctx = contextAt(["    prompt: {zh: a"], 0, 18);
  assert.equal(ctx.expression, undefined);
});

test("a blank line's key position takes its indent", () => {
  const ctx = contextAt(FLOW, 20, 4);
  assert.equal(ctx.kind, "key");
  assert.deepEqual(ctx.path, ["nodes", "done"]);
  assert.equal(fieldOfBlock(FLOW, 18, "type"), "hangup");
  assert.deepEqual(parentsOf(FLOW, 20, 2), ["nodes"]);
});
