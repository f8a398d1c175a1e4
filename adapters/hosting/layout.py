"""Where a tenant's files live under the server's data directory.

Place: shared by the server, the publisher, `ivr report usage` and the commands that run a
tenant's module (`ivr simulate --tenant`). Hosted tenants (a hosting file) each get a folder
of their own; the one tenant of a plain flows folder keeps the layout `ivr serve` has always
used, so an existing data directory works unchanged:

    hosted: DATA/tenants/<name>/data/         the module's own data directory (ctx.data_dir)
                                /versions/     published versions (ivr publish)
                                /recordings/   call and agent recordings
                                /tts/          rendered prompts (or TTS_CACHE/<name>/)
                                /outbox.sqlite3
    folder: DATA/ (module data), DATA/recordings/, DATA/tts/, DATA/outbox.sqlite3
    both:   DATA/calls.sqlite3 (call records of every tenant, keyed by tenant and version)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TenantLayout:
    """One tenant's paths (see the module docstring)."""

    name: str
    root: Path
    module_data: Path
    recordings: Path
    tts: Path
    outbox: Path
    versions: Path | None  # None: a plain folder is not published to

    @classmethod
    def hosted(cls, data_dir: Path, name: str, tts_cache: Path | None = None) -> TenantLayout:
        root = data_dir / "tenants" / name
        tts = tts_cache / name if tts_cache is not None else root / "tts"
        return cls(
            name, root, root / "data", root / "recordings", tts, root / "outbox.sqlite3", root / "versions"
        )

    @classmethod
    def folder(cls, data_dir: Path, name: str, tts_cache: Path | None = None) -> TenantLayout:
        tts = tts_cache or data_dir / "tts"
        return cls(name, data_dir, data_dir, data_dir / "recordings", tts, data_dir / "outbox.sqlite3", None)

    @property
    def agent_recordings(self) -> Path:
        return self.recordings / "agents"
