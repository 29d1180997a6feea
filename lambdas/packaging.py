"""What goes into the canary hook's zip: its handler and the pure modules it imports, nothing else.

The zip is standard library + boto3 only (the Lambda runtime provides boto3), so it stays a few
tens of KiB. `hook_archive_files()` is the single list; infra builds its asset archive from it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent

HOOK_MODULES = (
    "lambdas/__init__.py",
    "lambdas/canary_hook.py",
    "lambdas/aws_adapter.py",
    "lambdas/store.py",
    "strategies/__init__.py",
    "strategies/rollout.py",
    "strategies/controller.py",
)
HOOK_HANDLER = "lambdas.canary_hook.handler"


def hook_archive_files() -> dict[str, Path]:
    """Archive path -> source file for the canary hook's zip."""
    return {name: _ROOT / name for name in HOOK_MODULES}


def build_hook_zip(dest: Path) -> Path:
    """Write the hook's zip to `dest`, reproducibly (fixed timestamps, sorted entries)."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in sorted(hook_archive_files().items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, source.read_bytes())
    return dest
