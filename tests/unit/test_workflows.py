"""Checks of the GitHub Actions workflows in .github/workflows/.

actionlint (in `nox -s lint`) checks their syntax, expressions, shell scripts
and the inputs of GitHub's own actions. These tests check what depends on this
repository:

- every `nox` and `invoke` command in a `run:` step names a session of
  noxfile.py or a task of tasks.py, with flags that exist: Invoke's own parser,
  built from tasks.py's `namespace` collection, parses each command;
- the triggers that docs/ci.md describes, and valid cron expressions;
- bounded matrices: a `fromJSON` matrix comes from `invoke shards`, which takes
  1 to 256 shards, and a static matrix has at most 256 entries;
- pinned actions, least-privilege permissions, job timeouts, cleanup that also
  runs after a cancellation, and shard artifacts that the merge job finds.

`run:` scripts are tokenized with shlex line by line and split into simple
commands at control operators. That covers the scripts here; a `nox` or
`invoke` call inside a here-document or a nested command substitution would
not be found.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import nox.registry
import pytest
import yaml
from invoke.exceptions import ParseError
from invoke.parser import Parser
from invoke.parser.context import ParserContext
from invoke.program import Program

from sparkrig.report import write_reports
from sparkrig.results import RunResult, ScenarioResult, Status

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"

TIER_WORKFLOW = "sparkrig-tier.yml"
TIER_WORKFLOW_REF = "./.github/workflows/sparkrig-tier.yml"
PULL_REQUEST_WORKFLOW = "pull-request.yml"
MAIN_WORKFLOW = "main.yml"
SCHEDULED_WORKFLOW = "scheduled.yml"
TIERS = frozenset({"smoke", "e2e", "load", "security"})

# GitHub runs at most 256 jobs per matrix, and `invoke shards --count` takes 1 to 256.
MAX_MATRIX_JOBS = 256

# The JUnit publisher needs `checks: write` to create a check run. No other job may write.
JUNIT_PUBLISHER = "mikepenz/action-junit-report"

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
SCHEDULE_CONDITION = re.compile(r"github\.event\.schedule\s*==\s*'([^']*)'")

Workflow = dict[str, Any]


# Loading


def load_workflow(path: Path) -> Workflow:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return {path.name: load_workflow(path) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))}


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def nox_sessions() -> frozenset[str]:
    """Return the session names that noxfile.py registers."""
    _load_module(REPO_ROOT / "noxfile.py", "sparkrig_noxfile")
    return frozenset(nox.registry.get())


@cache
def invoke_tasks() -> Any:
    """Return tasks.py's `namespace` collection."""
    return _load_module(REPO_ROOT / "tasks.py", "sparkrig_tasks").namespace


def triggers(workflow: Workflow) -> dict[str, Any]:
    """Return the `on:` section as a mapping, whichever of its three forms it uses."""
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on)


def iter_steps(workflow: Workflow) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


