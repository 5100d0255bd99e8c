"""KServe's serverless hostnames, and the DNS-label limit they must fit.

``{name}.{namespace}.{domain}`` for the service, ``{name}-predictor.{namespace}.{domain}``
for the predictor, and the tag hosts ``prev-…`` and ``latest-…`` of the predictor route
(kserve.md §2.4, §3). Knative fails a route whose host label passes 63 characters, late
and obscurely (kserve#1377, #4807); Zeroserve checks when the manifest is admitted.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DOMAIN = "example.com"
DNS_LABEL_MAX = 63
PREDICTOR_SUFFIX = "-predictor"
PREV_TAG = "prev"
LATEST_TAG = "latest"


def service_host(name: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    return f"{name}.{namespace}.{domain}"


def predictor_host(name: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    return f"{predictor_label(name)}.{namespace}.{domain}"


def tag_host(tag: str, name: str, namespace: str, domain: str = DEFAULT_DOMAIN) -> str:
    """Knative's ``tagTemplate`` ``{{.Tag}}-{{.Name}}`` on the predictor route."""
    return f"{tag}-{predictor_label(name)}.{namespace}.{domain}"


def predictor_label(name: str) -> str:
    return f"{name}{PREDICTOR_SUFFIX}"


@dataclass(frozen=True, slots=True)
class LongLabel:
    """A host whose first label is too long, and the longest name that would fit."""

    label: str
    host: str
    max_name: int


def long_labels(
    name: str,
    namespace: str,
    *,
    canary: bool,
    tag_routing: bool,
    domain: str = DEFAULT_DOMAIN,
) -> list[LongLabel]:
    """The hosts this service would get whose first label passes 63 characters.

    The ``prev`` tag exists while a canary is set, ``latest`` with tag routing on.
    """
    tags = ([PREV_TAG] if canary else []) + ([LATEST_TAG] if tag_routing else [])
    candidates = [("", predictor_host(name, namespace, domain))] + [
        (f"{tag}-", tag_host(tag, name, namespace, domain)) for tag in tags
    ]
    found = []
    for prefix, host in candidates:
        label = host.split(".", 1)[0]
        if len(label) > DNS_LABEL_MAX:
            max_name = DNS_LABEL_MAX - len(prefix) - len(PREDICTOR_SUFFIX)
            found.append(LongLabel(label=label, host=host, max_name=max_name))
    return found
