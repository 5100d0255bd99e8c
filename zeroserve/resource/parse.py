"""Documents → verdicts: an admitted ``InferenceService``, a refusal, or a skipped kind.

One document's problems never stop the others: every document of every file gets its
own verdict, and a refusal lists every problem found in its document (KServe stops at
the first; reporting all saves round trips). Checks run in this order: kind and
apiVersion (a wrong one stops there), metadata and spec's components on the raw
mapping, the schema, then the predictor, its scaling and its hostnames.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from zeroserve.config import AutoscalerConfig
from zeroserve.resource.convert import to_service
from zeroserve.resource.document_checks import (
    TAG_ROUTING,
    check_api_version,
    check_components,
    check_kind,
    check_metadata,
    read_head,
)
from zeroserve.resource.documents import Document, manifest_files, read_documents, split_documents
from zeroserve.resource.errors import Notice, Problem, RefusedError, Source, problem
from zeroserve.resource.hosts import DEFAULT_DOMAIN, DNS_LABEL_MAX, long_labels
from zeroserve.resource.model import DEFAULT_NAMESPACE, KIND, InferenceService
from zeroserve.resource.predictor_checks import check_predictor
from zeroserve.resource.scaling_checks import check_scaling
from zeroserve.resource.schema import InferenceServiceSchema
from zeroserve.resource.schema_errors import translate


class Outcome(enum.Enum):
    OK = "OK"
    REFUSED = "REFUSED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one document. ``service`` is set exactly when the outcome is OK."""

    source: Source
    outcome: Outcome
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    service: InferenceService | None = None
    problems: tuple[Problem, ...] = ()
    notices: tuple[Notice, ...] = ()

    @property
    def messages(self) -> tuple[str, ...]:
        """Each problem with its source in front: ``iris.yaml (document 2): …``."""
        return tuple(f"{self.source.label}: {p.text}" for p in self.problems)

    @property
    def skip_reason(self) -> str:
        return f"kind {self.kind}: not an {KIND}, skipped"

    def raise_if_refused(self) -> InferenceService | None:
        """The service, None for a skipped kind; ``RefusedError`` for a refusal."""
        if self.outcome is Outcome.REFUSED:
            raise RefusedError(self.source.label, self.problems)
        return self.service


def parse_paths(
    paths: Iterable[str | Path], config: AutoscalerConfig, *, domain: str = DEFAULT_DOMAIN
) -> tuple[Verdict, ...]:
    """Every document of every file (folders: their ``*.yaml``/``*.yml``), in order.

    Raises ``MissingPathError`` before reading anything if a path does not exist.
    """
    verdicts: list[Verdict] = []
    for path in manifest_files(paths):
        for document in read_documents(path):
            verdicts.append(parse_document(document, config, domain=domain, base_dir=path.parent))
    return mark_duplicates(verdicts)


def parse_text(
    text: str,
    config: AutoscalerConfig,
    *,
    path: str = "<input>",
    domain: str = DEFAULT_DOMAIN,
    base_dir: Path | None = None,
) -> tuple[Verdict, ...]:
    """The same for YAML text (``apply -f -``, the admin API); ``path`` names it in messages."""
    return mark_duplicates(
        [
            parse_document(d, config, domain=domain, base_dir=base_dir)
            for d in split_documents(text, path)
        ]
    )


def parse_document(
    document: Document,
    config: AutoscalerConfig,
    *,
    domain: str = DEFAULT_DOMAIN,
    base_dir: Path | None = None,
) -> Verdict:
    source = document.source
    if document.problem is not None:
        return Verdict(source, Outcome.REFUSED, problems=(document.problem,))
    body = document.body
    if not isinstance(body, dict):
        text = f"a document must be a Kubernetes object (a mapping), got {_kind_of(body)}"
        return Verdict(source, Outcome.REFUSED, problems=(Problem("", text),))
    head = read_head(body)
    verdict = Verdict(source, Outcome.REFUSED, head.kind, head.name, head.namespace)
    problems = check_kind(body)
    if problems:
        return replace(verdict, problems=tuple(problems))
    if head.kind != KIND:
        return replace(verdict, outcome=Outcome.SKIPPED)
    problems = check_api_version(body.get("apiVersion"))
    if problems:
        return replace(verdict, problems=tuple(problems))
    problems, notices = check_metadata(body)
    problems += check_components(body)
    try:
        schema = InferenceServiceSchema.model_validate(body)
    except ValidationError as error:
        problems += translate(error, InferenceServiceSchema)
        return replace(verdict, problems=tuple(problems), notices=tuple(notices))
    findings = check_predictor(
        schema.spec.predictor, isvc=schema.metadata.name, api_version=schema.apiVersion
    )
    findings.extend(check_scaling(schema, config))
    problems += findings.problems + _host_problems(schema, domain)
    notices += findings.notices
    if problems:
        return replace(verdict, problems=tuple(problems), notices=tuple(notices))
    service = to_service(schema, source=source.label, base_dir=base_dir)
    return replace(verdict, outcome=Outcome.OK, service=service, notices=tuple(notices))


def mark_duplicates(verdicts: Iterable[Verdict]) -> tuple[Verdict, ...]:
    """A warning on each admitted service whose namespace and name came earlier too."""
    first: dict[tuple[str, str], Source] = {}
    out: list[Verdict] = []
    for verdict in verdicts:
        service = verdict.service
        if service is not None:
            earlier = first.setdefault(service.key, verdict.source)
            if earlier != verdict.source:
                notice = Notice(
                    "metadata.name",
                    f"{service.name} ({service.namespace}) is also defined in {earlier.ref}; "
                    "applied together, the last definition wins",
                )
                verdict = replace(verdict, notices=(*verdict.notices, notice))
        out.append(verdict)
    return tuple(out)


def _host_problems(schema: InferenceServiceSchema, domain: str) -> list[Problem]:
    meta = schema.metadata
    found = long_labels(
        meta.name,
        meta.namespace or DEFAULT_NAMESPACE,
        canary=schema.spec.predictor.canaryTrafficPercent is not None,
        tag_routing=(meta.annotations or {}).get(TAG_ROUTING) == "true",
        domain=domain,
    )
    return [
        problem(
            f'host label "{long.label}" is {len(long.label)} characters long (host {long.host})',
            "metadata.name",
            allowed=f"at most {DNS_LABEL_MAX} characters per DNS label, "
            f"so a name of at most {long.max_name} characters",
        )
        for long in found
    ]


def _kind_of(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"