def step_env(workflow: Workflow, job: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    """Return a step's environment: the workflow's, then the job's, then the step's own."""
    return {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}


def tier_callers(workflow: Workflow) -> dict[str, dict[str, Any]]:
    """Return the jobs of a workflow that call the reusable tier workflow, by job id."""
    return {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if job.get("uses") == TIER_WORKFLOW_REF
    }


def step_label(workflow_name: str, job_id: str, step: dict[str, Any]) -> str:
    return f"{workflow_name} job {job_id!r} step {step.get('name') or step.get('uses')!r}"


# Shell scripts of `run:` steps


@dataclass(frozen=True)
class Command:
    executable: str  # as written, e.g. `.venv/bin/nox`
    args: list[str]
    line: str

    @property
    def program(self) -> str:
        return Path(self.executable).name


PUNCTUATION = set("();<>|&")
RESERVED_WORDS = {"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while",
                  "until", "time"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\+?=")


def simple_commands(script: str) -> list[Command]:
    """Split a shell script into simple commands, each without redirections or assignments."""
    script = EXPRESSION.sub("$GITHUB_EXPRESSION", script).replace("\\\n", " ")
    commands: list[Command] = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError as exc:
            raise AssertionError(f"cannot tokenize the shell line {line!r}: {exc}") from exc

        words: list[str] = []
        skip_next = False
        for token in [*tokens, ";"]:
            if skip_next:
                skip_next = False
            elif token and set(token) <= PUNCTUATION and ("<" in token or ">" in token):
                skip_next = True  # a redirection and its target
            elif token and set(token) <= PUNCTUATION:
                while words and (words[0] in RESERVED_WORDS or ASSIGNMENT.match(words[0])):
                    words.pop(0)
                if words:
                    commands.append(Command(words[0], words[1:], line.strip()))
                words = []
            else:
                words.append(token)
    return commands


def rig_commands(script: str) -> list[Command]:
    return [command for command in simple_commands(script) if command.program in ("nox", "invoke")]


def resolve(token: str, env: dict[str, str]) -> str:
    """Replace a lone `$NAME` or `${NAME}` by its value from the step's env, when set."""
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", token)
    if match and match.group(1) in env:
        return str(env[match.group(1)])
    return token


def is_dynamic(value: str) -> bool:
    """Tell whether a word is only known when the job runs: a shell or Actions expansion."""
    return value.startswith("$")


@dataclass(frozen=True)
class NoxCall:
    sessions: list[str]
    posargs: list[str]


def parse_nox(args: list[str]) -> NoxCall:
    """Parse the subset of nox's command line that workflows use: `-s S [S ...] [-- ARGS]`."""
    own, posargs = args, []
    if "--" in args:
        split = args.index("--")
        own, posargs = args[:split], args[split + 1 :]
    sessions: list[str] = []
    collecting = False
    for token in own:
        if token in ("-s", "--session", "--sessions"):
            collecting = True
        elif token.startswith("-"):
            raise AssertionError(f"parse_nox does not support the nox option {token!r}; add it")
        elif collecting:
            sessions.append(token)
        else:
            raise AssertionError(f"nox argument {token!r} does not follow -s")
    return NoxCall(sessions, posargs)


def runs_tier(command: Command, env: dict[str, str]) -> bool:
    sessions = {resolve(session, env) for session in parse_nox(command.args).sessions}
    return bool(sessions & (TIERS | {"${{ inputs.tier }}"}))


# Values for flags whose value is only known when the job runs, valid for each flag.
SAMPLE_VALUES = {"--shard": "1/4", "--cluster": "kind", "--max": "4", "--retries": "1",
                 "--count": "2", "--tier": "smoke"}


def invoke_argv(args: list[str]) -> list[str]:
    """Prepare an `invoke` command's arguments for Invoke's parser.

    A flag's value that is only known when the job runs becomes a sample from
    SAMPLE_VALUES, or one of the flag's type, and an expansion in place of whole
    arguments (such as `"${merge_args[@]}"`) is dropped.
    """
    contexts = {context.name: context for context in invoke_tasks().to_contexts()}
    current: ParserContext = ParserContext(args=Program().core_args())
    argv: list[str] = []
    expects_value_of: Any = None
    for token in args:
        if expects_value_of is not None:
            if is_dynamic(token):
                fallback = "1" if expects_value_of.kind is int else "placeholder"
                token = SAMPLE_VALUES.get(argv[-1], fallback)
            argv.append(token)
            expects_value_of = None
        elif token in contexts:
            current = contexts[token]
            argv.append(token)
        elif token.startswith("-"):
            argument = current.flags.get(token)
            if argument is not None and argument.takes_value:
                expects_value_of = argument
            argv.append(token)
        elif not is_dynamic(token):
            argv.append(token)
    return argv


def parse_invoke(args: list[str]) -> list[str]:
    """Parse an `invoke` command with tasks.py's collection and return its task names."""
    parser = Parser(
        contexts=invoke_tasks().to_contexts(),
        initial=ParserContext(args=Program().core_args()),
    )
    result = parser.parse_argv(invoke_argv(args))
    return [str(context.name) for context in result[1:]]


def test_simple_commands_split_at_operators() -> None:
    script = 'X=1 .venv/bin/nox -s lint && { echo "a;b"; invoke shards --count 2; } >> "$OUT"'

    commands = simple_commands(script)

    assert [command.program for command in commands] == ["nox", "echo", "invoke"]
    assert commands[0].args == ["-s", "lint"]
    assert commands[2].args == ["shards", "--count", "2"]


def test_simple_commands_drop_redirections() -> None:
    commands = simple_commands('invoke report --merge a > "$LOG" || status=$?')

    assert commands[0].args == ["report", "--merge", "a"]


def test_invoke_argv_samples_dynamic_values() -> None:
    argv = invoke_argv(["cleanup", "--cluster", "$CLUSTER", "--run-id", "$RUN_ID"])

    assert argv == ["cleanup", "--cluster", "kind", "--run-id", "placeholder"]


def test_invoke_argv_drops_dynamic_argument_lists() -> None:
    argv = invoke_argv(["report", "--results-dir", "$DIR", "${merge_args[@]}"])

    assert argv == ["report", "--results-dir", "placeholder"]


def test_parse_invoke_rejects_unknown_flag() -> None:
    with pytest.raises(ParseError):
        parse_invoke(["report", "--merged", "x"])


# Commands in `run:` steps


def test_workflows_present(workflows: dict[str, Workflow]) -> None:
    expected = {TIER_WORKFLOW, PULL_REQUEST_WORKFLOW, MAIN_WORKFLOW, SCHEDULED_WORKFLOW}

    assert expected <= set(workflows)


def test_run_steps_call_rig_entry_points(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        for job_id, _job, step in iter_steps(workflow):
            if "run" not in step:
                continue
            commands = simple_commands(step["run"])
            calls_rig = any(command.program in ("nox", "invoke") for command in commands)
            is_setup = [command.executable for command in commands] == ["scripts/setup.sh"]
            assert calls_rig or is_setup, (
                f"{step_label(name, job_id, step)} calls neither nox, invoke nor "
                f"scripts/setup.sh: {step['run']!r}"
            )


def test_setup_script_flags_exist(workflows: dict[str, Workflow]) -> None:
    setup_script = (REPO_ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    for name, workflow in workflows.items():
        for job_id, _job, step in iter_steps(workflow):
            for command in simple_commands(step.get("run", "")):
                if command.program != "setup.sh":
                    continue
                for flag in command.args:
                    assert f"{flag})" in setup_script, (
                        f"{step_label(name, job_id, step)}: scripts/setup.sh has no option {flag}"
                    )


def test_nox_sessions_exist(workflows: dict[str, Workflow]) -> None:
    sessions = nox_sessions()
    for name, workflow in workflows.items():
        for job_id, job, step in iter_steps(workflow):
            env = step_env(workflow, job, step)
            for command in rig_commands(step.get("run", "")):
                if command.program != "nox":
                    continue
                call = parse_nox(command.args)
                label = step_label(name, job_id, step)
                assert call.sessions, f"{label}: `{command.line}` names no session"
                for session in call.sessions:
                    value = resolve(session, env)
                    if value == "${{ inputs.tier }}":
                        # test_callers_pass_existing_tiers checks the values.
                        continue
                    assert value in sessions, f"{label}: nox session {value!r} is not in noxfile.py"


def test_invoke_commands_parse(workflows: dict[str, Workflow]) -> None:
    task_names = set(invoke_tasks().task_names)
    for name, workflow in workflows.items():
        for job_id, _job, step in iter_steps(workflow):
            for command in rig_commands(step.get("run", "")):
                if command.program != "invoke":
                    continue
                label = step_label(name, job_id, step)
                try:
                    called = parse_invoke(command.args)
                except ParseError as exc:
                    pytest.fail(f"{label}: `{command.line}` does not parse with tasks.py: {exc}")
                assert called, f"{label}: `{command.line}` names no task"
                for task_name in called:
                    assert task_name in task_names, f"{label}: no Invoke task {task_name!r}"


def _registered_commands() -> set[str]:
    """Return the subcommands that `sparkrig` has registered so far."""
    from sparkrig.cli import build_parser

    for action in build_parser()._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def test_invoke_tasks_reach_sparkrig_commands(workflows: dict[str, Workflow],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Run each workflow `invoke` call with `--dry` and parse the `sparkrig` command it prints."""
    from sparkrig.cli import build_parser

    registered = _registered_commands()
    missing: set[str] = set()
    for name, workflow in workflows.items():
        for job_id, _job, step in iter_steps(workflow):
            for command in rig_commands(step.get("run", "")):
                if command.program != "invoke":
                    continue
                label = step_label(name, job_id, step)
                Program(namespace=invoke_tasks()).run(
                    ["invoke", "--dry", *invoke_argv(command.args)], exit=False)
                for line in ANSI_ESCAPE.sub("", capsys.readouterr().out).splitlines():
                    words = shlex.split(line)
                    if words[1:3] != ["-m", "sparkrig"]:
                        continue
                    argv = words[3:]
                    if argv[0] not in registered:
                        missing.add(argv[0])
                        continue
                    try:
                        build_parser().parse_args(argv)
                    except SystemExit:
                        pytest.fail(f"{label}: `sparkrig {' '.join(argv)}` is rejected by the "
                                    "sparkrig parser (its message is above)")
    if missing:
        pytest.skip(f"sparkrig subcommands not registered yet: {', '.join(sorted(missing))}")


def test_tier_session_arguments_parse(workflows: dict[str, Workflow]) -> None:
    if "run" not in _registered_commands():
        pytest.skip("the `sparkrig run` subcommand is not registered yet")
    from sparkrig.cli import build_parser

    parser = build_parser()
    for name, workflow in workflows.items():
        for job_id, job, step in iter_steps(workflow):
            env = step_env(workflow, job, step)
            for command in rig_commands(step.get("run", "")):
                if command.program != "nox":
                    continue
                if not runs_tier(command, env):
                    continue
                call = parse_nox(command.args)
                argv = ["run", "--tier", "smoke"]
                for index, token in enumerate(call.posargs):
                    previous = call.posargs[index - 1] if index else ""
                    if is_dynamic(token):
                        token = SAMPLE_VALUES.get(previous, "placeholder")
                    argv.append(token)
                try:
                    parser.parse_args(argv)
                except SystemExit:
                    pytest.fail(f"{step_label(name, job_id, step)}: `sparkrig {' '.join(argv)}` "
                                "is rejected by the runner's parser (its message is above)")


# Triggers


def test_pull_request_trigger(workflows: dict[str, Workflow]) -> None:
    on = triggers(workflows[PULL_REQUEST_WORKFLOW])

    assert "pull_request" in on
    assert "main" in on["pull_request"]["branches"]


def test_pull_request_runs_lint_and_unit(workflows: dict[str, Workflow]) -> None:
    workflow = workflows[PULL_REQUEST_WORKFLOW]
    sessions: set[str] = set()
    for _job_id, _job, step in iter_steps(workflow):
        for command in rig_commands(step.get("run", "")):
            if command.program == "nox":
                sessions.update(parse_nox(command.args).sessions)

    assert {"lint", "unit"} <= sessions


def test_pull_request_runs_smoke_on_kind(workflows: dict[str, Workflow]) -> None:
    workflow = workflows[PULL_REQUEST_WORKFLOW]
    callers = tier_callers(workflow)
    smoke = [job for job in callers.values() if job["with"]["tier"] == "smoke"]

    assert len(smoke) == 1
    assert smoke[0]["with"].get("cluster", "kind") == "kind"
    assert smoke[0]["needs"], "smoke should run after lint and unit tests pass"


def test_pull_request_cancels_superseded_runs(workflows: dict[str, Workflow]) -> None:
    concurrency = workflows[PULL_REQUEST_WORKFLOW]["concurrency"]

    assert concurrency["cancel-in-progress"] is True
    assert "github.event.pull_request.number" in concurrency["group"]


def test_push_to_main_runs_smoke_and_security(workflows: dict[str, Workflow]) -> None:
    workflow = workflows[MAIN_WORKFLOW]
    tiers = {job["with"]["tier"] for job in tier_callers(workflow).values()}

    assert "main" in triggers(workflow)["push"]["branches"]
    assert tiers == {"smoke", "security"}


def _is_daily(cron: str) -> bool:
    _minute, _hour, day_of_month, month, day_of_week = cron.split()
    return day_of_month == "*" and month == "*" and day_of_week == "*"


def _is_weekly(cron: str) -> bool:
    _minute, _hour, day_of_month, month, day_of_week = cron.split()
    return day_of_month == "*" and month == "*" and re.fullmatch(r"[0-6]", day_of_week) is not None


def test_scheduled_runs_tiers_daily_and_weekly(workflows: dict[str, Workflow]) -> None:
    workflow = workflows[SCHEDULED_WORKFLOW]
    crons = [entry["cron"] for entry in triggers(workflow)["schedule"]]
    tiers_by_cron: dict[str, set[str]] = {}
    for job in tier_callers(workflow).values():
        match = SCHEDULE_CONDITION.search(str(job.get("if", "")))
        if match:
            tiers_by_cron.setdefault(match.group(1), set()).add(job["with"]["tier"])
    daily = [cron for cron in crons if _is_daily(cron)]
    weekly = [cron for cron in crons if _is_weekly(cron)]

    assert len(daily) == 1
    assert len(weekly) == 1
    assert tiers_by_cron.get(daily[0]) == {"smoke", "e2e"}
    assert tiers_by_cron.get(weekly[0]) == {"load", "security"}


def test_schedule_conditions_name_declared_crons(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        crons = {entry["cron"] for entry in triggers(workflow).get("schedule") or []}
        for job_id, job in workflow["jobs"].items():
            for cron in SCHEDULE_CONDITION.findall(str(job.get("if", ""))):
                assert cron in crons, f"{name} job {job_id!r} waits for a schedule {cron!r} " \
                    f"that `on.schedule` does not declare ({sorted(crons)})"


def test_dispatch_inputs_choose_tier_and_shards(workflows: dict[str, Workflow]) -> None:
    inputs = triggers(workflows[SCHEDULED_WORKFLOW])["workflow_dispatch"]["inputs"]

    assert inputs["tier"]["type"] == "choice"
    assert set(inputs["tier"]["options"]) == TIERS
    assert inputs["shard-count"]["type"] == "number"


def test_tier_workflow_inputs(workflows: dict[str, Workflow]) -> None:
    inputs = triggers(workflows[TIER_WORKFLOW])["workflow_call"]["inputs"]

    assert inputs["tier"]["required"] is True
    assert inputs["shard-count"]["type"] == "number"
    assert inputs["cluster"]["default"] == "kind"


def test_callers_pass_existing_tiers(workflows: dict[str, Workflow]) -> None:
    sessions = nox_sessions()
    for name, workflow in workflows.items():
        dispatch = triggers(workflow).get("workflow_dispatch") or {}
        for job_id, job in tier_callers(workflow).items():
            tier = str(job["with"]["tier"])
            expression = EXPRESSION.fullmatch(tier)
            if expression is None:
                assert tier in sessions & TIERS, f"{name} job {job_id!r}: unknown tier {tier!r}"
                continue
            input_name = expression.group(1).strip().removeprefix("inputs.")
            choice = dispatch.get("inputs", {}).get(input_name, {})
            assert choice.get("type") == "choice", (
                f"{name} job {job_id!r}: tier {tier} should come from a choice input"
            )
            assert set(choice["options"]) <= sessions & TIERS


# Cron expressions

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
MONTH_NAMES = {name: number for number, name in enumerate(MONTHS, start=1)}
DAY_NAMES = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI",
                                                         "SAT"])}
# (name, minimum, maximum, names) per field, as GitHub documents POSIX cron.
CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTH_NAMES),
    ("day of week", 0, 6, DAY_NAMES),
)


def _cron_value(text: str, names: dict[str, int]) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.upper())


def _cron_item_error(item: str, low: int, high: int, names: dict[str, int]) -> str | None:
    range_text, slash, step = item.partition("/")
    if slash and (not step.isdigit() or int(step) == 0):
        return f"step {step!r} is not a positive integer"
    if range_text == "*":
        return None

    start_text, dash, end_text = range_text.partition("-")
    values: list[int] = []
    for text in (start_text, end_text) if dash else (start_text,):
        value = _cron_value(text, names)
        if value is None:
            return f"{text!r} is not a number or a name"
        if not low <= value <= high:
            return f"{value} is outside {low}-{high}"
        values.append(value)
    if dash and values[0] > values[1]:
        return f"range start {values[0]} is after its end {values[1]}"
    return None


def cron_errors(expression: str) -> list[str]:
    """Return what is invalid in a cron expression of GitHub's `on.schedule`, or nothing."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        return [f"{expression!r} has {len(fields)} fields, expected 5: "
                "minute hour day-of-month month day-of-week"]
    errors: list[str] = []
    for text, (name, low, high, names) in zip(fields, CRON_FIELDS, strict=True):
        for item in text.split(","):
            problem = _cron_item_error(item, low, high, names)
            if problem:
                errors.append(f"{expression!r}: {name} {item!r}: {problem}")
    return errors


@pytest.mark.parametrize("expression", [
    "17 3 * * *", "*/15 * * * *", "0 0 1,15 * MON-FRI", "30 5 * JAN-MAR 0", "5-55/10 */2 * * 6",
])
def test_cron_validator_accepts(expression: str) -> None:
    assert cron_errors(expression) == []


@pytest.mark.parametrize("expression", [
    "17 3 * *", "17 3 * * * *", "60 3 * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *",
    "0 0 * * 7", "0 0 * * FUN", "*/0 * * * *", "10-5 * * * *", "1,,2 * * * *",
])
def test_cron_validator_rejects(expression: str) -> None:
    assert cron_errors(expression) != []


def test_cron_expressions_valid(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        for entry in triggers(workflow).get("schedule") or []:
            assert cron_errors(entry["cron"]) == [], name


# Matrices and shards


def _static_matrix_size(matrix: dict[str, Any]) -> int:
    size = 1
    for key, values in matrix.items():
        if key not in ("include", "exclude"):
            size *= len(values)
    if not set(matrix) - {"include", "exclude"}:
        size = 0
    return size + len(matrix.get("include", []))


def _shards_step(workflow: Workflow, matrix_expression: str) -> dict[str, Any]:
    """Follow `fromJSON(needs.JOB.outputs.NAME)` to the step that writes NAME."""
    match = re.fullmatch(r"\$\{\{\s*fromJSON\(needs\.([\w-]+)\.outputs\.([\w-]+)\)\s*\}\}",
                         matrix_expression.strip())
    assert match, f"matrix {matrix_expression!r} is not fromJSON(needs.JOB.outputs.NAME)"
    job_id, output = match.groups()
    source = workflow["jobs"][job_id]["outputs"][output]
    step_match = re.fullmatch(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}", source)
    assert step_match, f"output {output!r} of job {job_id!r} does not come from a step: {source!r}"
    step_id = step_match.group(1)
    steps: list[dict[str, Any]] = [
        step for step in workflow["jobs"][job_id]["steps"] if step.get("id") == step_id
    ]
    assert len(steps) == 1, f"job {job_id!r} has no single step with id {step_id!r}"
    return steps[0]


def test_matrices_bounded(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in workflow["jobs"].items():
            matrix = job.get("strategy", {}).get("matrix")
            if matrix is None:
                continue
            if isinstance(matrix, dict):
                assert _static_matrix_size(matrix) <= MAX_MATRIX_JOBS, f"{name} job {job_id!r}"
                continue
            step = _shards_step(workflow, matrix)
            shards_calls = [
                command for command in rig_commands(step.get("run", ""))
                if command.program == "invoke" and parse_invoke(command.args) == ["shards"]
            ]
            assert shards_calls, f"{name} job {job_id!r}: its matrix is not from `invoke shards`"
            assert "--count" in shards_calls[0].args


def _shard_count_literals(workflows: dict[str, Workflow]) -> Iterator[tuple[str, Any]]:
    for name, workflow in workflows.items():
        for job_id, job in tier_callers(workflow).items():
            yield f"{name} job {job_id}", job["with"].get("shard-count")
        for trigger in ("workflow_call", "workflow_dispatch"):
            inputs = (triggers(workflow).get(trigger) or {}).get("inputs", {})
            if "shard-count" in inputs:
                yield f"{name} {trigger} default", inputs["shard-count"].get("default")


def test_shard_counts_within_bounds(workflows: dict[str, Workflow]) -> None:
    for label, count in _shard_count_literals(workflows):
        if count is None or (isinstance(count, str) and EXPRESSION.fullmatch(count)):
            continue
        assert isinstance(count, int), f"{label}: shard-count {count!r} is not a number"
        assert 1 <= count <= MAX_MATRIX_JOBS, f"{label}: shard-count {count} is outside 1-256"


def test_shards_command_bounds_count(capsys: pytest.CaptureFixture[str]) -> None:
    if "shards" not in _registered_commands():
        pytest.skip("the `sparkrig shards` subcommand is not registered yet")
    from sparkrig.cli import main

    assert main(["shards", "--count", str(MAX_MATRIX_JOBS + 1)]) == 2
    assert main(["shards", "--count", "0"]) == 2
    capsys.readouterr()

    assert main(["shards", "--count", "3"]) == 0
    matrix = json.loads(capsys.readouterr().out)
    assert matrix == {"include": [{"shard": "1/3"}, {"shard": "2/3"}, {"shard": "3/3"}]}


# Actions, permissions, timeouts


def test_actions_pinned(workflows: dict[str, Workflow]) -> None:
    uses = [(name, step["uses"]) for name, workflow in workflows.items()
            for _job_id, _job, step in iter_steps(workflow) if "uses" in step]
    for name, action in uses:
        repository, _, ref = action.partition("@")
        assert ref, f"{name}: {action} has no version"
        assert ref not in ("main", "master", "latest"), f"{name}: {action} follows a branch"
        if repository.startswith("actions/"):
            assert re.fullmatch(r"v\d+(\.\d+){0,2}|[0-9a-f]{40}", ref), f"{name}: {action}"
        else:
            # Third-party actions get an exact release or a commit, not a moving major tag.
            assert re.fullmatch(r"v\d+\.\d+\.\d+|[0-9a-f]{40}", ref), f"{name}: {action}"


def test_permissions_least_privilege(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        assert isinstance(workflow.get("permissions"), dict), f"{name} sets no permissions"
        scopes = [("workflow", workflow["permissions"], False)]
        for job_id, job in workflow["jobs"].items():
            publishes = job.get("uses") == TIER_WORKFLOW_REF or any(
                str(step.get("uses", "")).startswith(JUNIT_PUBLISHER)
                for step in job.get("steps", [])
            )
            scopes.append((f"job {job_id!r}", job.get("permissions", {}), publishes))
        for where, permissions, publishes in scopes:
            assert isinstance(permissions, dict), f"{name} {where}: permissions {permissions!r}"
            for scope, level in permissions.items():
                if level != "write":
                    continue
                assert scope == "checks", f"{name} {where}: `{scope}: write` is not needed"
                assert publishes, f"{name} {where}: `checks: write` without a JUnit publisher"


def test_jobs_have_timeouts(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in workflow["jobs"].items():
            if "steps" in job:
                assert "timeout-minutes" in job, f"{name} job {job_id!r} has no timeout-minutes"


# The tier workflow


def test_tier_runs_always_clean_up(workflows: dict[str, Workflow]) -> None:
    for name, workflow in workflows.items():
        for job_id, job in workflow["jobs"].items():
            steps = job.get("steps", [])
            env = job.get("env", {})
            tier_steps = [
                index for index, step in enumerate(steps)
                for command in rig_commands(step.get("run", ""))
                if command.program == "nox" and runs_tier(command, env)
            ]
            if not tier_steps:
                continue
            cleanups = [
                step for step in steps[tier_steps[-1] + 1 :]
                if "always()" in str(step.get("if", ""))
                and any(command.program == "invoke" and parse_invoke(command.args) == ["cleanup"]
                        for command in rig_commands(step.get("run", "")))
            ]
            assert cleanups, f"{name} job {job_id!r} runs a tier without an always() cleanup step"


def _steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action + "@")]


def test_shard_artifacts_reach_merge(workflows: dict[str, Workflow]) -> None:
    jobs = workflows[TIER_WORKFLOW]["jobs"]
    uploads = _steps_using(jobs["shard"], "actions/upload-artifact")
    downloads = _steps_using(jobs["merge"], "actions/download-artifact")

    assert len(uploads) == 1
    assert len(downloads) == 1
    name = uploads[0]["with"]["name"]
    assert "${{ strategy.job-index }}" in name, "each shard needs an artifact name of its own"
    assert uploads[0]["with"].get("overwrite") is True, "a re-run shard must replace its artifact"
    assert uploads[0]["if"] == "always()"
    assert downloads[0]["with"]["pattern"] == name.replace("${{ strategy.job-index }}", "*")


def test_merge_publishes_report(workflows: dict[str, Workflow]) -> None:
    merge = workflows[TIER_WORKFLOW]["jobs"]["merge"]
    scripts = "\n".join(step.get("run", "") for step in merge["steps"])
    report_calls = [command for command in rig_commands(scripts)
                    if command.program == "invoke" and parse_invoke(command.args) == ["report"]]

    assert report_calls, "the merge job should call `invoke report`"
    assert "--merge" in report_calls[0].args or '"${merge_args[@]}"' in report_calls[0].line
    assert "summary.md\" >> \"$GITHUB_STEP_SUMMARY\"" in scripts
    assert _steps_using(merge, "actions/upload-artifact")
    assert _steps_using(merge, JUNIT_PUBLISHER)
    assert "always()" in merge["if"] or "!cancelled()" in merge["if"]


def test_history_cached_by_tier(workflows: dict[str, Workflow]) -> None:
    workflow = workflows[TIER_WORKFLOW]
    prefix = workflow["env"]["HISTORY_KEY_PREFIX"]
    restores = [step for job in workflow["jobs"].values()
                for step in _steps_using(job, "actions/cache/restore")]
    saves = [step for job in workflow["jobs"].values()
             for step in _steps_using(job, "actions/cache/save")]
    planned = [step for step in restores if "restore-keys" in step["with"]]

    assert "${{ inputs.tier }}" in prefix
    assert all(step["with"]["path"] == "reports/history" for step in restores + saves)
    assert len(planned) == 1
    assert planned[0]["with"]["restore-keys"] == "${{ env.HISTORY_KEY_PREFIX }}"
    assert len(saves) == 1
    assert saves[0]["with"]["key"].startswith("${{ env.HISTORY_KEY_PREFIX }}")


# Scripts of the tier workflow, run with bash and the real Invoke tasks


def _step_script(workflow: Workflow, job_id: str, step_id: str) -> str:
    steps = [step for step in workflow["jobs"][job_id]["steps"] if step.get("id") == step_id]
    assert len(steps) == 1, f"job {job_id!r} has no single step with id {step_id!r}"
    return str(steps[0]["run"])


def _write_shard_run(shards_dir: Path, index: int, scenario: str, status: Status) -> None:
    """Write a shard's run folder as the merge job downloads it: ARTIFACT/RUN_ID/."""
    run_id = f"20260101T00000{index}Z-shd{index}"
    run_dir = shards_dir / f"sparkrig-smoke-shard-{index}" / run_id
    run_dir.mkdir(parents=True)
    result = ScenarioResult(name=scenario, tier="smoke", status=status,
                            started_at="2026-01-01T00:00:00Z", ended_at="2026-01-01T00:00:30Z",
                            duration=30.0)
    run = RunResult(run_id=run_id, started_at="2026-01-01T00:00:00Z",
                    ended_at="2026-01-01T00:01:00Z", scenarios=[result],
                    selection={"shard": f"{index + 1}/2"})
    write_reports(run, run_dir)


def _run_step(script: str, tmp_path: Path,
              variables: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a `run:` script as GitHub does on Linux (bash -eo pipefail) from the repository root."""
    if not (REPO_ROOT / ".venv" / "bin" / "invoke").exists():
        pytest.skip("the workflow steps call .venv/bin/invoke; run scripts/setup.sh first")
    env = {
        **os.environ,
        **(variables or {}),
        "RESULTS_DIR": str(tmp_path / "reports"),
        "SHARDS_DIR": str(tmp_path / "shards"),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary"),
    }
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_merge_step_joins_shards(workflows: dict[str, Workflow], tmp_path: Path) -> None:
    script = _step_script(workflows[TIER_WORKFLOW], "merge", "merge")
    _write_shard_run(tmp_path / "shards", 0, "alpha", Status.PASSED)
    _write_shard_run(tmp_path / "shards", 1, "beta", Status.FAILED)

    completed = _run_step(script, tmp_path)

    assert completed.returncode == 0, completed.stderr
    outputs = dict(line.split("=", 1) for line in
                   (tmp_path / "github_output").read_text().splitlines())
    run_dir = Path(outputs["run-dir"])
    merged = RunResult.load(run_dir / "results.json")
    assert sorted(result.name for result in merged.scenarios) == ["alpha", "beta"]
    assert (run_dir / "junit.xml").is_file()
    assert (tmp_path / "reports" / "history" / "durations.json").is_file()
    summary = (tmp_path / "step_summary").read_text()
    assert summary == (run_dir / "summary.md").read_text()


def test_merge_step_fails_without_shards(workflows: dict[str, Workflow], tmp_path: Path) -> None:
    script = _step_script(workflows[TIER_WORKFLOW], "merge", "merge")
    (tmp_path / "shards").mkdir()

    completed = _run_step(script, tmp_path)

    assert completed.returncode == 1
    assert "No shard uploaded results" in completed.stdout
    assert not (tmp_path / "reports").exists()


def _read_multiline_output(path: Path, name: str) -> str:
    """Return one output written as `NAME<<DELIMITER ... DELIMITER` to $GITHUB_OUTPUT."""
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith(f"{name}<<"))
    delimiter = header.split("<<", 1)[1]
    start = lines.index(header) + 1
    return "\n".join(lines[start : lines.index(delimiter, start)])


def test_plan_step_writes_matrix(workflows: dict[str, Workflow], tmp_path: Path) -> None:
    if "shards" not in _registered_commands():
        pytest.skip("the `sparkrig shards` subcommand is not registered yet")
    script = _step_script(workflows[TIER_WORKFLOW], "plan", "shards")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in ("alpha", "beta", "gamma", "delta"):
        path = scenarios / f"{name}.sh"
        path.write_text(f"#!/bin/sh\n# @meta\n# name: {name}\n# tier: smoke\n# @endmeta\n")
        path.chmod(0o755)

    completed = _run_step(script, tmp_path, {"SHARD_COUNT": "3", "TIER": "smoke",
                                             "SCENARIOS": str(scenarios)})

    assert completed.returncode == 0, completed.stderr
    matrix = json.loads(_read_multiline_output(tmp_path / "github_output", "matrix"))
    assert [entry["shard"] for entry in matrix["include"]] == ["1/3", "2/3", "3/3"]


def test_plan_step_rejects_too_many_shards(workflows: dict[str, Workflow], tmp_path: Path) -> None:
    if "shards" not in _registered_commands():
        pytest.skip("the `sparkrig shards` subcommand is not registered yet")
    script = _step_script(workflows[TIER_WORKFLOW], "plan", "shards")

    completed = _run_step(script, tmp_path, {"SHARD_COUNT": "257", "TIER": "smoke"})

    assert completed.returncode != 0
    assert "257" in completed.stderr
