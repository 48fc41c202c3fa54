from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.config.files import dump_yaml, parse_dotenv, parse_file, parse_yaml
from dockyard.errors import ConfigError


def test_flat_yaml_keeps_values_as_written() -> None:
    parsed = parse_yaml('A: 1.10\nB: "x: y"\nC: true\nD: 0800\nE: ""\n', "f.yml")
    assert parsed.problems == []
    assert parsed.values == {"A": "1.10", "B": "x: y", "C": "true", "D": "0800", "E": ""}
    assert parsed.secrets == set()


def test_export_shape_marks_secrets() -> None:
    parsed = parse_yaml("values:\n  A: a\nsecrets:\n  PW: s3\n", "f.yml")
    assert parsed.values == {"A": "a", "PW": "s3"} and parsed.secrets == {"PW"}
    assert parsed.lines == {"A": 2, "PW": 4}


def test_yaml_problems_name_file_and_line() -> None:
    text = "A: 1\nB:\nC: [1, 2]\nA: 2\n9X: y\nD: {x: 1}\n"
    parsed = parse_yaml(text, "conf.yml")
    assert parsed.problems == [
        'conf.yml:2: B: expected one value, got nothing (null) (write "" for an empty string)',
        'conf.yml:3: C: expected one value, got a list (write "" for an empty string)',
        "conf.yml:4: A is set twice (first on line 1)",
        "conf.yml:5: invalid key '9X' (use letters, digits, _ . -)",
        'conf.yml:6: D: expected one value, got a mapping (write "" for an empty string)',
    ]
    with pytest.raises(ConfigError, match="nothing was imported"):
        parsed.raise_problems()


def test_broken_yaml_names_the_line() -> None:
    parsed = parse_yaml("A: 1\nB: [oops\nC: 3\n", "bad.yml")
    assert len(parsed.problems) == 1 and parsed.problems[0].startswith("bad.yml:")
    assert "invalid YAML" in parsed.problems[0]
    assert parse_yaml("- a\n- b\n", "l.yml").problems == ["l.yml:1: expected a mapping of KEY: value"]


def test_dotenv() -> None:
    text = '# comment\n\nexport A=1\nB = two words # note\nC=\'lit # \\n\'\nD="esc\\n\\"q\\""\nE=\nF=a#b\n'
    parsed = parse_dotenv(text, ".env")
    assert parsed.problems == []
    assert parsed.values == {
        "A": "1",
        "B": "two words",
        "C": "lit # \\n",
        "D": 'esc\n"q"',
        "E": "",
        "F": "a#b",
    }
    assert parsed.lines["D"] == 6


def test_dotenv_problems_name_file_and_line() -> None:
    parsed = parse_dotenv("A=1\nnonsense\nB=\"open\nA=2\nC='x' y\n", "prod.env")
    assert parsed.problems == [
        "prod.env:2: expected KEY=VALUE, got 'nonsense'",
        'prod.env:3: B: unterminated " quote (values must fit on one line)',
        "prod.env:4: A is set twice (first on line 1)",
        "prod.env:5: C: unexpected text after the closing quote: 'y'",
    ]


def test_format_by_name(tmp_path: Path) -> None:
    (tmp_path / ".env.staging").write_text("A=1\n")
    assert parse_file(tmp_path / ".env.staging").values == {"A": "1"}
    (tmp_path / "c.txt").write_text("A=1\n")
    with pytest.raises(ConfigError, match="cannot tell the format"):
        parse_file(tmp_path / "c.txt")
    with pytest.raises(ConfigError, match="cannot read"):
        parse_file(tmp_path / "missing.yml")


def test_dump_round_trips_tricky_strings() -> None:
    values = {"N": "8080", "B": "true", "E": "", "M": "a\nb", "S": "x: y", "Z": "null", "F": "1.10"}
    text = dump_yaml(values, {"PW": "p'w\"d"}, header="export of x\nsecond line")
    assert text.startswith("# export of x\n# second line\n")
    parsed = parse_yaml(text, "out.yml")
    assert parsed.problems == []
    assert parsed.values == {**values, "PW": "p'w\"d"} and parsed.secrets == {"PW"}
