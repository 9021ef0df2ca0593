"""results.json: its JSON Schema, validation, loading and writing.

The schema (`results.schema.json`, JSON Schema draft 2020-12) ships in the
package and is versioned by `sparkrig.results.SCHEMA_VERSION`. Every
results.json this package reads is validated before use, so a hand-edited or
truncated file ends in one message naming the file and the invalid field
instead of a traceback. jsonschema is imported at the first validation, not
with this module, because writing results.json needs no validation and the
import takes about 50 ms of every run's start-up and finish.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkrig.errors import UsageError
from sparkrig.results import RunResult, write_json_atomic

if TYPE_CHECKING:
    import jsonschema.protocols

__all__ = [
    "RESULTS_FILE",
    "ReportInputError",
    "results_schema",
    "validate_results",
    "load_run",
    "write_results_json",
]

RESULTS_FILE = "results.json"


class ReportInputError(UsageError):
    """A results folder or file given to `sparkrig report` is missing or invalid (exit 2)."""


@cache
def results_schema() -> dict[str, Any]:
    """Return the JSON Schema of results.json that ships with the package."""
    text = resources.files("sparkrig.report").joinpath("results.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema.validators

    schema = results_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_results(data: Any, source: str) -> None:
    """Raise `ReportInputError` naming `source` and the first invalid field of `data`."""
    import jsonschema.exceptions

    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is None:
        return
    field = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    raise ReportInputError(
        f"{source}: invalid results at '{field}': {error.message}; "
        "the file does not match the results schema "
        f"(version {results_schema()['properties']['schema_version']['const']}), "
        "regenerate it with this sparkrig version or fix the field"
    )


def load_run(path: Path) -> RunResult:
    """Load and validate a results.json, given as the file or the run folder that contains it."""
    if not path.exists():
        raise ReportInputError(f"{path}: not found; give a run folder that contains {RESULTS_FILE}")
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.exists():
        raise ReportInputError(
            f"{file}: results file not found; give a run folder that contains {RESULTS_FILE}"
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{file}: cannot read the results file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"{file}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc

    validate_results(data, str(file))
    return RunResult.from_dict(data)


def write_results_json(run: RunResult, run_dir: Path) -> Path:
    """Write the run atomically as `run_dir/results.json`.

    The file is not validated here: the dataclasses fix its shape, unit tests
    validate what they write against the schema, and validating 10,000
    scenarios with jsonschema takes seconds. Files are validated when read.
    """
    path = run_dir / RESULTS_FILE
    write_json_atomic(path, run.to_dict())
    return path
