"""Print the pinned dependencies of pyproject.toml, one a line, for `pip install -r`.

    python docker/requirements.py pyproject.toml [EXTRA ...]

The images install the dependencies alone, in a layer that changes only with pyproject.toml,
and run Agora from its source tree (where templates/ and static/ sit beside the code), so
the project itself is never installed. Extras are added by name: `gpu` for the vLLM worker.
"""

import sys
import tomllib


def requirements(pyproject: str, extras: list[str]) -> list[str]:
    with open(pyproject, "rb") as f:
        project = tomllib.load(f)["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(f"no such extra in {pyproject}: {', '.join(unknown)}")
    lines = list(project["dependencies"])
    for extra in extras:
        lines.extend(optional[extra])
    return lines


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print("\n".join(requirements(sys.argv[1], sys.argv[2:])))
