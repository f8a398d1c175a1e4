"""The catalogue of diagnostic codes: what each means, an example and the fix.

Codes are stable: tests pin them, editors link to them, `ivr explain FL301` prints an entry,
and docs/errors.md is generated from this table (`python -m ivr.flowlang.catalogue`). A code
never changes meaning; a retired code stays here, marked as such.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ivr.flowlang.diagnostics import Severity, did_you_mean


@dataclass(frozen=True)
class Entry:
    code: str
    title: str
    severity: Severity
    explanation: str
    example: str
    fix: str


E, W = Severity.ERROR, Severity.WARNING

_ENTRIES = [
    # FL0xx: files and YAML
    Entry(
        "FL001",
        "YAML syntax error",
        E,
        "The file is not well-formed YAML, so nothing in it can be checked. The common slips are "
        "named, at the character to change: a tab, a quote never closed, a bare `*` (a YAML alias), "
        "`: ` or `{` inside unquoted text, a line indented one step too far, a `- ` item among keys.",
        "prompt: {en: Welcome {name}}",
        'Quote text that contains `{`, `:` or `,`: `{en: "Welcome {name}"}`.',
    ),
    Entry(
        "FL002",
        "YAML structure not supported",
        E,
        "A mapping key is a list or mapping, the document nests deeper than 100 levels, or an alias "
        "(`*name`) sits inside the list or mapping its anchor (`&name`) names, so it would repeat itself "
        "without end.",
        "? [a, b]\n: value\nloop: &a [*a]",
        "Use plain text keys, a flatter document, and aliases only of complete lists and mappings.",
    ),
    Entry(
        "FL003",
        "Duplicate key",
        E,
        'A mapping repeats a key; YAML keeps only the last. In a menu `1:` and `"1":` are the same key.',
        'options:\n  1: quotes\n  "1": agent',
        "Remove or rename one of them.",
    ),
    Entry(
        "FL004",
        "File cannot be used",
        E,
        "The file is not UTF-8 text or is too large to be a flow (more than 5,000,000 bytes).",
        "a flow saved as GBK",
        "Save the file as UTF-8.",
    ),
    Entry(
        "FL005",
        "Path does not exist",
        E,
        "A path given to `ivr check` (or the loader) is neither a file nor a folder.",
        "ivr check flow/",
        "Check the spelling of the path.",
    ),
    Entry(
        "FL006",
        "Second service file",
        E,
        "A project has exactly one service file (top-level `service:`); a second one is ignored.",
        "flows/service.yaml and flows/more/service.yaml",
        "Merge them into one file.",
    ),
    Entry(
        "FL007",
        "Flow name used twice",
        E,
        "Two flow files declare the same `flow:` name; subflows and numbers could not tell them apart.",
        "flow: main   # in main.yaml and in copy.yaml",
        "Rename one of the flows.",
    ),
    Entry(
        "FL008",
        "Not a flow or service file",
        W,
        "A YAML file found in a folder has neither `flow:` nor `service:` at the top, so it is "
        "skipped. A file named on its own (`ivr check empty.yaml`) must be a flow, the service or a "
        "flow test, so there, as when one text is checked as a flow (the editor), this is an error.",
        "name: main\nnodes: ...",
        "Start a flow with `flow: <name>`, the service with `service: <name>`.",
    ),
    Entry(
        "FL009",
        "File cannot be read",
        E,
        "The operating system refused to read the file (permissions, a broken link).",
        "flows/main.yaml -> missing target",
        "Fix the file's permissions or link.",
    ),
    Entry(
        "FL010",
        "Value read as a YAML tag",
        E,
        "A value starting with `!` is a YAML tag (a type annotation), so YAML reads the value as empty "
        "or as what follows the tag. In an expression `!` is not negation.",
        "if: !verified",
        'Write `if: not verified`; quote text that starts with `!`: `zh: "!注意"`.',
    ),
    Entry(
        "FL011",
        "Full-width colon or comma in YAML",
        E,
        "A Chinese input method typed `：` after a key, or `，` between entries; YAML only knows the "
        "ASCII `:` and `,`, so the key and its value, or two entries, become one piece of text.",
        "type： say\nlanguages: [zh，en]\nprompt: {zh: 你好，en: Hello}",
        "Type the ASCII colon or comma: `type: say`, `[zh, en]`, `{zh: 你好, en: Hello}`.",
    ),
    Entry(
        "FL012",
        "No space after a colon",
        E,
        "YAML needs a space after the `:` of a key; `type:say` is one piece of text, and inside "
        "`{zh:你好}` it is a key with no value.",
        "type:say\nprompt: {zh:你好, en:Hi}",
        "Put a space after the colon: `type: say`, `{zh: 你好, en: Hi}`.",
    ),
    Entry(
        "FL013",
        "Document too large to check",
        E,
        "A YAML document may hold at most 100,000 values (lists, mappings, keys and texts), counting "
        "each alias (`*name`) as a full copy of what its anchor (`&name`) holds. A few lines of "
        "aliases of aliases can stand for billions of values (a 'billion laughs'), so reading stops at "
        "the alias or value that passes the limit. A 1,000-node flow has about 15,000 values. Its "
        "expression and prompt template texts may total at most 50,000 characters (that flow has "
        "about 15,000; a repeated text that parses counts once); past that, the rest is not checked. "
        "Past 500 problems of shape (unknown fields, wrong types) the rest go unlisted.",
        "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]\n"
        "a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]   # ... up to a9",
        "Write the repeated part out once and refer to it (a subflow, an operation), or split the file.",
    ),
    # FL1xx: shape
    Entry(
        "FL101",
        "Missing field",
        E,
        "A field that this part of the file cannot do without is missing.",
        "welcome:\n  type: say\n  next: menu",
        "Add the field, e.g. `prompt: {en: Welcome}`.",
    ),
    Entry(
        "FL102",
        "Unknown field",
        E,
        "A field is not part of the language here, often a typo; the hint suggests the closest field.",
        "welcome:\n  type: say\n  prompt: {en: Hi}\n  nxt: menu",
        "Use the suggested field (`next`).",
    ),
    Entry(
        "FL103",
        "Wrong type of value",
        E,
        "A value has the wrong type (in a node, or a variable's `initial:`). YAML 1.1 words such as "
        "`no`, `off` and `yes` are text, not booleans; a list of `- name:` items is not a mapping.",
        "barge_in: no",
        "Write `barge_in: false`; quote text that looks like a number.",
    ),
    Entry(
        "FL104",
        "Bad duration",
        E,
        "A duration must be a number of seconds or a number with a unit: `ms`, `s` or `m`.",
        "timeout: 5 sec",
        "Write `timeout: 5s`.",
    ),
    Entry(
        "FL105",
        "Bad telephone key",
        E,
        "A key must be one of 0-9, * or #. `#` starts a YAML comment, so `terminator: #` is empty.",
        "terminator: #",
        'Write `terminator: "#"` (or `false` for no terminator).',
    ),
    Entry(
        "FL106",
        "Unknown node type",
        E,
        "A node's `type` is not one of the node kinds of the language.",
        "type: menuu",
        "Use one of: say, menu, collect, confirm, branch, set, lookup, subflow, return, "
        "enqueue, transfer, record, send, schedule, language, log, hangup.",
    ),
    Entry(
        "FL107",
        "Bad name",
        E,
        "Names of flows, variables, operations and nodes start with a letter or `_` and use letters, "
        "digits and `_` (node ids may also use `-`).",
        "variables:\n  my var: {type: string}",
        "Rename it, e.g. `my_var`.",
    ),
    Entry(
        "FL108",
        "Value not allowed",
        E,
        "The value is not one of the choices for this field.",
        "mode: bridged",
        "Use one of the listed values (`bridge` or `blind`).",
    ),
    Entry(
        "FL109",
        "Empty value",
        E,
        "A list or mapping that needs at least one entry is empty.",
        "options: {}",
        "Give at least one entry.",
    ),
    Entry(
        "FL110",
        "Value out of range",
        E,
        "A number or list is below its minimum or above its maximum.",
        "max_retries: -1",
        "Use a value in range (counts start at 0).",
    ),
    Entry(
        "FL111",
        "Repeated item",
        E,
        "A list that must hold distinct items repeats one.",
        "languages: [zh, en, zh]",
        "Remove the repeat.",
    ),
    Entry(
        "FL112",
        "Bad format",
        E,
        "Text does not have the required format (clock times, dates, `module:function`).",
        'mon: [["9:30", "11:30"]]',
        'Write times as "09:30" and dates as "2026-10-01".',
    ),
    Entry(
        "FL113",
        "min_length above max_length",
        E,
        "A collect node could never accept an entry: min_length is more than max_length.",
        "min_length: 8\nmax_length: 6",
        "Lower min_length or raise max_length (default 20).",
    ),
    # FL2xx: expressions (reported by ivr.flowlang.expressions)
    Entry(
        "FL201",
        "Expression syntax error",
        E,
        "An expression does not parse. A literal string inside an expression needs inner quotes.",
        "valid: code ==",
        "Complete the expression: `valid: code == '600000'`.",
    ),
    Entry(
        "FL202",
        "Template error",
        E,
        "A prompt template has an unbalanced brace or a malformed `{expr|formatter}`.",
        'en: "Price {price"',
        "Close the brace, or write `{{` / `}}` for a literal brace.",
    ),
    Entry(
        "FL203",
        "Unknown function",
        E,
        "An expression calls a function that is neither built in nor a declared operation.",
        "valid: lenght(code) == 6",
        "Use the suggested name (`len`) or declare the operation.",
    ),
    Entry(
        "FL204",
        "Wrong number of arguments",
        E,
        "A function or operation is called with the wrong number of arguments.",
        "valid: len()",
        "Pass the arguments it takes.",
    ),
    Entry(
        "FL205",
        "Unknown formatter",
        E,
        "A template uses a formatter that does not exist.",
        'en: "{price|money2}"',
        "Use money, digits, number, price, percent, date or time.",
    ),
    Entry(
        "FL206",
        "Undeclared name",
        E,
        "An expression reads a name that is not an input, output or variable of the flow (or `call`; "
        "`result` inside a lookup's assign).",
        "if: qoute.found",
        "Fix the spelling or declare the variable.",
    ),
    Entry(
        "FL207",
        "Field starting with _",
        E,
        "Fields starting with `_` are never readable (sandbox rule).",
        "quote._raw",
        "Read a public field.",
    ),
    Entry(
        "FL208",
        "Value of the wrong type in an expression",
        E,
        "An operator, function or formatter gets a kind of value it never accepts, so the expression "
        "would fail on every call: text joined to a number with `+`, text compared with a number by "
        "`<`, upper() of a number, a field read from text. Types come from the declarations "
        "(`type: number`), `call`, a lookup's `result`, subflow outputs and the functions; a field of a "
        "map of unknown shape is never an error.",
        "label: \"'代码' + tries\"   # tries: {type: number}",
        "Convert explicitly: `'代码' + str(tries)`, `number(qty_text) > 0`.",
    ),
    Entry(
        "FL209",
        "Condition that is always true or always false",
        W,
        "`==` compares values of kinds that never equal each other (a number and text, true/false and "
        "text), so it never holds (`!=` always does); or a literal decides an `or` / `and` on its own "
        "(`code == '600519' or '000001'` is always true, since the text '000001' counts as true).",
        "if: code == 600519   # code: {type: string}\nif: code == '600519' or '000001'",
        "Compare like with like: `code == '600519'`; repeat the comparison: "
        "`code == '600519' or code == '000001'` (or `code in ['600519', '000001']`).",
    ),
    Entry(
        "FL210",
        "Value does not fit the declared type",
        E,
        "A node stores into a variable (or passes to a subflow input, or returns as an output) a value "
        "that can never be of its declared type. A collect always gives text.",
        "variables: {qty: {type: number}}\n...\n  into: qty",
        "Collect into a text variable and convert it (`qty: number(qty_text)`), or fix the declaration.",
    ),
    Entry(
        "FL211",
        "No such field",
        E,
        "An expression reads a field that a record of known shape does not have (`call` has caller, "
        "dialed, id and language).",
        "if: call.callr == '95500'",
        "Use one of the record's fields (`call.caller`).",
    ),
    # FL3xx: graph
    Entry(
        "FL301",
        "Undefined target",
        E,
        "An edge names a node that is not in this flow.",
        "next: mian_menu",
        "Use the suggested node id, or add the node.",
    ),
    Entry(
        "FL302",
        "Start node missing",
        E,
        "`start:` names a node that is not in this flow.",
        "start: welcom",
        "Name an existing node.",
    ),
    Entry(
        "FL303",
        "Unreachable node",
        W,
        "No path from the start node leads to this node, so no caller can ever hear it.",
        "an `old_menu` node nothing points to",
        "Link to it, or delete it.",
    ),
    Entry(
        "FL304",
        "Dead end",
        E,
        "A node that does not end the call lacks the edge the call needs to go on (`next`, a schedule's "
        "`open`/`closed`, a branch's `else` when it has no cases, a subflow outcome). Only hangup, "
        "return, transfer and enqueue may end a path.",
        "welcome:\n  type: say\n  prompt: {en: Hi}",
        "Add `next: <node>`; end calls with a `hangup` node.",
    ),
    Entry(
        "FL305",
        "Caller trapped in a loop",
        E,
        "A loop of nodes has no edge out and no node that ends or hands off the call: a caller who "
        "enters it can only hang up.",
        "menu: options {1: again}\nagain: say ... next: menu",
        "Give the loop an exit (on_no_input, a 0 option).",
    ),
    Entry(
        "FL306",
        "Loop without waiting for the caller",
        W,
        "A loop made only of nodes that never wait for a key (branch, set, lookup, log, language, "
        "schedule, send) can spin forever.",
        "retry: lookup ... on_error: retry",
        "Count the tries and leave the loop, or wait for the caller in it.",
    ),
    Entry(
        "FL307",
        "Key used twice",
        E,
        "A confirm node gives the same key two roles.",
        'confirm_key: "1"\nreenter_key: "1"',
        "Give each role its own key.",
    ),
    Entry(
        "FL308",
        "Unbounded subflow recursion",
        E,
        "Flows call each other (or themselves) as subflows in a cycle, so calls can nest without end.",
        "main -> menu -> main",
        "Go back with `return` and an outcome instead of calling the flow again.",
    ),
    Entry(
        "FL309",
        "Branch without else",
        W,
        "When no case of a branch holds, the call ends with the service's fallback message.",
        "cases: [...]   # no else",
        "Add `else: <node>`.",
    ),
    Entry(
        "FL310",
        "Global key needed by the node",
        E,
        "A global key (one that works in every menu, collect and confirm) is also a key this node "
        "needs: a menu option, a confirm key, or, in a collect, an entry the collect could accept "
        "(the key alone, as `0` then a pause; for the terminator, an empty entry). The caller could "
        "not tell which one they get.",
        'global_keys: {agent: {key: "0", goto: to_agent}}   # in the service\n'
        'menu: {type: menu, options: {"1": quotes, "0": agent}, ...}',
        "Remove the option (the global key already does it), make the single key invalid for the "
        "collect (`min_length: 2`, a `valid:` check), or turn the global key off for the node: "
        "`global_keys: {agent: false}`.",
    ),
    Entry(
        "FL311",
        "Two global keys on one key",
        E,
        "Two global keys in force at the same place use the same telephone key.",
        'global_keys:\n  agent: {key: "0", goto: to_agent}\n  operator: {key: "0", goto: operator}',
        "Give one of them another key, or turn one off where the other is needed (`operator: false`).",
    ),
    Entry(
        "FL312",
        "Global key incomplete",
        E,
        "A global key needs a key and what it does: `action: back`, `action: repeat` or "
        "`goto: <node>`. A flow or node may leave out what it inherits, but a key that the service "
        "does not declare must say both.",
        "global_keys: {help: {goto: help_desk}}   # no key, and the service declares no `help`",
        'Give the missing part: `help: {key: "9", goto: help_desk}`.',
    ),
    Entry(
        "FL313",
        "Global key goes nowhere",
        E,
        "A global key's `goto` names a node the flow does not have. The service's `goto` is looked up "
        "in each flow where the key works, so every such flow needs that node (or says otherwise).",
        'global_keys: {agent: {key: "0", goto: to_agent}}   # in the service; flow `quotes` has no to_agent',
        "Add the node (e.g. `to_agent: {type: return, outcome: agent}`), give the flow its own target "
        "(`global_keys: {agent: {goto: <node>}}`), or turn the key off there (`agent: false`).",
    ),
    Entry(
        "FL314",
        "Turning off an undeclared global key",
        W,
        "A flow or node turns off (`name: false`) a global key that is not declared above it: most "
        "likely a misspelt name, so the key it meant is still on.",
        "global_keys: {agnet: false}",
        "Use the name the service (or the flow) gives the key.",
    ),
    # FL4xx: languages and prompts
    Entry(
        "FL401",
        "Prompt missing a language",
        E,
        "A prompt has no text for one of the flow's declared languages.",
        "languages: [zh, en]\nprompt: {zh: 欢迎}",
        "Add the missing language: `{zh: 欢迎, en: Welcome}`.",
    ),
    Entry(
        "FL402",
        "Unknown language code",
        E,
        "A language is not an ISO 639-1 code (optionally with a region), or yue/cmn/nan/hak/wuu/fil.",
        "languages: [cn, en]",
        "Use `zh` for Chinese (`zh-Hant`, `yue` for Cantonese).",
    ),
    Entry(
        "FL403",
        "Prompt has no language",
        E,
        "A prompt is plain text, but the flow declares several languages, so it is unclear which it is.",
        "languages: [zh, en]\nprompt: Welcome",
        "Write `prompt: {zh: 欢迎, en: Welcome}`.",
    ),
    Entry(
        "FL404",
        "Prompt language not declared",
        W,
        "A prompt has text for a language the flow does not declare; it is never spoken.",
        "languages: [zh]\nprompt: {zh: 欢迎, en: Welcome}",
        "Declare the language or remove the text.",
    ),
    Entry(
        "FL405",
        "Audio file missing",
        W,
        "A prompt's audio file does not exist (paths are relative to the flow file).",
        "en: {audio: prompts/en/welcom.wav}",
        "Fix the path or add the file.",
    ),
    Entry(
        "FL406",
        "Switch to an undeclared language",
        E,
        "A `language` node switches to a language the flow's prompts do not speak.",
        "languages: [zh]\n...\nlanguage: en",
        "Declare the language (and give every prompt its text).",
    ),
    Entry(
        "FL407",
        "Language not offered by the service",
        W,
        "The flow speaks a language that the service's `languages:` does not list.",
        "service languages: [zh]; flow languages: [zh, en]",
        "Add it to the service, or remove it from the flow.",
    ),
    # FL5xx: variables and secrets
    Entry(
        "FL501",
        "Assignment to an undeclared variable",
        E,
        "A node assigns (set, collect/record `into`, lookup or subflow outputs) a name that is not "
        "declared, or a built-in name (`call`, `result`). Assigning a flow input is allowed.",
        "into: prise",
        "Fix the spelling or declare it under `variables:`.",
    ),
    Entry(
        "FL502",
        "Unused variable",
        W,
        "A declared variable or input is never read.",
        "variables:\n  old: {type: string}",
        "Remove it, or use it.",
    ),
    Entry(
        "FL503",
        "Undeclared output",
        E,
        "A `return` hands back a value the flow does not declare under `outputs:`.",
        "outputs: {acount: account}",
        "Declare the output or fix its name.",
    ),
    Entry(
        "FL504",
        "Name declared twice or built in",
        E,
        "A name is declared in two of inputs/outputs/variables, or is `call` or `result`.",
        "inputs: {code: ...}\nvariables: {code: ...}",
        "Keep one declaration; rename built-in names.",
    ),
    Entry(
        "FL510",
        "Secret would leave the engine",
        E,
        "A secret (declared `secret: true`, or a variable a `set` filled from one) is read where its "
        "value is spoken, logged, sent, stored with a recording, shown on an agent's screen or dialled.",
        'prompt: {en: "Your PIN is {pin}"}',
        "Never expose secrets; confirm without reading them back.",
    ),
    Entry(
        "FL511",
        "Secret passed to a non-secret input",
        E,
        "A secret is passed to a subflow input that the called flow does not declare secret.",
        "inputs: {code: pin}",
        "Declare the callee's input `secret: true`.",
    ),
    Entry(
        "FL512",
        "Secret handed back in the open",
        E,
        "A secret leaves a subflow through an output that is not declared secret (a `return` hands "
        "it back, or the output holds a copy of it), or the calling flow stores a secret output in a "
        "variable that is not declared secret. The engine masks declared secrets only, so the value "
        "could reach a trace or a call record.",
        "outputs: {pin_copy: {type: string}}\n...\n  type: return\n  outputs: {pin_copy: pin}",
        "Declare the output (and the variable that receives it) `secret: true`.",
    ),
    # FL6xx: service references
    Entry(
        "FL601",
        "Unknown operation",
        E,
        "A lookup names an operation the service does not declare (or there is no service file).",
        "operation: get_qoute",
        "Use the suggested name or declare it under `operations:` in service.yaml.",
    ),
    Entry(
        "FL602",
        "Arguments do not match the operation",
        E,
        "A lookup's `args` must name exactly the operation's `params`: none missing, none extra.",
        "params: [code]\nargs: {stock: code}",
        "Pass `args: {code: ...}`.",
    ),
    Entry(
        "FL603",
        "Unknown queue",
        E,
        "An enqueue names a queue the service does not declare.",
        "queue: genral",
        "Use the suggested queue or declare it under `queues:`.",
    ),
    Entry(
        "FL604",
        "Unknown calendar",
        E,
        "A schedule names a calendar the service does not declare.",
        "calendar: tradng",
        "Use the suggested calendar or declare it under `calendars:`.",
    ),
    Entry(
        "FL605",
        "Unknown channel",
        E,
        "A send names a message channel the service does not declare.",
        "channel: mail",
        "Use the suggested channel or declare it under `channels:`.",
    ),
    Entry(
        "FL606",
        "Unknown subflow",
        E,
        "A subflow node names a flow that is not part of the project.",
        "flow: authentcate",
        "Use the suggested flow name, or add the flow's file to the check.",
    ),
    Entry(
        "FL607",
        "Input not declared by the subflow",
        E,
        "A subflow node passes an input the called flow does not declare.",
        "inputs: {acount: account}",
        "Use one of the callee's inputs.",
    ),
    Entry(
        "FL608",
        "Required subflow input missing",
        E,
        "The called flow declares an input as required and the subflow node does not pass it.",
        "authenticate needs `account`",
        "Pass it, or declare it `required: false` in the callee.",
    ),
    Entry(
        "FL609",
        "Output not declared by the subflow",
        E,
        "A subflow node reads an output the called flow does not declare.",
        "outputs: {ok: verifed}",
        "Read one of the callee's outputs.",
    ),
    Entry(
        "FL610",
        "Outcome never returned",
        W,
        "A subflow node maps an outcome that no `return` of the called flow gives.",
        "outcomes: {locked_out: ...}",
        "Use an outcome the callee returns.",
    ),
    Entry(
        "FL611",
        "Number routed to an unknown flow",
        E,
        "A dialed number in the service routes to a flow that is not in the project.",
        'numbers: {"95500": mian}',
        "Fix the flow name, or include its file.",
    ),
    Entry(
        "FL612",
        "Operation does not return the field",
        W,
        "A lookup reads `result.x`, but the operation's `returns:` does not list x.",
        "returns: [last]\nassign: {p: result.price}",
        "Read a returned field, or add it to `returns:`.",
    ),
    Entry(
        "FL613",
        "Idempotency key is not a parameter",
        E,
        "An operation's `idempotency_key` must name one of its `params`: that argument carries the "
        "same key on every retry, so a retried order or transfer is never placed twice.",
        "params: [account, amount]\nidempotency_key: request_id",
        "Add the parameter to `params`, or name an existing one.",
    ),
    # FL8xx: hosting and tenants
    Entry(
        "FL801",
        "Tenant source unclear",
        E,
        "A tenant of the hosting file is either a folder of flows (with its service.yaml) or an "
        "installed module (`package:`, an entry point of the group ivr.modules), never both or neither.",
        'tenants:\n  fund:\n    numbers: ["4008"]',
        "Add `folder: tenants/fund` or `package: fund_hotline`.",
    ),
    Entry(
        "FL802",
        "Number leased twice",
        E,
        "A dialed number in the hosting file belongs to one tenant; two tenants list the same one.",
        'bank: {package: bank_cards, numbers: ["95588"]}\nfund: {folder: fund, numbers: ["95588"]}',
        "Give each tenant its own numbers.",
    ),
    Entry(
        "FL803",
        "Unknown time zone",
        E,
        "The hosting file's `timezone` (the days of the usage report) is not a zone of the IANA database.",
        "timezone: Beijing",
        "Use a zone name such as Asia/Shanghai or UTC.",
    ),
    Entry(
        "FL804",
        "Tenant not found",
        E,
        "The tenant's folder does not exist or holds no flows, or no installed package offers its "
        "entry point in the group ivr.modules (or the module ships no flows).",
        'bank: {package: bank_card, numbers: ["95588"]}',
        "Fix the folder path (relative to the hosting file) or install the tenant's package "
        "(`pip install ./tenants/bank_cards`); `pip show` tells whether it is installed.",
    ),
    Entry(
        "FL805",
        "Number not leased to the tenant",
        E,
        "The tenant's service routes a number that the hosting file does not lease to that tenant: "
        "calls to it would never reach this flow (or belong to another tenant).",
        'service.yaml: numbers: {"95500": main}   # hosting.yaml leases 95588 only',
        "Route the numbers the hosting file gives the tenant, or lease the number to it there.",
    ),
    Entry(
        "FL806",
        "Leased number without a flow",
        E,
        "The hosting file leases a number to a tenant whose service routes no flow for it: its "
        "callers would get 404.",
        'hosting.yaml: numbers: ["95588"]   # service.yaml has no "95588" under numbers',
        'Add `"95588": main` to the tenant\'s service `numbers:`, or drop the number from the hosting file.',
    ),
    Entry(
        "FL807",
        "Another tenant's name",
        E,
        "A tenant's flows can use only their own flows, operations, queues, calendars and channels; "
        "the name belongs to another tenant of the hosting file.",
        "type: subflow\nflow: card_loss   # a flow of the tenant 'bank'",
        "Use one of this tenant's own names; to share a flow, copy it into each tenant's folder.",
    ),
    Entry(
        "FL808",
        "Path outside the tenant",
        E,
        "An audio prompt or an SQLite database of a hosted tenant points outside the tenant: an "
        "absolute path, or one that climbs out with `..`. Prompts are relative to the flow file; "
        "databases are relative to the tenant's data directory.",
        "audio: ../../bank/prompts/welcome.wav",
        "Keep prompts inside the tenant's folder and databases in its data directory.",
    ),
    Entry(
        "FL809",
        "Python operation in a hosted tenant",
        E,
        "A hosted tenant's Python code comes from its module (`backend: module`), started and "
        "stopped with the tenant; `backend: python` could import any code of the server, including "
        "another tenant's.",
        "backend: python\nfunction: bank_cards.operations:balance",
        "Declare `module:` in the service file and `backend: module` for the operation.",
    ),
    Entry(
        "FL810",
        "Module cannot be loaded",
        E,
        "The service's `module:` names an entry point that no installed package offers, a Python "
        "path that does not import, or a file that is missing or raises when it is loaded.",
        "module: bank_cardz",
        'Check the name against the package\'s `[project.entry-points."ivr.modules"]`, or the path.',
    ),
    Entry(
        "FL811",
        "Module lacks the operation",
        E,
        "An operation with `backend: module` names a function the module does not provide, or one "
        "that cannot take `(ctx, <params>)`.",
        "card_balance: {backend: module, params: [card]}   # the module has no card_balance",
        "Add the function to the module's `operations`, or fix `function:` / `params:`.",
    ),
    Entry(
        "FL812",
        "Unknown overflow flow",
        E,
        "The tenant's `overflow_flow` in the hosting file is not one of its flows.",
        "overflow_flow: bussy",
        "Name a flow of the tenant (a short 'all lines are busy, call again' flow).",
    ),
    Entry(
        "FL813",
        "Published version changes the module",
        E,
        "Publishing swaps flows, the service file and prompts while the server runs; the module's "
        "code is loaded once at start-up, so a version cannot name another module.",
        "module: bank_cards_v2",
        "Keep `module:` as the running version has it; install new module code and restart.",
    ),
    Entry(
        "FL814",
        "Agents file missing",
        E,
        "The tenant's `agents:` file in the hosting file does not exist.",
        "agents: config/bank-agents.yml",
        "Fix the path (relative to the hosting file) or remove `agents:` (no agents for the tenant).",
    ),
    Entry(
        "FL815",
        "Overflow settings incomplete",
        W,
        "Overflow calls (beyond `seats: calls`) hear the tenant's `overflow_flow`; one is set without "
        "the other, so it has no effect.",
        "seats: {calls: 10, overflow: 2}   # no overflow_flow",
        "Set both `seats: {calls: N, overflow: M}` and `overflow_flow:`, or neither.",
    ),
    Entry(
        "FL816",
        "Password in the database URL",
        E,
        "The hosting file's `database: url` holds a password; the file is shared and kept in "
        "version control, so the password would be too.",
        "database: {url: postgresql://ivr:secret@db:5432/ivr}",
        "Write `postgresql://ivr@db:5432/ivr` and give the password in PGPASSWORD or ~/.pgpass.",
    ),
]

_ENTRIES += [
    Entry(
        "FL614",
        "Query or URL names an undeclared parameter",
        E,
        "An SQL query's `:name` placeholder or an HTTP URL's `{name}` part is not one of the "
        "operation's `params`, so the back end would refuse the operation when serving.",
        "query: SELECT cash FROM accounts WHERE account = :acount\nparams: [account]",
        "Use the parameter's name (`:account`), or add it to `params`.",
    ),
    Entry(
        "FL615",
        "Parameter never used by the query",
        W,
        "An SQL operation declares a parameter that none of its statements uses; the value a lookup "
        "passes is thrown away.",
        "query: SELECT cash FROM accounts\nparams: [account]",
        "Use it as `:account` in the query, or remove it from `params`.",
    ),
    Entry(
        "FL616",
        "Unknown time zone",
        E,
        "A calendar's `timezone` is not in the zone database, so its opening hours could not be "
        "placed in time.",
        "timezone: Beijing",
        "Use an Area/City name: `timezone: Asia/Shanghai`.",
    ),
    Entry(
        "FL617",
        "Opening period that ends before it starts",
        E,
        "A calendar period's end is not after its start, so the calendar is never open then.",
        'mon: [["15:00", "13:00"]]',
        'Write the earlier time first: `["13:00", "15:00"]`.',
    ),
    Entry(
        "FL618",
        "Suspicious calendar",
        W,
        "Two opening periods of a day overlap, a holiday is listed twice, or no day has opening "
        "hours at all (the calendar is always closed).",
        'mon: [["09:30", "11:30"], ["11:00", "15:00"]]',
        "Make each period start after the one before ends; remove repeats.",
    ),
    Entry(
        "FL619",
        "Dialed number starts a flow that needs inputs",
        E,
        "A call brings no inputs, so a number cannot start a flow with required inputs (such a flow "
        "is meant to be called as a subflow).",
        'numbers: {"95500": authenticate}   # authenticate needs `account`',
        "Route the number to the entry flow, or declare the inputs `required: false`.",
    ),
    Entry(
        "FL620",
        "Secret written into the service file",
        E,
        "A channel's gateway password or token (or a header or query parameter that looks like a key) "
        "is written as text. Secrets come from the environment, so they never reach version control, "
        "logs or `ivr check` output.",
        "smtp:\n  host: smtp.broker.example\n  password: hunter2",
        "Write a reference, `password: ${SMTP_PASSWORD}`, and set the variable where `ivr serve` runs.",
    ),
    Entry(
        "FL621",
        "Gateway settings do not fit the channel",
        E,
        "A channel's gateway settings belong to another kind (`http:` is for SMS gateways, `smtp:` for "
        "e-mail and fax-by-e-mail), or a setting the gateway cannot do without is missing: `from` for "
        "mail, `fax_address` for fax.",
        "email:\n  kind: email\n  http: {url: http://sms.example/send}",
        "Move the setting to a channel of the right kind, or add the missing one (docs/channels.md).",
    ),
    Entry(
        "FL622",
        "SMS keyword runs a flow that does not exist",
        E,
        "An SMS channel's `inbound: keywords:` table runs a flow that is not part of the project, so "
        "a customer's text command could not be answered.",
        "keywords:\n  HQ: {flow: sms_qoute, args: [code]}",
        "Use the flow's name, or add the flow's file to the check.",
    ),
    Entry(
        "FL623",
        "SMS keyword's args do not match the flow's inputs",
        E,
        "A keyword's `args:` name the flow inputs the words after the keyword fill, in order. Each "
        "must be an input of the flow, and every required input must be one of them: a text has no "
        "other way to give it.",
        "keywords:\n  HQ: {flow: sms_quote, args: [stock]}   # sms_quote takes `code`",
        "Name the flow's inputs in `args:`, or declare an input `required: false`.",
    ),
]

_ENTRIES += [
    Entry(
        "FL630",
        "Agent flow that does not exist",
        E,
        "`agent_flows:` in the service lets agents send callers into a flow that is not part of "
        "the project, so the desktop would offer something that cannot run.",
        "agent_flows:\n  agent_pn: {label: {en: Trading PIN}}",
        "Use the flow's name (`agent_pin`), or add the flow's file to the check.",
    ),
    Entry(
        "FL631",
        "Agent flow outcome never returned",
        W,
        "An agent flow's `outcomes:` words an outcome that no `return` of the flow gives, so the "
        "agent would never see those words.",
        "outcomes: {verfied: {en: PIN verified}}",
        "Use an outcome the flow returns.",
    ),
    Entry(
        "FL632",
        "Agent flow that does not give the call back",
        E,
        "A flow agents may send callers into hangs up, queues or transfers the caller; the agent "
        "is waiting for the caller to come back with the outcome.",
        "type: hangup   # in a flow listed under agent_flows",
        "End the flow with a `return` and an outcome; the agent decides what happens next.",
    ),
]

# FL7xx: outbound calling (trunks, campaigns, outbound flows; docs/outbound.md)
_ENTRIES += [
    Entry(
        "FL701",
        "Trunk keeps every channel for inbound calls",
        E,
        "A trunk's `reserve` (channels always left free for inbound calls) is as large as its "
        "`channels`, so no outbound call could ever be placed on it.",
        "trunks:\n  carrier: {gateway: 10.0.0.5:5060, channels: 4, reserve: 4}",
        "Keep the reserve below the channel count, e.g. `reserve: 1`.",
    ),
    Entry(
        "FL702",
        "Campaign contacts have no single source",
        E,
        "A campaign's `contacts` must name exactly one list: a CSV file (`csv:`) or an SQL query "
        "(`query:` with `database:`).",
        "contacts: {number: phone}",
        "Add `csv: contacts.csv` (relative to the service file) or a `query:` and its `database:`.",
    ),
    Entry(
        "FL703",
        "Campaign uses an undeclared trunk",
        E,
        "A campaign's calls go out through a trunk declared under `trunks:`; this one is not.",
        "campaigns:\n  news: {flow: news, trunk: carier, contacts: {csv: news.csv}}",
        "Name a declared trunk (the hint lists them) or declare it.",
    ),
    Entry(
        "FL704",
        "Campaign flow is missing or not an outbound flow",
        E,
        "A campaign runs its `flow` on every answered call. The flow must exist and declare "
        "`outbound:` (the contact fields it reads, its dispositions), so the checker knows what "
        "`contact` and `disposition` hold in it.",
        "campaigns:\n  news: {flow: main, trunk: carrier, contacts: {csv: news.csv}}",
        "Name an outbound flow, or add an `outbound:` section to the flow.",
    ),
    Entry(
        "FL705",
        "Contact list lacks a field",
        E,
        "The campaign's CSV file has no column for the phone number (`contacts.number`, "
        "default `phone`), the time zone column, or a contact field the flow declares under "
        "`outbound.contact` and reads as `contact.<field>`.",
        "outbound:\n  contact: {name: {type: string}}   # but news.csv has phone,nmae",
        "Add the column to the file, fix its name, or make the field `required: false`.",
    ),
    Entry(
        "FL706",
        "Contact list cannot be read",
        E,
        "The CSV file a campaign names does not exist or is not readable UTF-8 text with a header line.",
        "contacts: {csv: contacts/missing.csv}",
        "Give the path relative to the service file, and a header line such as `phone,name`.",
    ),
    Entry(
        "FL707",
        "Undeclared disposition",
        E,
        "An outbound flow sets `disposition` to a value its `outbound.dispositions` does not "
        "list. Reports count attempts by disposition, so a misspelt one would go uncounted. "
        "`opted_out` is always allowed: it puts the number on the do-not-call list.",
        "set: {disposition: \"'intrested'\"}",
        "Use a declared disposition, or add it to `outbound.dispositions`.",
    ),
    Entry(
        "FL712",
        "Campaign may hold more calls than the trunk gives it",
        W,
        "A campaign's `pacing.max_concurrent` is above the trunk's channels minus its reserve; "
        "the trunk's limit wins, so the setting promises more than it can do.",
        "pacing: {max_concurrent: 50}   # trunk: 30 channels, reserve 5",
        "Lower `max_concurrent` to what the trunk can give (channels - reserve).",
    ),
    Entry(
        "FL730",
        "Callback offered only after the caller has timed out",
        W,
        "An `enqueue` node's `callback.after` is not shorter than its `max_wait`: the caller "
        "leaves the queue (`on_timeout`) before the wait ever reaches the point where the "
        "callback is offered, so nobody hears the offer.",
        "max_wait: 60s\ncallback: {key: 1, after: 90s}",
        "Offer the callback earlier (`after: 30s`) or let callers wait longer (`max_wait`).",
    ),
    Entry(
        "FL731",
        "Callback offered on an outbound call",
        E,
        "A queue callback calls the caller back on the number they called from. An outbound "
        "flow's callee did not call in (we called them), so a callback offer there has no "
        "caller to call back.",
        "outbound: {contact: {}}\nnodes:\n  agent: {enqueue: {queue: sales, callback: {key: 1}}}",
        "Leave `callback` out of outbound flows; offer it in the inbound flow's `enqueue`.",
    ),
    Entry(
        "FL732",
        "Callback key is also a global key",
        W,
        "The `callback.key` of an `enqueue` node is a key that works in every menu of the flow "
        "(`global_keys`). While the caller waits only the callback offer listens, but callers "
        "who learned the key's global meaning will be called back instead.",
        'global_keys: {operator: {key: "0", goto: agent}}\n...\ncallback: {key: "0"}',
        "Pick a key no global key uses, such as `1`.",
    ),
    Entry(
        "FL733",
        "Callback offered without a trunk",
        W,
        "A callback calls the customer back through one of the service's SIP trunks. The "
        "service declares none, so the queue cannot call anyone back and plays no offer: "
        "callers simply wait as if `callback` were not there.",
        "service.yaml without `trunks:`; a flow with `callback: {key: 1}`",
        "Declare a trunk under `trunks:` in the service file (docs/outbound.md).",
    ),
    Entry(
        "FL720",
        "Followed contact list without a query or a key",
        E,
        "A campaign's `contacts.follow` keeps a standing run fed by re-reading its SQL `query`; "
        "each row is added by its `key` column, so a row read again is not called twice. "
        "A CSV file, or a query without `key`, cannot be followed.",
        "contacts: {query: SELECT phone FROM events, database: events.sqlite3, follow: 5s}",
        "Add `key: COLUMN` (a column unique per event) to a `query:` list.",
    ),
    Entry(
        "FL721",
        "SMS fallback through a channel that is not SMS",
        E,
        "A campaign's `sms_fallback.channel` must name a channel of `kind: sms` under `channels:`.",
        "sms_fallback: {channel: email, text: sms_text}",
        "Name the service's SMS channel, or declare one.",
    ),
    # FL96x: channels (what a web chat cannot do; docs/channels.md)
    Entry(
        "FL960",
        "A web chat cannot record a voice message",
        W,
        "Every flow the service answers on the phone also runs in its web chat. A `record` node "
        "there asks a chat visitor for a voice message that cannot come: without another path the "
        "chat records nothing and takes `on_no_input`, which tells the visitor nothing useful.",
        "leave_message:\n  type: record\n  into: message\n  next: thanks\n  on_no_input: nothing",
        "Give chats their own path with `on_chat: <node>` (ask for a call-back number with a "
        "`collect`, or `enqueue` for an agent); the node then takes it in a chat at once.",
    ),
]

CATALOGUE: dict[str, Entry] = {entry.code: entry for entry in _ENTRIES}


def lookup(code: str) -> Entry | None:
    """The entry for `code` ("FL301", "fl301" or "301")."""
    code = code.strip().upper()
    if code.isdigit():
        code = "FL" + code.zfill(3)
    return CATALOGUE.get(code)


def suggest(code: str) -> str | None:
    return did_you_mean(code.strip().upper(), CATALOGUE)


def render_entry(entry: Entry) -> str:
    """An entry as plain text, for `ivr explain`."""
    example = "\n".join("    " + line for line in entry.example.splitlines())
    return (
        f"{entry.code} ({entry.severity.label}): {entry.title}\n\n{entry.explanation}\n\n"
        f"Example:\n{example}\n\nFix: {entry.fix}\n"
    )


_GROUPS = {
    "0": "Files and YAML",
    "1": "Shape (schema)",
    "2": "Expressions",
    "3": "Flow graph",
    "4": "Languages and prompts",
    "5": "Variables and secrets",
    "6": "Service references",
    "7": "Outbound calling",
    "8": "Hosting and tenants",
    "9": "Channels (web chat)",
}


def errors_markdown() -> str:
    """The text of docs/errors.md."""
    out = [
        "# Diagnostic codes",
        "",
        "Generated from `ivr.flowlang.catalogue` by `python -m ivr.flowlang.catalogue`;"
        " do not edit by hand. `ivr explain CODE` prints one entry.",
        "",
    ]
    group = ""
    for entry in sorted(_ENTRIES, key=lambda e: e.code):
        if entry.code[2] != group:
            group = entry.code[2]
            out += [f"## FL{group}xx: {_GROUPS[group]}", ""]
        out += [f"### {entry.code}: {entry.title}", "", f"Severity: {entry.severity.label}.", ""]
        out += [entry.explanation, "", "```yaml", entry.example, "```", "", f"Fix: {entry.fix}", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(errors_markdown())
