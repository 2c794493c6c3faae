"""Finding the projection a command names as ``module:Class``."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from projections.errors import ProjectionDefinitionError
from projections.projection import Projection


def load_projection(spec: str) -> Projection[Any]:
    """Import ``module`` and instantiate its ``Class`` (a ``Projection`` subclass). The
    current directory is importable, as it is for ``python -m``."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ProjectionDefinitionError(f"{spec!r}: expected MODULE:CLASS")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ProjectionDefinitionError(
            f"{spec!r}: cannot import {module_name}: {error}"
        ) from error
    if not hasattr(module, class_name):
        raise ProjectionDefinitionError(
            f"{spec!r}: module {module_name!r} has no attribute {class_name!r}"
        )
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, Projection)):
        raise ProjectionDefinitionError(f"{spec!r}: {class_name} is not a Projection class")
    projection: Projection[Any] = cls()
    return projection
