"""The run's files in the app (`f` on a run): a tree with sizes, a text file previewed, a
binary one said to be binary; tags and a note edited from the run's detail."""

from helpers_tui import notified, screen_text, settle, show_file
from kit import claimed_run

from tui.screens.run_files import RunFilesScreen

SIZE = (120, 36)


async def _detail(app, pilot, run_id: str):
    app.goto(f":r {run_id}")
    await settle(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen", "the run")
    await settle(pilot, lambda: app.screen.run is not None, "the run read")
    return app.screen


async def test_files_show_as_a_tree_and_a_text_file_is_previewed(store, tmp_path, make_app):
    run_id = claimed_run(store, tmp_path, "k3x9mf2a")
    work = store.run_dir(run_id) / "work" / "outputs"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text("best epoch: 7\n")
    (work / "model.bin").write_bytes(b"\0\1\2" * 1000)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _detail(app, pilot, run_id)
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(app.screen, RunFilesScreen), "the files")
        screen = app.screen
        await settle(pilot, lambda: screen.shown is not None, "the files read")
        await show_file(pilot, "work/outputs/notes.txt")
        await settle(pilot, lambda: "best epoch: 7" in screen_text(app), "the preview")
        assert "2.9 KiB" in screen_text(app)  # model.bin's size, in the tree
        await show_file(pilot, "work/outputs/model.bin")
        await settle(pilot, lambda: "binary file" in screen_text(app), "binary said")


async def test_tags_and_note_are_edited_in_the_run_detail(store, tmp_path, make_app):
    run_id = claimed_run(store, tmp_path, "k3x9mf2a")
    store.runs.tag(run_id, add=["old"])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _detail(app, pilot, run_id)
        await pilot.press("t")
        await settle(pilot, lambda: type(app.screen).__name__ == "PromptScreen", "the prompt")
        box = app.screen.query_one("#prompt-input")
        assert box.value == "old"
        box.value = "best sweep-3"
        await pilot.press("enter")
        await settle(pilot, lambda: store.runs.get(run_id).tags == ("best", "sweep-3"), "saved")
        await settle(pilot, lambda: "best sweep-3" in screen_text(app), "shown")

        await pilot.press("n")
        await settle(pilot, lambda: type(app.screen).__name__ == "PromptScreen", "the prompt")
        app.screen.query_one("#prompt-input").value = "lr too high"
        await pilot.press("enter")
        await settle(pilot, lambda: "lr too high" in screen_text(app), "the note shown")
        assert store.runs.get(run_id).note == "lr too high"

        await pilot.press("t")  # a tag too long: said, and nothing changes
        await settle(pilot, lambda: type(app.screen).__name__ == "PromptScreen", "the prompt")
        app.screen.query_one("#prompt-input").value = "best " + "x" * 65
        await pilot.press("enter")
        await settle(pilot, lambda: any("1 to 64" in m for m in notified(app)), "refused")
        assert store.runs.get(run_id).tags == ("best", "sweep-3")


def _sagemaker_run(store, db_path, aws) -> tuple[str, str]:
    """A finished SageMaker run (moto) and its output prefix in S3."""
    from kit import launch, run_agent_until_empty, run_of
    from kit.aws import sagemaker_queue
    from test_sagemaker_checks import training_job

    from runners.targets.sagemaker.request import training_job_name

    aws.hold = False
    sagemaker_queue(store, aws)
    training_job(store)
    item = launch(store, "train", "sm")
    output = run_agent_until_empty(db_path, "sm")
    run = run_of(store, item)
    assert run.state.value == "finished", output
    return run.id, f"runs/{training_job_name('train', run.id)}/"


async def test_a_sagemaker_runs_s3_output_shows_as_a_tree(store, db_path, aws, make_app):
    from kit.aws import BUCKET

    run_id, prefix = _sagemaker_run(store, db_path, aws)
    s3 = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key=prefix + "output/model.tar.gz", Body=b"\0" * 3000)
    s3.put_object(Bucket=BUCKET, Key=prefix + "output/eval.txt", Body=b"accuracy 0.93\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _detail(app, pilot, run_id)
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(app.screen, RunFilesScreen), "the files")
        screen = app.screen
        await settle(pilot, lambda: screen.shown is not None, "the files read")
        assert f"s3://lb-out/{prefix}" in screen_text(app)
        await show_file(pilot, "output/eval.txt")
        await settle(pilot, lambda: "accuracy 0.93" in screen_text(app), "the preview")
        assert "2.9 KiB" in screen_text(app)  # model.tar.gz's size, in the tree
        await show_file(pilot, "output/model.tar.gz")
        await settle(pilot, lambda: "binary file" in screen_text(app), "binary said")

        s3.delete_object(Bucket=BUCKET, Key=prefix + "output/model.tar.gz")
        s3.delete_object(Bucket=BUCKET, Key=prefix + "output/eval.txt")
        s3.delete_object(Bucket=BUCKET, Key=f"runs/launchbay/{run_id}/config.json")
        s3.delete_bucket(Bucket=BUCKET)
        await pilot.press("r")  # the bucket is gone: one line, and the screen stays
        line = f"could not read the run's files: could not list s3://lb-out/{prefix}: NoSuchBucket"
        await settle(pilot, lambda: line in screen_text(app).replace("\n", ""), "the failure")
        assert isinstance(app.screen, RunFilesScreen)
