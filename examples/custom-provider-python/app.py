"""Acme's in-house integrations, as a Dockwright plugin written in Python.

An integration provider: it lists its integrations (the `catalogue` export) and turns the
names a pipeline asks for in `required_integrations` into requirement lines and apt packages
(the `source` export). `build.sh` compiles this file into one `.wasm` component with
componentize-py and adds the manifest the host reads before it runs anything.

The catalogue logic is plain Python (`CATALOGUE`, `select`), so it can be tried with a
normal interpreter; only the two classes at the bottom touch the generated bindings.
"""

import difflib
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

# name -> (requirement lines, apt packages, description)
CATALOGUE = {
    "acme_feature_store": (
        ["feast>=0.40,<1", "redis>=5"],
        ["libpq5"],
        "Acme's feature store: Feast with the Redis online store and the Postgres registry.",
    ),
    "acme_model_registry": (
        ["mlflow-skinny>=2.10,<3"],
        [],
        "Acme's model registry client.",
    ),
}


class UnknownIntegration(Exception):
    def __init__(self, name, suggestions):
        super().__init__(name)
        self.name = name
        self.suggestions = suggestions


def select(names):
    """The requirement lines (with their origin) and apt packages of `names`, in order."""
    lines, apt = [], []
    for name in names:
        if name not in CATALOGUE:
            suggestions = difflib.get_close_matches(name, list(CATALOGUE), n=3, cutoff=0.6)
            raise UnknownIntegration(name, suggestions)
        requirements, packages, _ = CATALOGUE[name]
        lines.extend((line, f"integration {name}") for line in requirements)
        apt.extend(p for p in packages if p not in apt)
    return lines, apt


def required_integrations(settings_json):
    """The `required_integrations` of the settings the host sent; other keys are ignored."""
    settings = json.loads(settings_json)
    if not isinstance(settings, dict):
        raise ValueError("settings: expected a JSON object")
    names = settings.get("required_integrations") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("required_integrations: expected a list of names")
    return names


class Source(exports.Source):
    def contribute(self, request: types.Request) -> types.Contribution:
        try:
            names = required_integrations(request.settings)
            lines, apt = select(names)
        except ValueError as e:
            raise Err(types.PluginError_InvalidInput(str(e)))
        except UnknownIntegration as e:
            raise Err(types.PluginError_UnknownName(types.UnknownName(e.name, e.suggestions)))
        host.log(host.LogLevel.DEBUG, f"acme: {len(lines)} lines for {', '.join(names)}")
        return types.Contribution(
            requirements=[types.Requirement(line, origin) for line, origin in lines],
            apt_packages=apt,
            notes=[],
        )


class Catalogue(exports.Catalogue):
    def integrations(self, platform: types.Platform) -> list:
        return [
            types.Integration(name, list(requirements), list(packages), description)
            for name, (requirements, packages, description) in CATALOGUE.items()
        ]
