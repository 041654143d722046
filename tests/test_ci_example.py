"""The shipped CI example: its job's own shell steps, run in a temporary repository against the stand-in
OpenAI-compatible server, with a stand-in ``gh`` and a local remote (nothing reaches GitHub)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from gitrepo import git, hermetic_git, make_repo  # noqa: F401  (hermetic_git is an autouse fixture)
from standins.openai_server import OpenAIStandIn

EXAMPLE = ROOT / "examples" / "github-actions"
JUDGE = ("## Plan\n1. Add the --verbose flag to the parser.\n2. Print the extra lines when it is set.\n\n"
         "## Consensus\n- one flag on the parser\n\n## Divergent approaches\n- a log level instead\n\n"
         "## Resolution rationale\nA flag is what the issue asks for.\n")
HOSTILE_BODY = "Add a --verbose flag.\n$(touch PWNED) `touch PWNED2` ${GH_TOKEN}\n"


@pytest.fixture
def workflow() -> dict:
    return yaml.safe_load((EXAMPLE / "moot-plan.yml").read_text())


def test_the_job_reads_keys_from_secrets_and_issue_text_only_from_the_environment(workflow) -> None:
    job = workflow["jobs"]["plan"]
    assert job["timeout-minutes"] == 20
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert job["env"]["OPENAI_API_KEY"] == "${{ secrets.OPENAI_API_KEY }}"
    for step in job["steps"]:  # an expression in a script would paste the issue's text into it
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_job_s_steps_plan_the_issue_and_open_a_pull_request(workflow, tmp_path: Path) -> None:
    work = make_repo(tmp_path / "repo", {"cli.py": "import argparse\n", "README.md": "# app\n"})
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(work, "remote", "add", "origin", str(remote))
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "gh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/gh-args"\n')
    (fake_bin / "gh").chmod(0o755)
    with OpenAIStandIn() as server:
        server.script("gpt-4o-mini", "1. Add a flag to the parser.\n2. Print more when it is set.\n")
        server.script("qwen", "1. Use logging levels.\n2. Map --verbose to DEBUG.\n")
        server.script("judge", JUDGE)
        (work / ".github" / "moot").mkdir(parents=True)
        (work / ".github" / "moot" / "config.toml").write_text(
            f'[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o-mini"\napi_base = "{server.url}"\n\n'
            f'[[models]]\nname = "qwen"\nmodel = "openai/qwen"\napi_base = "{server.url}"\n\n'
            f'[[models]]\nname = "judge"\nmodel = "openai/judge"\napi_base = "{server.url}"\n\n'
            '[roles]\njudge = "judge"\n\n[strategies.ci]\nmembers = [{model = "gpt"}, {model = "qwen"}]\n\n'
            '[ensemble]\ndefault_strategy = "ci"\nmax_usd = 0.5\n')
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "moot config")
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env.update({"ISSUE_NUMBER": "7", "ISSUE_TITLE": "Add a --verbose flag", "ISSUE_BODY": HOSTILE_BODY,
                    "GH_TOKEN": "ghs-not-a-real-token", "RUNNER_TEMP": str(tmp_path), "MOOT_PACKAGE": "moot",
                    "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "MOOT_HOME": str(tmp_path / "home"),
                    "PATH": f"{fake_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"})
        ran = []
        for step in workflow["jobs"]["plan"]["steps"]:
            if "run" not in step or step.get("id") == "install":  # the package is installed here already
                continue
            out = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=300)
            assert out.returncode == 0, (step["id"], out.stdout, out.stderr)
            ran.append(step["id"])
    assert ran == ["configure", "plan", "pull-request"]
    plan = git(work, "--git-dir", str(remote), "show", "moot/plan-7:plans/7.md")
    assert "Add the --verbose flag to the parser." in plan
    assert "## Consensus" in plan and "## Divergent approaches" in plan and "## Models consulted" in plan
    assert "gpt-4o-mini" in plan or "gpt (" in plan
    args = (tmp_path / "gh-args").read_text().splitlines()
    assert args[:4] == ["pr", "create", "--head", "moot/plan-7"] and "Plan: Add a --verbose flag" in args
    assert not list(tmp_path.rglob("PWNED*"))  # the issue's text ran nothing
    assert "ghs-not-a-real-token" not in plan
