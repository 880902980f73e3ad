"""The original stonks' public surface: its start_run parameters, run updates, module layout."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import query

import stonks


def _run_rows(path: str) -> list:
    return query(
        path,
        "SELECT r.id, e.name, r.name, r.tags, r.notes FROM runs r JOIN experiments e ON e.id = r.experiment_id "
        "ORDER BY r.seq",
    )


def test_save_dir_and_name_are_db_and_run_name_without_a_warning(db_path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with stonks.start_run("exp", save_dir=db_path, name="first") as run:
            run.log({"loss": 1.0})
        with stonks.start_run("exp", db=db_path, run_name="second") as run:
            run.log({"loss": 1.0})
    assert [row[2] for row in _run_rows(db_path)] == ["first", "second"]


def test_the_two_names_of_one_parameter_must_agree(db_path: str) -> None:
    with pytest.raises(stonks.StonksError, match="pass one of them"):
        stonks.start_run("exp", db=db_path, save_dir=db_path + ".other")
    with pytest.raises(stonks.StonksError, match="pass one of them"):
        stonks.start_run("exp", db=db_path, run_name="a", name="b")
    # The same value under both names is no conflict.
    with stonks.start_run("exp", db=db_path, save_dir=db_path, run_name="a", name="a") as run:
        assert run.name == "a"


def test_experiment_defaults_to_default(db_path: str) -> None:
    with stonks.start_run(save_dir=db_path) as run:
        run.log({"loss": 1.0})
    assert _run_rows(db_path)[0][1] == "default"


def test_id_names_a_new_run(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, id="my-run-1") as run:
        run.log({"loss": 1.0})
        assert run.id == "my-run-1"
    assert _run_rows(db_path)[0][0] == "my-run-1"


def test_an_id_that_exists_without_resume_is_refused(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, id="taken"):
        pass
    with pytest.raises(stonks.RunError, match="already exists"):
        stonks.start_run("exp", db=db_path, id="taken", strict=True).start()
    assert len(_run_rows(db_path)) == 1


def test_resume_true_with_id_continues_that_run_in_any_experiment(db_path: str) -> None:
    with stonks.start_run("exp-a", db=db_path, id="r1", name="kept") as run:
        run.log({"loss": 1.0})
        run.log({"loss": 0.5})
    with stonks.start_run("exp-b", db=db_path, id="r1", resume=True) as run:
        assert run.id == "r1"
        assert run.name == "kept"
        run.log({"loss": 0.25})
    assert _run_rows(db_path) == [("r1", "exp-a", "kept", "[]", None)]
    with stonks.open(db_path) as db:
        assert db.get_metrics("r1", "loss").steps == [0, 1, 2]
        assert [e.name for e in db.list_experiments()] == ["exp-a"]


def test_resume_true_with_an_unknown_id_starts_a_run_with_that_id(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, id="fresh", resume=True) as run:
        run.log({"loss": 1.0})
    assert _run_rows(db_path)[0][0] == "fresh"


def test_resume_true_without_id_continues_the_latest_run_of_the_experiment(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path):
        pass
    with stonks.start_run("exp", db=db_path) as latest:
        latest.log({"loss": 1.0})
    with stonks.start_run("other", db=db_path):
        pass
    with stonks.start_run("exp", db=db_path, resume=True) as run:
        assert run.id == latest.id
    assert len(_run_rows(db_path)) == 3


def test_resume_true_in_an_empty_experiment_starts_a_run(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, resume=True) as run:
        run.log({"loss": 1.0})
    assert len(_run_rows(db_path)) == 1


@pytest.mark.parametrize("strict", [False, True])
def test_resume_must_raises_not_found_for_a_missing_run(db_path: str, strict: bool) -> None:
    with pytest.raises(stonks.StonksError, match="not found") as raised:
        stonks.start_run("exp", db=db_path, id="nope", resume="must", strict=strict).start()
    assert isinstance(raised.value, stonks.RunError)
    with (
        pytest.raises(stonks.StonksError, match="not found"),
        stonks.start_run("exp", db=db_path, resume="must", strict=strict),
    ):
        pass
    assert _run_rows(db_path) == []


def test_resume_must_continues_an_existing_run(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, id="r1") as run:
        run.log({"loss": 1.0})
    with stonks.start_run("exp", db=db_path, id="r1", resume="must") as run:
        run.log({"loss": 2.0})
    with stonks.start_run("exp", db=db_path, resume="must") as run:
        assert run.id == "r1"
    with stonks.open(db_path) as db:
        assert db.get_metrics("r1", "loss").values == [1.0, 2.0]


def test_project_is_created_once_and_linked_when_the_experiment_is_created(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, project="vision") as run:
        assert run.project == "vision"
    with stonks.start_run("exp2", db=db_path, project="vision"):
        pass
    # An existing experiment keeps its project (here: none).
    with stonks.start_run("plain", db=db_path):
        pass
    with stonks.start_run("plain", db=db_path, project="vision") as run:
        assert run.project is None
    assert query(db_path, "SELECT name FROM projects") == [("vision",)]
    linked = query(
        db_path,
        "SELECT e.name, p.name FROM experiments e LEFT JOIN projects p ON p.id = e.project_id ORDER BY e.name",
    )
    assert linked == [("exp", "vision"), ("exp2", "vision"), ("plain", None)]


def test_prefix_is_prepended_to_every_key(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, prefix="train") as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1), "acc": 0.5}, step=step)
        run.log({"lr": 0.1})
    with stonks.open(db_path) as db:
        assert sorted(db.get_metric_keys(run.id)) == ["train/acc", "train/loss", "train/lr"]
        assert db.get_metrics(run.id, "train/loss").steps == [0, 1, 2]


def test_prefix_counts_towards_the_key_length_limit(db_path: str) -> None:
    key = "k" * (stonks.MAX_KEY_LENGTH - 3)
    with (
        stonks.start_run("exp", db=db_path, prefix="abcd", strict=True) as run,
        pytest.raises(stonks.InvalidMetricError, match="characters long"),
    ):
        run.log({key: 1.0})


def test_set_tags_and_set_notes_are_stored_at_once_with_a_new_revision(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, tags=["a"], notes="first") as run:
        revision = query(db_path, "SELECT revision FROM runs")[0][0]
        run.set_tags(["b", "c"])
        assert query(db_path, "SELECT tags FROM runs") == [('["b","c"]',)]
        run.set_notes("second")
        assert query(db_path, "SELECT notes FROM runs") == [("second",)]
        assert query(db_path, "SELECT revision FROM runs")[0][0] > revision
        assert run.tags == ["b", "c"]
        assert run.notes == "second"
        run.set_notes(None)
        assert query(db_path, "SELECT notes FROM runs") == [(None,)]


def test_set_tags_before_start_is_stored_by_start(db_path: str) -> None:
    run = stonks.start_run("exp", db=db_path)
    run.set_tags(["early"])
    run.set_notes("early notes")
    with run:
        pass
    assert _run_rows(db_path)[0][3:] == ('["early"]', "early notes")


def test_set_tags_with_bad_tags_warns_or_raises(db_path: str, caplog: pytest.LogCaptureFixture) -> None:
    with stonks.start_run("exp", db=db_path, tags=["kept"]) as run:
        run.set_tags("not-a-list")  # type: ignore[arg-type]
        assert run.tags == ["kept"]
    assert "set_tags() takes a list" in caplog.text
    with (
        stonks.start_run("exp", db=db_path, strict=True) as run,
        pytest.raises(stonks.InvalidMetricError, match="set_tags"),
    ):
        run.set_tags([1])  # type: ignore[list-item]


def test_run_properties_are_read_only(db_path: str) -> None:
    with stonks.start_run(
        "exp",
        db=db_path,
        name="n",
        project="p",
        group="g",
        job_type="train",
        tags=["t"],
        notes="x",
        config={"lr": 0.1},
    ) as run:
        values = {
            "name": "n",
            "project": "p",
            "group": "g",
            "job_type": "train",
            "tags": ["t"],
            "notes": "x",
            "config": {"lr": 0.1},
        }
        for attribute, expected in values.items():
            assert getattr(run, attribute) == expected
        assert run.experiment_id == query(db_path, "SELECT id FROM experiments")[0][0]
        assert run.id == query(db_path, "SELECT id FROM runs")[0][0]
        for attribute in [*values, "id", "experiment_id"]:
            with pytest.raises(AttributeError):
                setattr(run, attribute, None)


def test_exceptions_module_has_the_original_names() -> None:
    from stonks.exceptions import (
        DatabaseError,
        InvalidMetricError,
        RunError,
        StonksError,
    )

    assert issubclass(DatabaseError, StonksError)
    assert issubclass(RunError, StonksError)
    assert issubclass(InvalidMetricError, StonksError)
    assert issubclass(stonks.SchemaVersionError, DatabaseError)
    assert issubclass(stonks.NotAStonksFileError, DatabaseError)
    assert issubclass(stonks.WriteError, DatabaseError)
    assert issubclass(stonks.RunNotFoundError, RunError)
    assert stonks.exceptions.StonksError is stonks.StonksError


def test_a_file_that_is_not_a_database_is_a_database_error(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_bytes(b"not sqlite at all" * 200)
    with pytest.raises(stonks.exceptions.DatabaseError):
        stonks.open(str(path))


def test_data_classes_take_the_original_arguments() -> None:
    from stonks import Experiment, MetricPoint, MetricSeries, Project, RunInfo

    experiment = Experiment("e1", "exp", 1.5, "about", {"k": 1}, "p1")
    assert (experiment.created_at, experiment.description, experiment.project_id) == (1.5, "about", "p1")
    run = RunInfo(
        "r1",
        "e1",
        "completed",
        2.0,
        "name",
        {"lr": 1},
        3.0,
        3.0,
        "g",
        "train",
        ["t"],
        "notes",
        "pre",
    )
    assert (run.status, run.created_at, run.name, run.ended_at, run.tags, run.prefix) == (
        "completed",
        2.0,
        "name",
        3.0,
        ["t"],
        "pre",
    )
    assert RunInfo(id="r", experiment_id="e", status="running", created_at=0.0).config == {}
    assert MetricSeries("loss").steps == []
    assert MetricSeries("loss", [0, 1], [1.0, 0.5], [0.0, 1.0]).values == [1.0, 0.5]
    assert MetricPoint("loss", 0.5, 3, 10.0).step == 3
    assert Project("p1", "vision", 1.0).name == "vision"
    from stonks.models import Experiment as ModelsExperiment

    assert ModelsExperiment is Experiment


def test_read_results_are_the_exported_classes(db_path: str) -> None:
    with stonks.start_run("exp", db=db_path, project="p") as run:
        run.log({"loss": 1.0})
    with stonks.open(db_path) as db:
        experiment = db.list_experiments()[0]
        assert isinstance(experiment, stonks.Experiment)
        assert experiment.project_id == query(db_path, "SELECT id FROM projects")[0][0]
        assert experiment.run_count == 1
        assert isinstance(db.get_run(run.id), stonks.RunInfo)
        assert isinstance(db.get_metrics(run.id, "loss"), stonks.MetricSeries)
