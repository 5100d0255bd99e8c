"""Trains the iris classifier of the iris example into the user's cache (nothing to download).

    python examples/iris/train.py [--cache-dir DIR] [--force]

Fits a LogisticRegression on the iris data scikit-learn ships and writes ``model.joblib``
(KServe's sklearn convention) and ``model.json`` (the scikit-learn version and feature
count, which ``zeroserve.predictors.sklearn_server`` checks before loading) to
``DIR/sklearn-<version>/``, then points the symlink ``DIR/current`` at that folder, so a
manifest or ``storageUriMap`` can name one fixed path. ``DIR`` defaults to
``${XDG_CACHE_HOME:-~/.cache}/zeroserve/models/iris``. A pickle is only safe to load with
the scikit-learn that wrote it, hence a folder per version. Idempotent: when the installed
version's model exists it only repoints ``current`` (without importing scikit-learn);
``--force`` retrains. Exit status: 0, or 2 when ``DIR/current`` is not a symlink.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL_FILE = "model.joblib"
INFO_FILE = "model.json"
CURRENT = "current"


class CacheError(Exception):
    """The cache folder is not in a shape this script may change."""


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "zeroserve" / "models" / "iris"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the sklearn-<version> folders and the current link go "
        "(default: ${XDG_CACHE_HOME:-~/.cache}/zeroserve/models/iris)",
    )
    p.add_argument("--force", action="store_true", help="retrain even if the model exists")
    return p.parse_args(argv)


def train() -> tuple[Any, dict[str, Any]]:
    """The fitted classifier and what model.json says about it."""
    import sklearn  # type: ignore[import-untyped]
    from sklearn.datasets import load_iris  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    iris = load_iris()
    model = LogisticRegression(max_iter=1000).fit(iris.data, iris.target)
    info = {
        "name": "iris",
        "format": "sklearn",
        "sklearn_version": sklearn.__version__,
        "n_features": int(model.n_features_in_),
        "feature_names": list(iris.feature_names),
        "classes": [int(c) for c in model.classes_],
        "class_names": [str(n) for n in iris.target_names],
        "estimator": type(model).__name__,
        "training_accuracy": round(float(model.score(iris.data, iris.target)), 4),
        "python": platform.python_version(),
        "numpy_version": importlib.metadata.version("numpy"),
    }
    return model, info


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp_path)``, then rename over ``path``: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def point_current(cache_dir: Path, version_dir: Path) -> Path:
    """Atomically repoint ``cache_dir/current`` (a relative symlink) at ``version_dir``."""
    link = cache_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise CacheError(f"{link} exists and is not a symlink; move it away first")
    if link.is_symlink() and os.readlink(link) == version_dir.name:
        return link
    tmp = cache_dir / f".{CURRENT}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(version_dir.name, target_is_directory=True)
    os.replace(tmp, link)
    return link


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cache_dir: Path = (args.cache_dir or default_cache_dir()).expanduser().resolve()
    version = importlib.metadata.version("scikit-learn")
    version_dir = cache_dir / f"sklearn-{version}"
    model_path, info_path = version_dir / MODEL_FILE, version_dir / INFO_FILE
    if model_path.is_file() and info_path.is_file() and not args.force:
        print(f"iris: up to date: {model_path} (--force retrains)")
    else:
        import joblib  # type: ignore[import-untyped]

        began = time.monotonic()
        model, info = train()
        version_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(model_path, lambda tmp: joblib.dump(model, tmp))
        text = json.dumps(info, indent=2) + "\n"
        write_atomically(info_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        print(
            f"iris: trained {info['estimator']} (scikit-learn {version}, "
            f"{info['n_features']} features, training accuracy {info['training_accuracy']}) "
            f"in {time.monotonic() - began:.2f} s, imports included"
        )
        print(f"iris: wrote {model_path} and {INFO_FILE}")
    try:
        link = point_current(cache_dir, version_dir)
    except CacheError as e:
        print(f"iris: {e}", file=sys.stderr)
        return 2
    print(f"iris: {link} -> {version_dir.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
