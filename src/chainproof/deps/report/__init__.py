"""Output formats of a scan: name -> a function from `ScanResult` to the report's text.

Each format lives in its own module, imported only when asked for (SARIF and CycloneDX may be
absent from a build; asking for them then is a usage error).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from chainproof.deps.model import ScanResult
from chainproof.errors import UsageError

Renderer = Callable[[ScanResult], str]


def _lazy(fmt: str, module_name: str) -> Renderer:
    def render(result: ScanResult) -> str:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            raise UsageError(f"the {fmt} format is not available in this build") from None
        renderer: Renderer = module.render
        return renderer(result)

    return render


FORMATS: dict[str, Renderer] = {
    "table": _lazy("table", "chainproof.deps.report.table"),
    "json": _lazy("json", "chainproof.deps.report.json_report"),
    "sarif": _lazy("sarif", "chainproof.deps.report.sarif"),
    "cyclonedx": _lazy("cyclonedx", "chainproof.deps.report.cyclonedx"),
}


def render(fmt: str, result: ScanResult) -> str:
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    return renderer(result)
