"""The controller: resources into revisions, routes and endpoints; desired scale into replicas.

* ``loader.load_folder``: a folder of manifests (recursively) and its ``ZeroserveConfig``;
* ``revisions.build_revision``: a service → what its revision runs, or why it cannot;
* ``rollout.plan_apply``: which revisions to create, keep and remove (set semantics);
* ``routes.build_route_table`` and ``status.service_status``: what gateways and people see;
* ``state_file``: the rollout state under ``--state-dir``;
* ``controller.Controller``: the loop that applies all of it to a runtime and a store.
"""

from zeroserve.control.controller import ApplyResult, Controller
from zeroserve.control.errors import ControlError, NotStarted, StateFileError
from zeroserve.control.loader import LoadedFolder, load_folder, load_server_config
from zeroserve.control.revisions import RevisionSpec, build_revision, revision_name
from zeroserve.control.status import ServiceStatus

__all__ = [
    "ApplyResult",
    "ControlError",
    "Controller",
    "LoadedFolder",
    "NotStarted",
    "RevisionSpec",
    "ServiceStatus",
    "StateFileError",
    "build_revision",
    "load_folder",
    "load_server_config",
    "revision_name",
]
