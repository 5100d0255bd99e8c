"""Helpers shared by the controller tests: services from YAML, waits with deadlines."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from zeroserve.config import AutoscalerConfig
from zeroserve.resource import InferenceService, Outcome, parse_text
from zeroserve.store.subscription import Subscription

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ECHO_DIR = EXAMPLES / "echo"

T = TypeVar("T")


def service(text: str, *, base_dir: Path = ECHO_DIR) -> InferenceService:
    """One admitted InferenceService from YAML (dedented); fails the test otherwise."""
    (verdict,) = parse_text(textwrap.dedent(text), AutoscalerConfig(), base_dir=base_dir)
    assert verdict.outcome is Outcome.OK, verdict.messages
    assert verdict.service is not None
    return verdict.service


def echo(*args: str, name: str = "echo", **predictor: object) -> InferenceService:
    """The echo example as a local command, with extra arguments and predictor fields
    (``minReplicas`` is 0 unless given)."""
    body = {
        "apiVersion": "serving.zeroserve.io/v1alpha1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "predictor": {
                "minReplicas": 0,
                **predictor,
                "containers": [
                    {
                        "command": ["python", "server.py", "--port", "{port}", *args],
                        "env": [{"name": "PROTOCOL", "value": "v2"}],
                    }
                ],
            }
        },
    }
    return service(yaml.safe_dump(body))


def iris(storage_uri: str = "gs://kfserving-examples/models/sklearn/1.0/model") -> InferenceService:
    return service(
        f"""
        apiVersion: serving.kserve.io/v1beta1
        kind: InferenceService
        metadata:
          name: iris
        spec:
          predictor:
            minReplicas: 0
            model:
              modelFormat: {{name: sklearn}}
              storageUri: {storage_uri}
        """
    )


async def next_matching(
    subscription: Subscription[T],
    predicate: Callable[[T], bool],
    timeout: float = 10.0,  # noqa: ASYNC109
) -> T:
    """The first item of ``subscription`` that satisfies ``predicate``, within a deadline."""
    seen: list[T] = []
    try:
        async with asyncio.timeout(timeout):
            async for item in subscription:
                seen.append(item)
                if predicate(item):
                    return item
    except TimeoutError:
        pass
    shown = "\n".join(f"  {item}" for item in seen[-10:])
    raise AssertionError(f"nothing matching within {timeout}s; last seen:\n{shown}")
