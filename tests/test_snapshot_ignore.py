"""Code snapshots honour `.gitignore` and `.launchbayignore` (git's rules, through pathspec);
`job create code` says what went in, warns when it is big, and shows progress when asked."""

import json
import tarfile

from runners.catalog.snapshots import pack_directory

CHECKPOINT_BYTES = 60 * 1024 * 1024


def _tree(root, files: dict[str, str]):
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def _members(store, snapshot) -> list[str]:
    archive = store.artifacts.path_for(snapshot.source["artifact"])
    with tarfile.open(archive, "r:gz") as tar:
        return sorted(m.name for m in tar.getmembers() if not m.isdir())


def test_a_60_mb_checkpoint_folder_in_gitignore_stays_out(cli, store, tmp_path):
    src = _tree(tmp_path / "src", {"main.py": "print(1)\n", ".gitignore": "checkpoints/\n"})
    (src / "checkpoints").mkdir()
    with (src / "checkpoints" / "model.pt").open("wb") as sparse:  # 60 MB, written in no time
        sparse.truncate(CHECKPOINT_BYTES)

    result = cli("job", "create", "code", "train", str(src), "--json")
    assert result.code == 0, result.err
    created = json.loads(result.out)
    assert created["snapshot"] == {"files": 2, "size": 9 + 13, "ignored": 1}
    assert "snapshot: 2 files, 22 B; 1 path(s) ignored" in result.err
    assert "warning" not in result.err
    assert created["source"]["files"] == 2


def test_nested_ignore_files_and_negation_follow_git(store, tmp_path):
    src = _tree(
        tmp_path / "src",
        {
            "main.py": "",
            "run.log": "",
            "keep.log": "",
            ".gitignore": "*.log\ndata/\n",
            ".launchbayignore": "!keep.log\nnotes.md\n",
            "notes.md": "",
            "data/big.bin": "",
            "pkg/mod.py": "",
            "pkg/out.tmp": "",
            "pkg/.gitignore": "*.tmp\n!debug.log\n",
            "pkg/debug.log": "",
            "pkg/trace.log": "",
        },
    )
    snapshot = pack_directory(src, store.artifacts)
    assert _members(store, snapshot) == [
        ".gitignore",
        ".launchbayignore",
        "keep.log",
        "main.py",
        "pkg/.gitignore",
        "pkg/debug.log",
        "pkg/mod.py",
    ]
    # run.log, notes.md, data/, pkg/out.tmp, pkg/trace.log
    assert snapshot.ignored == 5


def test_a_big_snapshot_warns_and_the_limit_is_configurable(cli, config_dir, tmp_path):
    src = _tree(tmp_path / "src", {"main.py": "x" * (2 * 1024 * 1024)})
    (config_dir / "config.yaml").write_text("snapshot_warn_mb: 1\n")
    result = cli("job", "create", "code", "train", str(src), "--progress")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1] == "snapshot: 1 files, 2.0 MiB"
    assert "warning: the snapshot is 2.0 MiB, over 1.0 MiB" in result.err
    assert "\rpacking: 1 files, 2.0 MiB" in result.err  # --progress: shown though no terminal

    quiet = cli("job", "create", "code", "eval", str(src))
    assert "packing:" not in quiet.err  # no terminal, no --progress: no progress line
