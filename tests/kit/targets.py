"""A target that exists only in a test, registered as a new target would be."""

from pathlib import Path


def add_fake_target(monkeypatch, root: Path, name: str = "fake-cloud") -> str:
    """A target package that exists only in this test (`root` on sys.path), registered as
    resource type `name` by one registry line, as a new target would be: its settings module
    declares a `target:` block with one key, `zone`. Returns the package's name."""
    from runners import registry

    package = f"lb_target_{root.name}".replace("-", "_")
    folder = root / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text('"""A target that exists only in a test."""\n')
    (folder / "settings.py").write_text(
        "from pydantic import BaseModel\n\n\n"
        "class FakeTarget(BaseModel):\n"
        "    zone: str | None = None\n"
        '    """The fake cloud\'s zone, e.g. moon-1."""\n\n\n'
        'CONFIG_MODELS = {"target": "FakeTarget"}\n'
    )
    monkeypatch.syspath_prepend(str(root))
    entry = registry.ResourceType(
        name=name, module=f"{package}.runner", class_name="FakeRunner", description="a test"
    )
    monkeypatch.setattr(registry, "RESOURCE_TYPES", (*registry.RESOURCE_TYPES, entry))
    return package
