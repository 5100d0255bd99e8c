"""The ``config-autoscaler`` file: a Knative ConfigMap or a plain mapping of its keys.

Locally the cluster-wide defaults come from a YAML file; it may be Knative's own
ConfigMap (``kind: ConfigMap``, keys under ``data``) or just the keys. Knative's
``_example`` key (documentation only) is dropped, as Knative ignores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from zeroserve.config import AutoscalerConfig, ConfigError, ConfigWarnings, parse_autoscaler_config
from zeroserve.resource.documents import read_documents
from zeroserve.resource.errors import ConfigFileError, MissingPathError

EXAMPLE_KEY = "_example"


def load_autoscaler_config(path: str | Path) -> tuple[AutoscalerConfig, ConfigWarnings]:
    """An empty file means the defaults. Raises ``MissingPathError`` or ``ConfigFileError``
    (naming the file) on failure."""
    file = Path(path)
    if not file.is_file():
        raise MissingPathError(str(path))
    documents = read_documents(file)
    if not documents:
        return parse_autoscaler_config({})  # an empty file: the defaults
    if len(documents) > 1:
        raise ConfigFileError(f"{path}: expected one YAML document, found {len(documents)}")
    document = documents[0]
    if document.problem is not None:
        raise ConfigFileError(f"{path}: {document.problem.text}")
    body = document.body
    if not isinstance(body, Mapping):
        raise ConfigFileError(f"{path}: expected a mapping of config-autoscaler keys")
    data: object = body
    if body.get("kind") == "ConfigMap":
        data = body.get("data") or {}
        if not isinstance(data, Mapping):
            raise ConfigFileError(f"{path}: data: expected a mapping of config-autoscaler keys")
    assert isinstance(data, Mapping)
    keys = {k: v for k, v in data.items() if k != EXAMPLE_KEY}
    try:
        return parse_autoscaler_config(keys)
    except ConfigError as error:
        raise ConfigFileError(f"{path}: {error.text}") from None
