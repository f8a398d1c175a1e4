"""The compiler's stages, one module per step (stage 3 of flowlang: checked data -> IR).

`reader` gives typed, never-failing access to the loaded YAML with spans; `values` builds
durations, expressions, templates and prompts; `nodes` builds one IR node per kind; `flow`
and `service` assemble whole documents. `ivr.flowlang.compiler` is the public face.
"""
