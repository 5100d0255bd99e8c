"""``zeroserve validate``'s logic: files → one verdict per document, as lines of text.

Offline and side-effect free apart from reading the files: a model format with no local
runtime is accepted here (``serve`` marks it Failed). The exit status is 1 when any
document is refused, else 0; usage errors (a missing path, a bad config file) are the
caller's, with status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zeroserve.config import AutoscalerConfig, ConfigWarnings
from zeroserve.resource.hosts import DEFAULT_DOMAIN
from zeroserve.resource.parse import Outcome, Verdict, parse_paths

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True)
class Report:
    verdicts: tuple[Verdict, ...]
    config_warnings: tuple[str, ...] = ()

    def count(self, outcome: Outcome) -> int:
        return sum(1 for v in self.verdicts if v.outcome is outcome)

    @property
    def exit_code(self) -> int:
        return EXIT_REFUSED if self.count(Outcome.REFUSED) else EXIT_OK


def validate(
    paths: Iterable[str | Path],
    config: AutoscalerConfig,
    *,
    config_warnings: ConfigWarnings = (),
    config_path: str | None = None,
    domain: str = DEFAULT_DOMAIN,
) -> Report:
    """Raises ``MissingPathError`` when a path does not exist."""
    where = f"{config_path}: " if config_path else ""
    return Report(
        verdicts=parse_paths(paths, config, domain=domain),
        config_warnings=tuple(f"{where}{w.message}" for w in config_warnings),
    )


def render(report: Report) -> list[str]:
    """The lines ``zeroserve validate`` prints."""
    lines = [f"warning: {text}" for text in report.config_warnings]
    for verdict in report.verdicts:
        lines += render_verdict(verdict)
    total = len(report.verdicts)
    lines.append(
        f"{total} document{'s' if total != 1 else ''}: {report.count(Outcome.OK)} OK, "
        f"{report.count(Outcome.REFUSED)} refused, {report.count(Outcome.SKIPPED)} skipped"
    )
    return lines


def render_verdict(verdict: Verdict) -> list[str]:
    """``OK  sklearn-iris (default) examples/iris.yaml#1``, its problems and warnings."""
    who = verdict.name or "?"
    if verdict.namespace is not None and verdict.name is not None:
        who += f" ({verdict.namespace})"
    head = f"{verdict.outcome.value}  {who} {verdict.source.ref}"
    if verdict.outcome is Outcome.SKIPPED:
        lines = [f"{head}: {verdict.skip_reason}"]
    elif len(verdict.problems) == 1:
        lines = [f"{head}: {verdict.problems[0].text}"]
    elif verdict.problems:
        lines = [f"{head}: {len(verdict.problems)} problems"]
        lines += [f"  - {p.text}" for p in verdict.problems]
    else:
        lines = [head]
    lines += [f"  warning: {n.text}" for n in verdict.notices]
    return lines
