"""The README starts with the two commands and shows the shipped examples verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == [
        "./scripts/setup.sh && .venv/bin/talos-platform --simulate",
        "./scripts/test.sh",
    ]
    assert README.index("```sh") < README.index("\n## ")


def test_ci_runs_the_readme_test_command():
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_readme_shows_both_examples_verbatim():
    for example in ("metal-3cp-3w.yaml", "docker-single.yaml"):
        text = (ROOT / "examples" / example).read_text()
        assert f"```yaml\n{text}```" in README, example


def test_readme_pictures_exist():
    for line in README.splitlines():
        if line.startswith("![") and "(" in line:
            assert (ROOT / line.split("(", 1)[1].rstrip(")")).exists(), line
