"""InferenceService manifests → frozen dataclasses, or refusals that say why (docs/resource.md).

Two apiVersions are read:

* ``serving.kserve.io/v1beta1``, unchanged: KServe's predictor subset (``model``, the
  legacy framework shorthands normalised to ``model``, or one custom container), with
  KServe's defaults and webhook texts, and what Knative would refuse later checked up
  front (``zeroserve.config`` for the scaling knobs and annotations).
* ``serving.zeroserve.io/v1alpha1``: the same predictor, field for field, plus what a
  laptop needs. A container (custom, or a model's inline one) may give a ``command``
  (and ``args``) instead of an ``image``: the local runtime runs it as a process,
  replacing ``{port}`` and ``{grpc_port}`` in ``command``, ``args`` and ``env`` values with
  free ports per replica (other braces pass as written; a ``{name}`` that is not a
  placeholder gets a warning). ``workingDir`` is resolved against the manifest's folder,
  which is also its default, so ``command: [python, server.py]`` runs next to the
  manifest. Nothing else differs; on Kubernetes an ``image`` is still needed.

Entry points: ``parse_paths`` (files and folders), ``parse_text`` (YAML text),
``parse_document``; each document gets a ``Verdict`` (OK with the ``InferenceService``,
REFUSED with every ``Problem``, or SKIPPED for another kind), with warnings
(``Notice``). ``verdicts`` renders them for ``zeroserve validate``. Pydantic is used at
the edge only (``schema``), and its messages never reach a user (``schema_errors``).
This package imports nothing of Zeroserve's but ``zeroserve.config``.
"""

from zeroserve.resource.cluster_config import load_autoscaler_config
from zeroserve.resource.errors import (
    ConfigFileError,
    MissingPathError,
    Notice,
    Problem,
    RefusedError,
    ResourceError,
    Source,
)
from zeroserve.resource.frozen import FrozenMap, freeze, thaw
from zeroserve.resource.hosts import DEFAULT_DOMAIN, predictor_host, service_host, tag_host
from zeroserve.resource.model import (
    DEFAULT_NAMESPACE,
    KSERVE_API_VERSION,
    PREDICTOR_CONTAINER,
    ZEROSERVE_API_VERSION,
    Container,
    EnvVar,
    HttpGet,
    InferenceService,
    ModelSpec,
    Port,
    Predictor,
    Probe,
    Resources,
    TcpSocket,
)
from zeroserve.resource.parse import Outcome, Verdict, parse_document, parse_paths, parse_text
from zeroserve.resource.placeholders import PLACEHOLDERS

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_NAMESPACE",
    "KSERVE_API_VERSION",
    "PLACEHOLDERS",
    "PREDICTOR_CONTAINER",
    "ZEROSERVE_API_VERSION",
    "ConfigFileError",
    "Container",
    "EnvVar",
    "FrozenMap",
    "HttpGet",
    "InferenceService",
    "MissingPathError",
    "ModelSpec",
    "Notice",
    "Outcome",
    "Port",
    "Predictor",
    "Probe",
    "Problem",
    "RefusedError",
    "ResourceError",
    "Resources",
    "Source",
    "TcpSocket",
    "Verdict",
    "freeze",
    "load_autoscaler_config",
    "parse_document",
    "parse_paths",
    "parse_text",
    "predictor_host",
    "service_host",
    "tag_host",
    "thaw",
]
