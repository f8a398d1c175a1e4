"""ivr: an IVR flow language and its hosting runtime.

The repository keeps the pipeline visible at its top level (`flowlang/`, `runtime/`,
`adapters/`, `editor/`); this package re-homes those folders under the one name `ivr` so
that installing the project never puts generic names such as `runtime` into site-packages.
Always import them as `ivr.flowlang`, `ivr.runtime`, ... (ruff bans the bare names).
"""

__version__ = "0.1.0"
