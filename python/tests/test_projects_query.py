"""The read side of projects: stonks.open(...).list_projects() and list_experiments(project_id=...)."""

from __future__ import annotations

import sqlite3

import stonks


def make_experiments(path: str, names: list) -> None:
    for name in names:
        with stonks.start_run(name, db=path) as run:
            run.log({"loss": 1.0}, step=0)


def link(path: str, project_id: str, project_name: str, experiment_names: list) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO projects (id, name, created_at) VALUES (?, ?, 1700000000.0)", (project_id, project_name)
        )
        for name in experiment_names:
            conn.execute("UPDATE experiments SET project_id = ? WHERE name = ?", (project_id, name))


def test_projects_are_listed_by_name_with_their_experiment_counts(db_path: str) -> None:
    make_experiments(db_path, ["a", "b", "c"])
    link(db_path, "p-vision", "vision", ["a", "b"])
    link(db_path, "p-audio", "audio", [])
    with stonks.open(db_path) as db:
        projects = db.list_projects()
    assert [(p.id, p.name, p.created_at, p.experiment_count) for p in projects] == [
        ("p-audio", "audio", 1700000000.0, 0),
        ("p-vision", "vision", 1700000000.0, 2),
    ]


def test_experiments_are_filtered_by_project_and_carry_their_project_id(db_path: str) -> None:
    make_experiments(db_path, ["a", "b", "c"])
    link(db_path, "p-vision", "vision", ["a", "c"])
    with stonks.open(db_path) as db:
        everything = db.list_experiments()
        vision = db.list_experiments(project_id="p-vision")
        none = db.list_experiments(project_id="no-such-project")
        single = db.get_experiment("b")
    assert [(e.name, e.project_id) for e in everything] == [("a", "p-vision"), ("b", None), ("c", "p-vision")]
    assert [e.name for e in vision] == ["a", "c"]
    assert none == []
    assert single.project_id is None


def test_a_database_without_projects_lists_none(db_path: str) -> None:
    make_experiments(db_path, ["a"])
    with stonks.open(db_path) as db:
        assert db.list_projects() == []
