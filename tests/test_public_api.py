"""The public face: every public name documented, re-exports shown where users import them.

IDE hover is the first documentation a user reads, so each public function, class and
method has a docstring that names every one of its parameters; re-exports carry
``__module__ = "vaquero"`` (as httpx does), so ``help(vaquero.span)`` and tracebacks show
the name users wrote.
"""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import vaquero
import vaquero.analysis
import vaquero.exporters
import vaquero.propagation
import vaquero.testing
import vaquero.workflow

PUBLIC_MODULES = [
    vaquero, vaquero.workflow, vaquero.propagation, vaquero.testing, vaquero.exporters,
    vaquero.analysis,
]


def _public_callables() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for module in PUBLIC_MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, ModuleType) or not callable(obj):
                continue
            found.append((f"{module.__name__}.{name}", obj))
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not callable(member):
                        continue
                    found.append((f"{module.__name__}.{name}.{attr}", member))
    return found


PUBLIC = _public_callables()


@pytest.mark.parametrize(("qualname", "obj"), PUBLIC, ids=[q for q, _ in PUBLIC])
def test_every_public_name_has_a_docstring_naming_its_parameters(qualname: str, obj) -> None:
    doc = inspect.getdoc(obj) or ""
    assert len(doc) >= 30, f"{qualname} needs a docstring that says why and how"
    if inspect.isclass(obj):
        return
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return
    missing = [
        name for name, parameter in parameters.items()
        if name not in ("self", "cls")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and name not in doc
    ]
    assert missing == [], f"{qualname}: the docstring does not mention {missing}"


def test_top_level_re_exports_show_the_public_module() -> None:
    wrong = {
        name: getattr(vaquero, name).__module__
        for name in vaquero.__all__
        if not isinstance(getattr(vaquero, name), ModuleType)
        and hasattr(getattr(vaquero, name), "__module__")
        and getattr(vaquero, name).__module__ != "vaquero"
    }
    assert wrong == {}
