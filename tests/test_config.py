"""Config layers and the errors a user sees: file, line and key, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from moot.core.config import ConfigError, load_config
from moot.core.config.loader import key_lines, locate


def test_no_config_gives_embedded_default(tmp_path: Path) -> None:
    loaded = load_config(tmp_path)
    assert loaded.defaulted_models
    assert [m.model for m in loaded.config.models] == ["local/smollm2"]


def test_provider_key_in_environment_adds_a_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    loaded = load_config(tmp_path)
    assert [m.name for m in loaded.config.models] == ["smollm2", "openai"]


def test_syntax_error_names_file_and_line(tmp_path: Path, user_config) -> None:
    path = user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o\n')
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.file == str(path)
    assert e.value.line == 3
    assert "not valid TOML" in str(e.value)


def test_unknown_key_names_file_line_and_key(tmp_path: Path, user_config) -> None:
    path = user_config('[[models]]\nname = "a"\nmodel = "openai/x"\n\n[[models]]\nname = "b"\nmodel = "openai/y"\ntemprature = 0.2\n')
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert (e.value.file, e.value.line, e.value.key) == (str(path), 8, "models[1].temprature")
    assert str(e.value) == f"{path}:8: models[1].temprature: unknown key"


def test_bad_value_names_the_key(tmp_path: Path, user_config) -> None:
    user_config('[ensemble]\nmax_proposers = 9\n')
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.line == 2 and e.value.key == "ensemble.max_proposers"
    assert "less than or equal to 6" in str(e.value)


def test_role_pointing_nowhere(tmp_path: Path, user_config) -> None:
    path = user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n\n[roles]\nplanner = "gpt"\njudge = "claude"\n')
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert (e.value.file, e.value.line, e.value.key) == (str(path), 7, "roles.judge")
    assert "'claude' is not a configured model" in str(e.value)


def test_unknown_role(tmp_path: Path, user_config) -> None:
    user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n[roles]\nwizard = "gpt"\n')
    with pytest.raises(ConfigError, match="unknown role"):
        load_config(tmp_path)


def test_strategy_member_pointing_nowhere(tmp_path: Path, user_config) -> None:
    path = user_config(
        '[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n\n[strategies.mine]\n'
        'members = [{ model = "gpt" }, { model = "nope" }]\n'
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.file == str(path) and e.value.line == 6
    assert e.value.key == "strategies.mine.members[1].model"


def test_duplicate_alias(tmp_path: Path, user_config) -> None:
    user_config('[[models]]\nname = "a"\nmodel = "openai/x"\n[[models]]\nname = "a"\nmodel = "openai/y"\n')
    with pytest.raises(ConfigError, match="defined twice"):
        load_config(tmp_path)


def test_project_layer_wins_and_merges_models_by_alias(tmp_path: Path, user_config) -> None:
    user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\ntemperature = 0.5\n[ensemble]\nrank = true\n')
    (tmp_path / ".moot").mkdir()
    (tmp_path / ".moot" / "config.toml").write_text(
        '[[models]]\nname = "gpt"\ntemperature = 0.1\n[[models]]\nname = "local"\nmodel = "local/smollm2"\n'
    )
    loaded = load_config(tmp_path)
    gpt = loaded.config.model("gpt")
    assert gpt is not None and gpt.model == "openai/gpt-4o" and gpt.temperature == 0.1
    assert loaded.config.aliases == ["gpt", "local"]
    assert loaded.config.ensemble.rank is True
    assert not loaded.defaulted_models


def test_project_file_error_names_the_project_file(tmp_path: Path) -> None:
    (tmp_path / ".moot").mkdir()
    bad = tmp_path / ".moot" / "config.toml"
    bad.write_text('[ollama]\nhots = "x"\n')
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert e.value.file == str(bad) and e.value.line == 2 and e.value.key == "ollama.hots"


def test_ollama_host_applies_to_ollama_models(tmp_path: Path, user_config) -> None:
    user_config('[ollama]\nhost = "http://10.0.0.5:11434"\n[[models]]\nname = "q"\nmodel = "ollama/qwen"\n')
    assert load_config(tmp_path).config.model("q").api_base == "http://10.0.0.5:11434"  # type: ignore[union-attr]


def test_missing_key_makes_model_unavailable_not_a_crash(tmp_path: Path, user_config) -> None:
    user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n')
    gpt = load_config(tmp_path).config.model("gpt")
    assert gpt is not None and gpt.key_env == "OPENAI_API_KEY" and gpt.api_key() is None


def test_key_lines_handles_quoted_and_dotted_keys() -> None:
    text = '[strategies."self-moa"]\nsamples = 3\n[a]\nb.c = 1\n'
    lines = key_lines(text)
    assert lines[("strategies", "self-moa", "samples")] == 2
    assert lines[("a", "b", "c")] == 4
    assert locate(text, ("a", "b", "c", 0)) == 4


def test_model_without_model_string_in_any_layer(tmp_path: Path, user_config) -> None:
    path = user_config('[[models]]\nname = "a"\nmodel = "openai/x"\n\n[[models]]\nname = "b"\nmax_tokens = 10\n')
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert (e.value.file, e.value.line, e.value.key) == (str(path), 5, "models[1].model")
    assert "required key is missing" in str(e.value)


def test_role_budgets_agents_and_router_sections(tmp_path: Path, user_config) -> None:
    user_config(
        '[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n\n[[models]]\nname = "qwen"\nmodel = "ollama/qwen"\n'
        '\n[context]\nbudgets = { backend = 6000, planner = 1000 }\ndefault_budget = 3000\n'
        '\n[ensemble]\ncontext_budget = 2500\n'
        '\n[project]\ntest_command = "pytest -q"\n'
        '\n[agents]\nescalation = "gpt"\naccept = "uncommitted"\n'
        '\n[router]\nlocal_max_latency_s = 12\nhosted = { backend = "gpt" }\n'
    )
    config = load_config(tmp_path).config
    assert [config.budget_for(r) for r in ("backend", "planner", "tests", "judge", "proposer")] == [
        6000, 1000, 3000, 0, 2500]
    assert config.project.test_command == "pytest -q"
    assert (config.agents.escalation, config.agents.accept, config.agents.debug_limit) == ("gpt", "uncommitted", 2)
    assert (config.router.local_max_latency_s, config.router.hosted) == (12, {"backend": "gpt"})


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[agents]\nescalation = "nobody"\n', "agents.escalation"),
        ('[router]\nhosted = { backend = "nobody" }\n', "router.hosted.backend"),
        ('[context]\nbudgets = { wizard = 10 }\n', "context.budgets.wizard"),
    ],
)
def test_new_sections_name_the_bad_key(tmp_path: Path, user_config, section: str, key: str) -> None:
    path = user_config('[[models]]\nname = "gpt"\nmodel = "openai/gpt-4o"\n\n' + section)
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert (e.value.file, e.value.line, e.value.key) == (str(path), 6, key)


def test_which_models_are_local_is_said_in_one_place() -> None:
    from moot.core.config.models import ModelConfig
    from moot.core.providers.kinds import BY_NAME

    kinds = {m: ModelConfig(name="x", model=m) for m in ("ollama/qwen", "ollama_chat/qwen", "local/smollm2",
                                                         "openai/gpt-4o", "anthropic/claude-x")}
    assert {m: c.is_local for m, c in kinds.items()} == {
        "ollama/qwen": True, "ollama_chat/qwen": True, "local/smollm2": True,
        "openai/gpt-4o": False, "anthropic/claude-x": False}
    assert all(BY_NAME[c.kind].local == c.is_local for c in kinds.values())
    assert [c.kind for c in kinds.values()] == ["ollama", "ollama", "local", "hosted", "hosted"]
    assert kinds["ollama_chat/qwen"].short_name == "qwen" and kinds["openai/gpt-4o"].short_name == "openai/gpt-4o"
    assert all(c.key_env is None for c in kinds.values() if c.is_local)
