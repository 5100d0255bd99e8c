"""Checks on a document before its schema: kind, apiVersion, metadata, spec's components.

They read the raw mapping and tolerate any shape (the schema reports wrong types), so
their refusals are reported even when the schema fails elsewhere in the document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from zeroserve.resource.errors import Notice, Problem, invalid, missing, problem, unsupported
from zeroserve.resource.model import (
    DEFAULT_NAMESPACE,
    KIND,
    KSERVE_API_VERSION,
    ZEROSERVE_API_VERSION,
)

API_VERSIONS = (KSERVE_API_VERSION, ZEROSERVE_API_VERSION)
OLD_GROUP = "serving.kubeflow.org"

# KServe's IsvcNameFmt and InvalidISVCNameFormatError (inference_service_validation.go).
ISVC_NAME_FORMAT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_ISVC_NAME = re.compile(f"^{ISVC_NAME_FORMAT}$")
ISVC_NAME_ERROR = (
    'the InferenceService "{}" is invalid: a InferenceService name must consist of lower case '
    "alphanumeric characters or '-', and must start with alphabetical character. "
    '(e.g. "my-name" or "abc-123", regex used for validation is \'{}\')'
)
# Kubernetes' DNS-1123 label, for namespaces.
DNS1123_LABEL_FORMAT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(f"^{DNS1123_LABEL_FORMAT}$")
DNS1123_LABEL_MAX = 63

ANNOTATIONS_PATH = "metadata.annotations"
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
SERVERLESS_MODES = ("Serverless", "Knative")
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
AUTOSCALER_CLASSES = ("hpa", "external", "none", "keda")  # KServe's AutoscalerAllowedClassList
TAG_ROUTING = "serving.kserve.io/enable-tag-routing"
KSERVE_PREFIX = "serving.kserve.io/"

# Annotations KServe reads that have no effect here, and why.
IGNORED_ANNOTATIONS = {
    "serving.kserve.io/enable-prometheus-scraping": "Zeroserve always exports Prometheus "
    "metrics (/metrics on the admin port)",
    "serving.kserve.io/enable-metric-aggregation": "Zeroserve always exports Prometheus "
    "metrics (/metrics on the admin port)",
    "serving.kserve.io/stop": "stopping a service by annotation is not supported yet",
    "serving.kserve.io/disable-auto-update": "Zeroserve always reconciles",
    "serving.knative.dev/rollout-duration": "gradual rollouts are not supported yet",
}
KNOWN_KSERVE_ANNOTATIONS = frozenset({DEPLOYMENT_MODE, AUTOSCALER_CLASS, TAG_ROUTING})

SPEC_COMPONENTS = {
    "transformer": "transformers are not supported (Zeroserve serves the predictor only)",
    "explainer": "explainers are not supported (Zeroserve serves the predictor only)",
}


@dataclass(frozen=True, slots=True)
class Head:
    """What a verdict line shows, read leniently from any mapping."""

    kind: str | None
    api_version: str | None
    name: str | None
    namespace: str | None


def read_head(body: Mapping[object, object]) -> Head:
    metadata = body.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    return Head(
        kind=kind if isinstance(kind, str) else None,
        api_version=api_version if isinstance(api_version, str) else None,
        name=name if isinstance(name, str) else None,
        namespace=namespace if isinstance(namespace, str) else DEFAULT_NAMESPACE,
    )


def check_kind(body: Mapping[object, object]) -> list[Problem]:
    """A document without a ``kind`` string is refused; the caller skips other kinds."""
    kind = body.get("kind")
    if kind is None:
        absent = [key for key in ("apiVersion", "kind") if body.get(key) is None]
        return [missing(*absent)]
    if not isinstance(kind, str):
        return [invalid("kind", kind, f"a string ({KIND} here)")]
    return []


def check_api_version(value: object) -> list[Problem]:
    allowed = ", ".join(API_VERSIONS)
    if value in API_VERSIONS:
        return []
    if value is None:
        return [missing("apiVersion", allowed=allowed)]
    if isinstance(value, str) and value.split("/", 1)[0] == OLD_GROUP:
        return [
            problem(
                f"apiVersion {value} is the old KFServing API group, which KServe replaced",
                "apiVersion",
                allowed=allowed,
            )
        ]
    return [invalid("apiVersion", value, allowed)]


def check_metadata(body: Mapping[object, object]) -> tuple[list[Problem], list[Notice]]:
    """KServe's name rule, Kubernetes' namespace rule, the deployment mode and KServe's
    own annotations (the ``autoscaling.knative.dev/*`` ones are checked with scaling)."""
    problems: list[Problem] = []
    notices: list[Notice] = []
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping):
        return problems, notices
    name = metadata.get("name")
    if isinstance(name, str) and not _ISVC_NAME.match(name):
        problems.append(
            Problem(
                "metadata.name", f"{ISVC_NAME_ERROR.format(name, ISVC_NAME_FORMAT)}: metadata.name"
            )
        )
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and (
        not _DNS1123_LABEL.match(namespace) or len(namespace) > DNS1123_LABEL_MAX
    ):
        problems.append(
            invalid(
                "metadata.namespace",
                namespace,
                "a lowercase RFC 1123 label: at most 63 lower case alphanumeric characters "
                "or '-', starting and ending with an alphanumeric character (regex used for "
                f"validation is '{DNS1123_LABEL_FORMAT}')",
            )
        )
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping):
        _annotations(annotations, problems, notices)
    return problems, notices


def _annotations(
    annotations: Mapping[object, object], problems: list[Problem], notices: list[Notice]
) -> None:
    mode = annotations.get(DEPLOYMENT_MODE)
    path = f"{ANNOTATIONS_PATH}.{DEPLOYMENT_MODE}"
    if isinstance(mode, str) and mode not in SERVERLESS_MODES:
        problems.append(
            problem(
                f'deploymentMode "{mode}" is not supported',
                path,
                allowed=f"{', '.join(SERVERLESS_MODES)} or no annotation "
                "(Zeroserve runs KServe's serverless mode)",
            )
        )
    klass = annotations.get(AUTOSCALER_CLASS)
    path = f"{ANNOTATIONS_PATH}.{AUTOSCALER_CLASS}"
    if isinstance(klass, str):
        if klass not in AUTOSCALER_CLASSES:
            problems.append(
                problem(
                    f"[{klass}] is not a supported autoscaler class type",
                    path,
                    allowed=f"{', '.join(AUTOSCALER_CLASSES)} (used in Standard mode only)",
                )
            )
        else:
            notices.append(
                Notice(
                    path,
                    f"annotation {AUTOSCALER_CLASS} is ignored: it applies to Standard "
                    "(raw deployment) mode only; Zeroserve scales with Knative's KPA",
                )
            )
    for key in sorted(k for k in annotations if isinstance(k, str)):
        path = f"{ANNOTATIONS_PATH}.{key}"
        if key in IGNORED_ANNOTATIONS:
            notices.append(Notice(path, f"annotation {key} is ignored: {IGNORED_ANNOTATIONS[key]}"))
        elif key.startswith(KSERVE_PREFIX) and key not in KNOWN_KSERVE_ANNOTATIONS:
            notices.append(
                Notice(path, f"annotation {key} is ignored: Zeroserve does not implement it")
            )


def check_components(body: Mapping[object, object]) -> list[Problem]:
    """``spec.transformer``, ``spec.explainer`` and ``spec.canary`` are beyond the subset."""
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return []
    problems = [
        unsupported(message, f"spec.{field}")
        for field, message in SPEC_COMPONENTS.items()
        if spec.get(field) is not None
    ]
    if spec.get("canary") is not None:
        problems.append(
            unsupported(
                "canary is only supported in Standard deployment mode",  # KServe's text
                "spec.canary",
                allowed="spec.predictor.canaryTrafficPercent (the serverless canary)",
            )
        )
    return problems
